/**
 * The setup screen's device check: the microphone (and, for video interviews, the camera)
 * with a level meter, before the interview starts.
 * @module device-check
 */

export class DeviceCheck {
  /**
   * @param {{button: HTMLButtonElement, status: HTMLElement, level: HTMLMeterElement, preview: HTMLVideoElement}} parts
   */
  constructor({ button, status, level, preview }) {
    this.button = button;
    this.status = status;
    this.level = level;
    this.preview = preview;
    /** @type {MediaStream | null} */
    this.stream = null;
  }

  /** Release the microphone and camera (the interview captures them itself). */
  stop() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }

  /**
   * Ask for the microphone (and the camera) and show a level meter.
   * @param {boolean} video
   */
  async run(video) {
    this.button.disabled = true;
    this.status.textContent = "Asking for permission…";
    try {
      this.stop();
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
      if (video) {
        this.preview.srcObject = this.stream;
        this.preview.hidden = false;
        await this.preview.play().catch(() => {});
      }
      this.meter(this.stream);
      this.status.textContent = video
        ? "Microphone and camera are working."
        : "Microphone is working. Speak to see the level move.";
    } catch (error) {
      const denied = error?.name === "NotAllowedError";
      this.status.textContent = denied
        ? "Permission was denied. Allow the microphone in your browser's site settings, then try again."
        : "No microphone was found. You can still answer by typing.";
    } finally {
      this.button.disabled = false;
    }
  }

  /** @param {MediaStream} stream */
  meter(stream) {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (this.stream !== stream) {
        context.close();
        return;
      }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) sum += value * value;
      this.level.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      requestAnimationFrame(tick);
    };
    tick();
  }
}
