/**
 * Records the microphone into IndexedDB while the interview runs offline.
 *
 * Chunks are written as they come (every second), so a crash or a reload
 * loses at most the last chunk. Each recorder run is one segment; a reload
 * starts a new one, and the segments are uploaded back to back in one body.
 * @module local-recorder
 */

// Short chunks: a reload or a crash loses at most about a second of audio.
const CHUNK_MS = 1000;
const TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

/**
 * @typedef {import("./offline-store.js").OfflineStore} OfflineStore
 */

export class LocalRecorder {
  /**
   * @param {OfflineStore} store
   * @param {string} applicationId
   */
  constructor(store, applicationId) {
    this.store = store;
    this.applicationId = applicationId;
    /** @type {MediaRecorder | null} */
    this.recorder = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {Promise<void>} writes in order, awaited by stop() */
    this.writes = Promise.resolve();
    this.segment = "";
  }

  /** @returns {boolean} whether this browser can record locally */
  static supported() {
    return typeof MediaRecorder !== "undefined" && Boolean(navigator.mediaDevices?.getUserMedia);
  }

  /** @returns {boolean} */
  get recording() {
    return this.recorder !== null && this.recorder.state !== "inactive";
  }

  /**
   * Start a new segment from the microphone; resolves false when recording is impossible.
   * @returns {Promise<boolean>}
   */
  async start() {
    if (this.recording || !LocalRecorder.supported()) return this.recording;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return false;
    }
    const mimeType = TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
    const recorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.segment = `${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
    const segment = this.segment;
    recorder.ondataavailable = (event) => {
      if (!event.data || event.data.size === 0) return;
      const type = recorder.mimeType || mimeType || "audio/webm";
      this.writes = this.writes.then(() =>
        this.store.addRecordingChunk(this.applicationId, event.data, { segment, type }).catch(() => {}),
      );
    };
    recorder.start(CHUNK_MS);
    this.recorder = recorder;
    return true;
  }

  /** Stop recording and wait until the last chunk is stored. */
  async stop() {
    const recorder = this.recorder;
    this.recorder = null;
    if (recorder && recorder.state !== "inactive") {
      const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve, { once: true }));
      recorder.stop();
      await stopped;
    }
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    await this.writes;
  }
}
