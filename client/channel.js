/**
 * The realtime channel's socket: one WebSocket to `/ws/interview` that keeps itself up.
 *
 * It reconnects with exponential backoff and jitter, treats a connection that goes
 * quiet as dead, follows the browser's `online`/`offline` events, answers `ping`,
 * and is ready to send once the server said `welcome`. What the messages mean is
 * the owner's business (see live-session.js).
 *
 * Events: `message` (every parsed server message), `state` (connecting, online,
 * reconnecting, offline; with `downSince`), `close` (the code, and whether it is final).
 * @module channel
 */

import { backoff } from "./backoff.js";

export const SUBPROTOCOL = "interview.v1";
// Close codes after which reconnecting cannot help.
export const CLOSE_UNAUTHORIZED = 4001;
export const CLOSE_ORIGIN = 4003;
export const CLOSE_REPLACED = 4009;
export const CLOSE_SESSION_ENDED = 4010;
export const CLOSE_SESSION_DELETED = 4011;
const FINAL_CODES = new Set([CLOSE_ORIGIN, CLOSE_REPLACED, CLOSE_SESSION_ENDED, CLOSE_SESSION_DELETED]);
const WELCOME_TIMEOUT_MS = 15_000;

/**
 * @typedef {Object} ChannelOptions
 * @property {string} url ws:// or wss:// URL of the endpoint
 * @property {() => Promise<Object | null>} hello the `hello` message for a new socket;
 *   null stops the channel, a rejection counts as a failed attempt
 * @property {number} [backoffInitialMs] default 500
 * @property {number} [backoffMaxMs] default 10000
 */

export class Channel extends EventTarget {
  /** @param {ChannelOptions} options */
  constructor({ url, hello, backoffInitialMs = 500, backoffMaxMs = 10000 }) {
    super();
    this.url = url;
    this.hello = hello;
    /** @type {import("./backoff.js").BackoffLimits} */
    this.backoffLimits = { initialMs: backoffInitialMs, maxMs: backoffMaxMs };
    /** @type {WebSocket | null} */
    this.ws = null;
    this.ready = false;
    this.running = false;
    this.attempt = 0;
    this.downSince = 0;
    this.heartbeatSeconds = 20;
    this.timers = { retry: 0, liveness: 0 };
    this.onOnline = () => {
      if (this.running && !this.ws) this.connectNow();
    };
    this.onOffline = () => {
      // Emulated or real loss of network can leave a socket open but dead.
      if (this.ws) this.lost(this.ws, 4000);
    };
  }

  /** Connect, and keep reconnecting until stop(). */
  start() {
    if (this.running) return;
    this.running = true;
    addEventListener("online", this.onOnline);
    addEventListener("offline", this.onOffline);
    this.connectNow();
  }

  /** Close the socket and stop reconnecting. */
  stop() {
    this.running = false;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    clearTimeout(this.timers.retry);
    this.detach(1000);
  }

  /**
   * Send a message if the channel is ready (welcomed).
   * @param {Object} message
   * @returns {boolean} whether it was sent
   */
  send(message) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * @param {string} state
   * @param {Object} [extra]
   */
  emitState(state, extra = {}) {
    this.dispatchEvent(new CustomEvent("state", { detail: { state, downSince: this.downSince, ...extra } }));
  }

  connectNow() {
    clearTimeout(this.timers.retry);
    if (!this.running || this.ws) return;
    if (navigator.onLine === false) {
      this.failed("offline");
      return;
    }
    this.emitState(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL]);
    } catch {
      this.failed("reconnecting");
      return;
    }
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => this.greet(ws);
    ws.onmessage = (event) => this.receive(ws, event.data);
    ws.onclose = (event) => {
      if (ws === this.ws) this.lost(ws, event.code);
    };
    ws.onerror = () => {};
    this.armLiveness(WELCOME_TIMEOUT_MS);
  }

  /** @param {WebSocket} ws */
  async greet(ws) {
    let hello;
    try {
      hello = await this.hello();
    } catch {
      if (ws === this.ws) this.lost(ws, 4000);
      return;
    }
    if (hello === null) {
      this.stop();
      return;
    }
    if (ws === this.ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(hello));
  }

  /**
   * @param {WebSocket} ws
   * @param {string} data
   */
  receive(ws, data) {
    if (ws !== this.ws) return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    if (message.type === "welcome") {
      this.ready = true;
      this.attempt = 0;
      this.downSince = 0;
      this.heartbeatSeconds = Number(message.heartbeatSeconds) || this.heartbeatSeconds;
      this.emitState("online");
    } else if (message.type === "ping") {
      ws.send(JSON.stringify({ type: "pong", ts: message.ts }));
    }
    this.armLiveness();
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
  }

  /** A connection that stays silent past two heartbeats is dead even without a close event. */
  armLiveness(ms = this.heartbeatSeconds * 2500 + 5000) {
    clearTimeout(this.timers.liveness);
    this.timers.liveness = setTimeout(() => {
      if (this.ws) this.lost(this.ws, 4000);
    }, ms);
  }

  /**
   * Detach the current socket and close it without waiting for its close event.
   * @param {number} code
   */
  detach(code) {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.timers.liveness);
    if (!ws) return;
    ws.onopen = null;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code === 1000 ? 1000 : undefined);
    } catch {
      // Already closed.
    }
  }

  /**
   * The socket closed or was given up; tell the owner, then retry unless the code is final.
   * @param {WebSocket} ws
   * @param {number} code
   */
  lost(ws, code) {
    if (ws !== this.ws) return;
    this.detach(1000);
    const final = FINAL_CODES.has(code);
    this.dispatchEvent(new CustomEvent("close", { detail: { code, final } }));
    if (final) {
      this.stop();
      return;
    }
    this.failed(navigator.onLine === false ? "offline" : "reconnecting");
  }

  /** @param {"offline" | "reconnecting"} state */
  failed(state) {
    if (!this.running) return;
    if (!this.downSince) this.downSince = Date.now();
    const delayMs = backoff(this.attempt, this.backoffLimits);
    this.attempt += 1;
    this.emitState(state, { attempt: this.attempt, delayMs });
    // The owner may have stopped the channel while handling the state event.
    if (!this.running) return;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connectNow(), delayMs);
  }
}
