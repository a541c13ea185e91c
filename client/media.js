/**
 * Live media: the candidate's microphone (and camera, in video interviews) sent to
 * the server over WebRTC, negotiated on the interview WebSocket.
 *
 * Signalling: `webrtc.offer` for the first negotiation, `webrtc.restart` for every
 * later one, trickled `webrtc.ice` candidates, and the server's `webrtc.answer`
 * (which already holds every server candidate: the server never trickles). The
 * server cannot restart ICE in place, so every renegotiation (ICE failure, a
 * network change, a new WebSocket) uses a fresh RTCPeerConnection.
 *
 * Nothing here may stop the interview: failures are reported as `state` events,
 * retried with backoff a few times, and otherwise left alone (the WebSocket flow
 * and typed answers go on).
 *
 * The microphone goes out on a send-and-receive transceiver: the server answers it
 * with the interviewer's voice (text-to-speech of each question) on the same m-line.
 *
 * Events: `state` with `{state, reason}`; states are idle, connecting, connected,
 * reconnecting, waiting (for the channel), failed (gave up until the next channel),
 * unavailable (no microphone) and closed. `remote` with `{stream}` when the
 * interviewer's audio track arrives; `local` with `{stream}` once the microphone
 * (and camera) are open, for the self-view.
 * @module media
 */

import { backoff } from "./backoff.js";

const ANSWER_TIMEOUT_MS = 20_000;
// From the answer to "connected"; some failures (no usable candidate pair) never report "failed".
const CONNECT_TIMEOUT_MS = 30_000;
// Browsers report "disconnected" for short network hiccups that heal by themselves.
const DISCONNECTED_GRACE_MS = 5_000;
const MAX_ATTEMPTS = 4;
const MAX_SDP_CHARS = 32 * 1024;
// Server error codes that answer an offer (instead of a `webrtc.answer`).
const OFFER_ERRORS = new Set(["WEBRTC_ERROR", "SESSION_NOT_ACTIVE", "SESSION_ALREADY_COMPLETED", "VALIDATION_ERROR"]);

/**
 * @typedef {Object} LiveMediaOptions
 * @property {(message: Object) => boolean} send sends a signalling message on the channel; false when it is down
 * @property {boolean} [video] send the camera too (video interviews)
 * @property {number} [backoffInitialMs] first retry delay (default 1000)
 * @property {number} [backoffMaxMs] longest retry delay (default 15000)
 * @property {number} [answerTimeoutMs] how long an offer waits for its answer (default 20000)
 * @property {number} [connectTimeoutMs] from the answer to "connected" (default 30000)
 * @property {number} [maxAttempts] consecutive failed negotiations before giving up (default 4)
 */

export class LiveMedia extends EventTarget {
  /** @param {LiveMediaOptions} options */
  constructor({
    send,
    video = false,
    backoffInitialMs = 1000,
    backoffMaxMs = 15000,
    answerTimeoutMs = ANSWER_TIMEOUT_MS,
    connectTimeoutMs = CONNECT_TIMEOUT_MS,
    maxAttempts = MAX_ATTEMPTS,
  }) {
    super();
    this.sendMessage = send;
    this.video = video;
    /** @type {import("./backoff.js").BackoffLimits} */
    this.backoffLimits = { initialMs: backoffInitialMs, maxMs: backoffMaxMs };
    this.answerTimeoutMs = answerTimeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.maxAttempts = maxAttempts;
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    this.state = "idle";
    this.active = false;
    this.closed = false;
    // Whether the server ever answered: later offers are `webrtc.restart`s.
    this.negotiated = false;
    this.attempt = 0;
    this.generation = 0;
    // Answers (or errors) still owed for offers given up on: they belong to no peer.
    this.staleAnswers = 0;
    this.awaitingAnswer = false;
    this.timers = { answer: 0, retry: 0, grace: 0, connect: 0 };
    this.onNetworkChange = () => {
      if (this.active && this.pc) this.renegotiate("network-change");
    };
  }

  /** @returns {boolean} whether this browser can send live media */
  static supported() {
    return typeof RTCPeerConnection !== "undefined" && Boolean(navigator.mediaDevices?.getUserMedia);
  }

  /**
   * A (new) channel is up: negotiate on it with a fresh peer connection.
   * @param {RTCIceServer[]} iceServers from the server's `welcome`
   */
  connect(iceServers) {
    if (this.closed) return;
    this.iceServers = Array.isArray(iceServers) ? iceServers : [];
    if (!this.active) {
      this.active = true;
      this.listen(true);
    }
    // Nothing sent on the old socket can be answered on this one.
    this.staleAnswers = 0;
    this.awaitingAnswer = false;
    this.attempt = 0;
    this.negotiate(this.negotiated ? "reconnected" : "start");
  }

  /** The channel is down: the server has dropped its peer, so drop ours; the microphone stays open. */
  suspend() {
    if (!this.active || this.closed) return;
    this.stop();
    this.setState("waiting", "channel");
  }

  /** Stop for good: peer, timers and the microphone (and camera). */
  close() {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.setState("closed");
  }

  /**
   * The server's `webrtc.answer`.
   * @param {string} sdp
   */
  async acceptAnswer(sdp) {
    if (this.staleAnswers > 0) {
      this.staleAnswers -= 1;
      return;
    }
    const pc = this.pc;
    if (!pc || !this.awaitingAnswer || pc.signalingState !== "have-local-offer" || typeof sdp !== "string") return;
    this.awaitingAnswer = false;
    clearTimeout(this.timers.answer);
    try {
      await pc.setRemoteDescription({ type: "answer", sdp });
      this.negotiated = true;
      clearTimeout(this.timers.connect);
      this.timers.connect = setTimeout(() => {
        if (pc === this.pc && pc.connectionState !== "connected") this.retry("connect-timeout");
      }, this.connectTimeoutMs);
    } catch (error) {
      if (pc === this.pc) this.retry(`bad-answer: ${error?.name || error}`);
    }
  }

  /**
   * Whether a server `error` is the answer to this client's offer (rather than, say, a refused answer).
   * @param {Object} message
   * @returns {boolean}
   */
  ownsError(message) {
    if (message.id || !OFFER_ERRORS.has(message.code)) return false;
    if (message.code === "VALIDATION_ERROR" && !/webrtc/i.test(message.message || "")) return false;
    return this.awaitingAnswer || this.staleAnswers > 0 || isCandidateError(message);
  }

  /**
   * A server `error` that {@link ownsError} claimed.
   * @param {Object} message
   */
  onServerError(message) {
    if (isCandidateError(message)) return; // one bad candidate; the others may still connect
    if (this.staleAnswers > 0) {
      this.staleAnswers -= 1;
      return;
    }
    if (!this.awaitingAnswer) return;
    this.awaitingAnswer = false;
    clearTimeout(this.timers.answer);
    if (message.code === "SESSION_NOT_ACTIVE" || message.code === "SESSION_ALREADY_COMPLETED") {
      this.giveUp(message.code);
      return;
    }
    this.retry(message.details?.reason || message.code);
  }

  /**
   * Renegotiate now on a fresh peer connection (network change, ICE trouble).
   * @param {string} reason
   */
  renegotiate(reason) {
    if (!this.active || this.closed) return;
    if (this.awaitingAnswer) {
      // One offer at a time on a socket: answers carry no id, they pair up in order.
      this.awaitingAnswer = false;
      this.staleAnswers += 1;
    }
    this.negotiate(reason);
  }

  // ----- internals --------------------------------------------------------------

  /**
   * @param {string} state
   * @param {string} [reason]
   */
  setState(state, reason) {
    if (state === this.state && state !== "failed") return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, reason: reason ?? null } }));
  }

  /** @param {boolean} on follow the browser's network changes (while a channel is up) */
  listen(on) {
    const method = on ? "addEventListener" : "removeEventListener";
    globalThis[method]("online", this.onNetworkChange);
    navigator.connection?.[method]?.("change", this.onNetworkChange);
  }

  /** No peer, no timers, no listeners; whatever is in flight is ignored when it lands. */
  stop() {
    this.active = false;
    this.listen(false);
    this.generation += 1;
    this.clearTimers();
    this.closePeer();
  }

  clearTimers() {
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
  }

  closePeer() {
    const pc = this.pc;
    this.pc = null;
    this.awaitingAnswer = false;
    if (!pc) return;
    pc.onicecandidate = null;
    pc.onconnectionstatechange = null;
    pc.ontrack = null;
    try {
      pc.close();
    } catch {
      // Already closed.
    }
  }

  /**
   * The microphone (and camera), asked for once and kept until close().
   * @returns {Promise<MediaStream>}
   */
  async acquire() {
    if (this.stream && this.stream.getTracks().some((track) => track.readyState === "live")) return this.stream;
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 };
    const video = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } };
    let stream;
    if (this.video) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio, video });
      } catch {
        // No camera (or no permission for it) must not cost the voice part of the interview.
        stream = await navigator.mediaDevices.getUserMedia({ audio });
      }
    } else {
      stream = await navigator.mediaDevices.getUserMedia({ audio });
    }
    if (this.closed) {
      stream.getTracks().forEach((track) => track.stop());
      throw new DOMException("closed", "AbortError");
    }
    this.stream = stream;
    this.dispatchEvent(new CustomEvent("local", { detail: { stream } }));
    return stream;
  }

  /**
   * One negotiation: fresh peer connection, offer, trickled candidates, wait for the answer.
   * @param {string} reason
   */
  async negotiate(reason) {
    const generation = ++this.generation;
    this.clearTimers();
    this.closePeer();
    this.setState(this.negotiated ? "reconnecting" : "connecting", reason);
    let stream;
    try {
      stream = await this.acquire();
    } catch (error) {
      if (generation === this.generation && !this.closed) {
        // Until the next channel: the candidate may allow the microphone in the meantime.
        this.stop();
        this.setState("unavailable", error?.name || "getUserMedia");
      }
      return;
    }
    if (generation !== this.generation || !this.active) return;
    /** @type {RTCPeerConnection} */
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    } catch (error) {
      this.giveUp(`peer-connection: ${error?.name || error}`);
      return;
    }
    this.pc = pc;
    /** @type {(Object | null)[]} candidates found before the offer went out */
    let early = [];
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const candidate = event.candidate ? event.candidate.toJSON() : null;
      if (early) early.push(candidate);
      else this.sendMessage({ type: "webrtc.ice", candidate });
    };
    pc.onconnectionstatechange = () => this.onPeerState(pc);
    pc.ontrack = (event) => {
      if (pc !== this.pc || event.track.kind !== "audio") return;
      const remote = event.streams[0] || new MediaStream([event.track]);
      this.dispatchEvent(new CustomEvent("remote", { detail: { stream: remote } }));
    };
    try {
      for (const track of stream.getTracks()) {
        // Audio both ways: the server speaks the questions back on this transceiver.
        const direction = track.kind === "audio" ? "sendrecv" : "sendonly";
        pc.addTransceiver(track, { direction, streams: [stream] });
      }
      await pc.setLocalDescription(await pc.createOffer());
    } catch (error) {
      if (pc === this.pc) this.giveUp(`offer: ${error?.name || error}`);
      return;
    }
    if (pc !== this.pc || generation !== this.generation) return;
    const sdp = pc.localDescription?.sdp || "";
    if (sdp.length > MAX_SDP_CHARS) {
      this.giveUp("offer-too-large");
      return;
    }
    const type = this.negotiated ? "webrtc.restart" : "webrtc.offer";
    if (!this.sendMessage({ type, sdp })) {
      // The channel is down; its next welcome calls connect() again.
      this.closePeer();
      this.setState("waiting", "channel");
      return;
    }
    this.awaitingAnswer = true;
    for (const candidate of early) this.sendMessage({ type: "webrtc.ice", candidate });
    early = null;
    this.timers.answer = setTimeout(() => {
      if (pc !== this.pc || !this.awaitingAnswer) return;
      this.awaitingAnswer = false;
      this.staleAnswers += 1;
      this.retry("answer-timeout");
    }, this.answerTimeoutMs);
  }

  /** @param {RTCPeerConnection} pc */
  onPeerState(pc) {
    if (pc !== this.pc || !this.active) return;
    const state = pc.connectionState;
    if (state === "connected") {
      clearTimeout(this.timers.grace);
      clearTimeout(this.timers.connect);
      this.attempt = 0;
      this.setState("connected");
    } else if (state === "disconnected") {
      clearTimeout(this.timers.grace);
      this.timers.grace = setTimeout(() => {
        if (pc === this.pc && pc.connectionState === "disconnected") this.retry("disconnected");
      }, DISCONNECTED_GRACE_MS);
    } else if (state === "failed") {
      this.retry("ice-failed");
    }
  }

  /**
   * Try again on a fresh peer connection after a backoff, a few times at most.
   * @param {string} reason
   */
  retry(reason) {
    if (!this.active || this.closed) return;
    this.attempt += 1;
    if (this.attempt > this.maxAttempts) {
      this.giveUp(reason);
      return;
    }
    this.closePeer();
    this.setState("reconnecting", reason);
    const delay = backoff(this.attempt - 1, this.backoffLimits);
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.negotiate(reason), delay);
  }

  /**
   * Stop trying until the next channel (the interview goes on without live media).
   * @param {string} reason
   */
  giveUp(reason) {
    this.stop();
    this.setState("failed", reason);
  }
}

/**
 * @param {Object} message a server `error`
 * @returns {boolean} whether it refuses a trickled candidate rather than an offer
 */
function isCandidateError(message) {
  if (message.code !== "WEBRTC_ERROR") return false;
  const reason = message.details?.reason;
  return reason ? reason === "BAD_CANDIDATE" : /candidate/i.test(message.message || "");
}
