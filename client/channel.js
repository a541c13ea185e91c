/**
 * The realtime channel's socket: one WebSocket to `/ws/interview` that keeps itself up.
 *
 * It reconnects with exponential backoff and jitter, treats a connection that goes
 * quiet as dead, follows the browser's `online`/`offline` events, answers `ping`,
 * and is ready to send once the server said `welcome`. Everything it sends goes through
 * a token bucket under the server's rate limit (told in `welcome`), in order: a client
 * resending a long outbox after an outage is paced, never closed with 4008. What the
 * messages mean is the owner's business (see live-session.js).
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
// The share of the server's rate and burst this client uses: room for pongs, ICE candidates and jitter.
const PACE_SHARE = 0.75;
const BURST_SHARE = 0.5;
// Until the server says its limits (an older server): well under the defaults (20/s, bursts of 60).
const DEFAULT_PACE = { perSecond: 10, burst: 20 };

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
    this.timers = { retry: 0, liveness: 0, flush: 0 };
    /** @type {{message: Object, drop?: () => boolean}[]} sends waiting for the bucket, in order */
    this.queue = [];
    this.pacing = { ...DEFAULT_PACE, tokens: DEFAULT_PACE.burst, at: 0, holdUntil: 0 };
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

  /** Close the socket and stop reconnecting; a later start() begins afresh (not "down since" an old outage). */
  stop() {
    this.running = false;
    this.attempt = 0;
    this.downSince = 0;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    clearTimeout(this.timers.retry);
    this.detach(1000);
  }

  /**
   * Send a message if the channel is ready (welcomed): now, or as soon as the pacing allows.
   * Queued messages are dropped with the socket (the owner resends what it keeps in its outbox).
   * @param {Object} message
   * @param {{drop?: () => boolean}} [options] drop: asked right before sending; true skips the message
   * @returns {boolean} whether it was sent or queued
   */
  send(message, { drop } = {}) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.queue.push({ message, drop });
    this.flush();
    return true;
  }

  /**
   * The server's limits, from `welcome`: this client keeps under a share of both.
   * @param {number | undefined} perSecond
   * @param {number | undefined} burst
   */
  pace(perSecond, burst) {
    const rate = Number(perSecond) > 0 ? Number(perSecond) * PACE_SHARE : DEFAULT_PACE.perSecond;
    const size = Number(burst) > 0 ? Math.max(1, Math.floor(Number(burst) * BURST_SHARE)) : DEFAULT_PACE.burst;
    // A new connection starts with the server's bucket full.
    this.pacing = { perSecond: rate, burst: size, tokens: size, at: performance.now(), holdUntil: 0 };
  }

  /**
   * The server warned of its rate limit: send nothing for `ms`.
   * @param {number} ms
   */
  holdOff(ms) {
    this.pacing.holdUntil = performance.now() + Math.max(0, ms);
    this.pacing.tokens = 0;
    this.flush();
  }

  /** Spend one token for a frame sent now (pong, hello); may go below zero, which delays the queue. */
  spend() {
    const now = performance.now();
    const pacing = this.pacing;
    pacing.tokens = Math.min(pacing.burst, pacing.tokens + ((now - pacing.at) / 1000) * pacing.perSecond);
    pacing.at = now;
    pacing.tokens -= 1;
  }

  /** Send what the bucket allows, in order; a timer sends the rest. */
  flush() {
    clearTimeout(this.timers.flush);
    const pacing = this.pacing;
    while (this.queue.length && this.ready && this.ws && this.ws.readyState === WebSocket.OPEN) {
      const now = performance.now();
      pacing.tokens = Math.min(pacing.burst, pacing.tokens + ((now - pacing.at) / 1000) * pacing.perSecond);
      pacing.at = now;
      if (now < pacing.holdUntil || pacing.tokens < 1) {
        const wait = Math.max(pacing.holdUntil - now, ((1 - pacing.tokens) / pacing.perSecond) * 1000);
        this.timers.flush = setTimeout(() => this.flush(), Math.max(10, Math.ceil(wait)));
        return;
      }
      const { message, drop } = this.queue.shift();
      if (drop?.()) continue;
      pacing.tokens -= 1;
      this.ws.send(JSON.stringify(message));
    }
  }

  /** @returns {number} messages waiting for the pacing */
  get queued() {
    return this.queue.length;
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
    if (ws === this.ws && ws.readyState === WebSocket.OPEN) {
      this.spend();
      ws.send(JSON.stringify(hello));
    }
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
      this.pace(message.rateLimitPerSecond, message.rateLimitBurst);
      this.emitState("online");
    } else if (message.type === "ping") {
      this.spend();
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
    this.queue = [];
    clearTimeout(this.timers.liveness);
    clearTimeout(this.timers.flush);
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
