/**
 * The interviewer's voice on the candidate page: the server's audio track, the
 * question text revealed as it is spoken, "Repeat the question", and the
 * browser's own speechSynthesis when the server cannot speak (no voice in this
 * deployment, no live audio, offline mode). A text interview stays silent.
 * @module voice
 */

/**
 * @typedef {Object} SpokenQuestion
 * @property {string} id
 * @property {string} text
 */

export class PageVoice {
  /**
   * @param {{audio: HTMLAudioElement, text: HTMLElement, status: HTMLElement, statusText: HTMLElement,
   *   repeat: HTMLButtonElement, client: import("./interview-client.js").InterviewClient}} parts
   */
  constructor({ audio, text, status, statusText, repeat, client }) {
    this.audio = audio;
    this.text = text;
    this.status = status;
    this.statusText = statusText;
    this.repeatButton = repeat;
    this.client = client;
    this.mode = "voice";
    /** @type {SpokenQuestion | null} */
    this.question = null;
    /** Question ids the browser itself has spoken (at most once each, unless repeated). */
    this.spokenLocally = new Set();
    this.revealTimer = 0;
    this.liveMedia = "idle";
    this.serverSpeaks = false;
    repeat.addEventListener("click", () => this.repeat());
  }

  /** @param {string} mode voice | video | text */
  setMode(mode) {
    this.mode = mode;
    this.repeatButton.hidden = mode === "text";
  }

  /** @param {MediaStream} stream the interviewer's audio from the server */
  attach(stream) {
    this.audio.srcObject = stream;
    this.audio.play().catch(() => {});
  }

  /** @param {{voice: string | null}} capabilities from the server's `welcome` */
  setCapabilities(capabilities) {
    this.serverSpeaks = Boolean(capabilities?.voice);
  }

  /** @param {string} state the live media state (see media.js) */
  setMedia(state) {
    this.liveMedia = state;
    if ((state === "unavailable" || state === "failed") && this.question) this.speakLocally(this.question);
  }

  /**
   * A question is shown: render its words, and speak it here when the server will not.
   * @param {SpokenQuestion} question
   * @param {boolean} offline
   */
  show(question, offline) {
    const changed = this.question?.id !== question.id;
    this.question = question;
    if (changed) {
      this.renderWords(question.text, 0);
      this.setStatus("");
    }
    if (this.mode === "text") {
      this.finishReveal(); // nothing is spoken: every word reads as plain text
      return;
    }
    const serverWillSpeak = !offline && this.serverSpeaks && !["unavailable", "failed"].includes(this.liveMedia);
    if (!serverWillSpeak) this.speakLocally(question);
  }

  /** @param {{questionId: string, state: string, durationMs?: number}} detail a `question.audio` message */
  serverAudio({ questionId, state, durationMs }) {
    if (!this.question || questionId !== this.question.id) return;
    if (state === "playing") {
      this.setStatus("The interviewer is asking the question…");
      this.reveal(durationMs || 0);
    } else if (state === "unavailable") {
      this.speakLocally(this.question);
    } else {
      this.finishReveal();
      this.setStatus(state === "stopped" ? "Go ahead: the interviewer is listening." : "");
    }
  }

  repeat() {
    if (!this.question || this.mode === "text") return;
    if (!this.client.repeatQuestion()) {
      this.spokenLocally.delete(this.question.id);
      this.speakLocally(this.question);
    }
  }

  /** @param {SpokenQuestion} question */
  speakLocally(question) {
    if (this.mode === "text" || this.spokenLocally.has(question.id)) return;
    if (typeof speechSynthesis === "undefined" || typeof SpeechSynthesisUtterance === "undefined") return;
    this.spokenLocally.add(question.id);
    speechSynthesis.cancel();
    const utterance = new SpeechSynthesisUtterance(question.text);
    utterance.onstart = () => this.setStatus("The question is read aloud…");
    utterance.onend = () => {
      this.finishReveal();
      this.setStatus("");
    };
    speechSynthesis.speak(utterance);
  }

  stop() {
    if (typeof speechSynthesis !== "undefined") speechSynthesis.cancel();
    clearInterval(this.revealTimer);
    this.audio.srcObject = null;
  }

  // ----- the text as it is spoken ---------------------------------------------------

  /**
   * @param {string} text
   * @param {number} spoken how many words are already spoken
   */
  renderWords(text, spoken) {
    clearInterval(this.revealTimer);
    const words = text.split(/\s+/).filter(Boolean);
    this.text.replaceChildren(
      ...words.map((word, index) => {
        const span = document.createElement("span");
        span.className = index < spoken ? "word spoken" : "word";
        span.textContent = index < words.length - 1 ? `${word} ` : word;
        return span;
      }),
    );
    this.text.dataset.spoken = String(spoken >= words.length);
  }

  /**
   * Mark words as spoken over `durationMs`, each in proportion to its length (an estimate: the
   * voice sends no word timings). Every word is visible from the start, for readers and screen readers.
   * @param {number} durationMs
   */
  reveal(durationMs) {
    const spans = [...this.text.querySelectorAll(".word")];
    const total = spans.reduce((sum, span) => sum + (span.textContent || "").length, 0) || 1;
    const started = performance.now();
    clearInterval(this.revealTimer);
    this.text.dataset.spoken = "false";
    this.revealTimer = window.setInterval(() => {
      const share = Math.min(1, (performance.now() - started) / Math.max(1, durationMs));
      let reached = 0;
      for (const span of spans) {
        reached += (span.textContent || "").length;
        span.classList.toggle("spoken", reached / total <= share + 1e-9);
      }
      if (share >= 1) this.finishReveal();
    }, 80);
  }

  finishReveal() {
    clearInterval(this.revealTimer);
    for (const span of this.text.querySelectorAll(".word")) span.classList.add("spoken");
    this.text.dataset.spoken = "true";
  }

  /** @param {string} text */
  setStatus(text) {
    this.statusText.textContent = text;
    this.status.hidden = this.mode === "text";
    this.status.dataset.active = String(Boolean(text));
  }
}
