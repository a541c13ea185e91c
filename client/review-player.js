/**
 * The recording player, synced with the transcript: selecting a line seeks the audio to
 * the line's start (its `startMs`, measured from the start of the recorded audio), and
 * the line being played is highlighted. The audio is fetched through a short-lived
 * signed link (`POST .../recording-link`), so no reviewer token ever sits in a URL; an
 * expired link is renewed when the element fails to load more of it.
 * @module review-player
 */

import { api } from "./review-api.js";

/** @typedef {{element: HTMLElement, startMs: number, endMs: number}} Line */

export class RecordingPlayer {
  /** @param {HTMLAudioElement} audio @param {HTMLElement} status */
  constructor(audio, status) {
    this.audio = audio;
    this.status = status;
    this.sessionId = null;
    /** @type {Line[]} */
    this.lines = [];
    this.current = null;
    this.renewals = 0;
    audio.addEventListener("timeupdate", () => this.highlight());
    audio.addEventListener("seeked", () => this.highlight());
    audio.addEventListener("error", () => this.renew());
    audio.addEventListener("loadedmetadata", () => {
      this.status.textContent = `Recording, ${Math.round(audio.duration)} s.`;
    });
  }

  /** @param {string} sessionId @returns {Promise<boolean>} whether the session has a recording */
  async load(sessionId) {
    this.sessionId = sessionId;
    this.renewals = 0;
    this.lines = [];
    this.audio.removeAttribute("src");
    this.audio.load();
    this.audio.hidden = true;
    this.status.textContent = "Loading…";
    const link = await this.link();
    if (!link) return false;
    this.audio.src = link;
    this.audio.hidden = false;
    return true;
  }

  /** @returns {Promise<string | null>} a fresh signed URL of the session's recording */
  async link() {
    const sessionId = this.sessionId;
    const result = await api(`/api/interview/sessions/${sessionId}/recording-link`, { method: "POST" });
    if (sessionId !== this.sessionId) return null; // another session was opened meanwhile
    if (!result.ok) {
      this.status.textContent = result.status === 404 ? "This session has no recording." : "The recording could not be loaded.";
      return null;
    }
    return result.body.url;
  }

  /** The link expired (or the network failed): ask for a new one and carry on where playback was. */
  async renew() {
    if (!this.sessionId || !this.audio.getAttribute("src") || this.renewals >= 3) return;
    this.renewals += 1;
    const position = this.audio.currentTime;
    const playing = !this.audio.paused;
    const link = await this.link();
    if (!link) return;
    this.audio.src = link;
    this.audio.currentTime = position;
    if (playing) this.audio.play().catch(() => {});
  }

  /** @param {Line[]} lines transcript lines with their times, in order */
  setLines(lines) {
    this.lines = lines;
    for (const line of lines) {
      line.element.addEventListener("click", () => this.seek(line.startMs));
    }
  }

  /** @param {number} ms */
  seek(ms) {
    if (!this.audio.getAttribute("src")) return;
    this.audio.currentTime = ms / 1000;
    this.audio.play().catch(() => {});
  }

  highlight() {
    const ms = this.audio.currentTime * 1000;
    let found = null;
    for (const line of this.lines) {
      if (line.startMs <= ms && ms < Math.max(line.endMs, line.startMs + 1)) found = line;
    }
    if (found === this.current) return;
    this.current?.element.classList.remove("playing");
    this.current?.element.removeAttribute("aria-current");
    this.current = found;
    found?.element.classList.add("playing");
    found?.element.setAttribute("aria-current", "true");
  }
}
