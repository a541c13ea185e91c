/**
 * The browser side of an interview: start-session, the realtime WebSocket channel,
 * and an offline mode that keeps the interview going when the server is unreachable.
 *
 * Everything the candidate says or does is first written to IndexedDB (the outbox)
 * and only then shown as saved; it leaves the outbox when the server acknowledges it
 * (a WebSocket `ack`, or the answer of the batch upload endpoint).
 *
 * Events (all `CustomEvent`s):
 * `question`, `transcript`, `state`, `connection`, `offline`, `error`, `synced`,
 * plus `saved` (an item is durably stored on this device), `acked` (the server has it),
 * `delivered` (a server message with a new `seq`), `answer` (`answer.recorded`), `timeout`,
 * `notApplied` (the server kept a command that changed nothing, e.g. a late skip),
 * `capabilities` (does the server transcribe and speak here), `questionAudio` (the interviewer's
 * voice started, ended or was interrupted), `voiceTrack` and `localStream` (media streams for
 * the page's audio element and self-view),
 * `recording` (local recording started, or uploaded), and for live media (WebRTC, online
 * voice and video interviews only) `media` (the peer's state), `speaking` and `level`.
 *
 * This class is the public entry point and keeps the interview state; the phase changes
 * (start, offline, back online, the end) pass through it. The work is done by
 * session-start.js (start-session, claims, tokens), live-session.js (the channel while
 * online) and offline-engine.js (the interview on this device, and the sync).
 * @module interview-client
 */

import { InterviewApi, uuid } from "./api.js";
import { LiveSession } from "./live-session.js";
import { OfflineEngine } from "./offline-engine.js";
import { OfflineStore } from "./offline-store.js";
import { SessionStarter } from "./session-start.js";
import { Timers } from "./timers.js";
import { Uploader } from "./uploader.js";

/**
 * @typedef {import("./fallback-questions.js").Question} Question
 * @typedef {import("./offline-store.js").OutboxItem} OutboxItem
 * @typedef {import("./backoff.js").BackoffLimits} BackoffLimits
 * @typedef {import("./media.js").LiveMedia} LiveMedia
 */

/**
 * @typedef {Object} ClientOptions
 * @property {string} applicationId the application being interviewed for
 * @property {() => (string | null)} getUserToken returns the candidate's user token (never put in a URL)
 * @property {string} [baseUrl] server origin; default: the page's origin
 * @property {OfflineStore} [store] default: `OfflineStore.open()`
 * @property {number} [startTimeoutMs] start-session timeout (default 3000)
 * @property {number} [syncTimeoutMs] timeout of the requests made while syncing (default 10000)
 * @property {number} [backoffInitialMs] first reconnect/sync delay (default 500)
 * @property {number} [backoffMaxMs] longest reconnect/sync delay (default 10000)
 * @property {number} [offlineAfterMs] unreachable this long mid-interview -> offline mode (default 30000)
 * @property {number} [rateLimitRetries] how often a 429 on start is waited out (default 3)
 * @property {Object} [mediaOptions] timeouts and retries of live media (see media.js LiveMediaOptions)
 */

// The server's limit on a text, counted as it counts: in characters (code points), not UTF-16 units.
const MAX_TEXT_CHARS = 20000;

/**
 * At most MAX_TEXT_CHARS characters of `text`, never half of an emoji's surrogate pair
 * (a lone surrogate is not valid Unicode: the server would refuse the whole answer).
 * @param {unknown} text
 * @returns {string}
 */
function clip(text) {
  const value = String(text);
  return value.length <= MAX_TEXT_CHARS ? value : Array.from(value).slice(0, MAX_TEXT_CHARS).join("");
}

export class InterviewClient extends EventTarget {
  /** @param {ClientOptions & {store: OfflineStore}} options */
  constructor(options) {
    super();
    this.applicationId = options.applicationId;
    this.getUserToken = options.getUserToken;
    this.baseUrl = (options.baseUrl || location.origin).replace(/\/$/, "");
    this.api = new InterviewApi(this.baseUrl);
    this.store = options.store;
    this.startTimeoutMs = options.startTimeoutMs ?? 3000;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 10000;
    this.backoffInitialMs = options.backoffInitialMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 10000;
    this.offlineAfterMs = options.offlineAfterMs ?? 30000;
    this.rateLimitRetries = options.rateLimitRetries ?? 3;
    this.mediaOptions = options.mediaOptions ?? {};
    /** @type {Object | null} the persisted interview state (see OfflineStore) */
    this.state = null;
    this.connection = "idle";
    this.closed = false;
    /** @type {Promise<string> | null} */
    this.starting = null;
    this.timers = new Timers();
    /** What the next start records about media (see configureMedia). */
    this.mediaPreferences = { mode: "voice", consent: null };
    /** @type {{transcription: boolean, voice: string | null} | null} what the server does with live media */
    this.capabilities = null;
    this.uploader = new Uploader({
      api: this.api,
      store: this.store,
      applicationId: this.applicationId,
      session: () => ({ sessionId: this.state.sessionId, token: this.state.token }),
      reclaim: () => this.starter.claim(),
      emit: (type, detail) => this.emit(type, detail),
      timeoutMs: this.syncTimeoutMs,
    });
    this.starter = new SessionStarter(this);
    this.live = new LiveSession(this);
    this.offline = new OfflineEngine(this);
  }

  /**
   * A client with its IndexedDB store opened.
   * @param {ClientOptions} options
   * @returns {Promise<InterviewClient>}
   */
  static async create(options) {
    const store = options.store || (await OfflineStore.open());
    return new InterviewClient({ ...options, store });
  }

  /** @returns {string} idle | starting | online | offline | completed */
  get phase() {
    return this.state?.phase ?? "idle";
  }

  /** @returns {Question | null} */
  get currentQuestion() {
    if (this.state?.phase === "offline") {
      const { questions, index, finished } = this.state.offline;
      return finished ? null : questions[index] ?? null;
    }
    return this.state?.currentQuestion ?? null;
  }

  /** @returns {string | null} */
  get sessionId() {
    return this.state?.sessionId ?? null;
  }

  /** @returns {LiveMedia | null} live audio (and video) to the server while online */
  get media() {
    return this.live.media;
  }

  /** @returns {BackoffLimits} the reconnect/sync backoff */
  get backoffLimits() {
    return { initialMs: this.backoffInitialMs, maxMs: this.backoffMaxMs };
  }

  // ----- events ---------------------------------------------------------------

  /**
   * @param {string} type
   * @param {Object} [detail]
   */
  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {string} state connecting | waiting | online | reconnecting | offline | syncing | closed | idle
   * @param {Object} [extra]
   */
  setConnection(state, extra = {}) {
    this.connection = state;
    this.emit("connection", { state, ...extra });
  }

  emitState() {
    this.emit("state", {
      phase: this.phase,
      status: this.state?.status ?? null,
      sessionId: this.sessionId,
      finishedOffline: Boolean(this.state?.offline?.finished),
    });
  }

  emitQuestion() {
    const question = this.currentQuestion;
    if (!question) return;
    const offline = this.phase === "offline";
    let deadline = null;
    if (offline) {
      deadline = this.offline.deadline(question);
    } else if (this.state.questionDeadline && this.state.questionDeadlineFor === question.id) {
      deadline = this.state.questionDeadline;
    }
    this.emit("question", { question, offline, deadline });
  }

  /**
   * @param {string} code
   * @param {string} message
   * @param {boolean} [fatal]
   */
  emitError(code, message, fatal = false) {
    this.emit("error", { code, message, fatal });
  }

  // ----- the interview's phases ---------------------------------------------------

  /**
   * Fetch the offline question pack and keep it in IndexedDB for offline mode.
   * @returns {Promise<Object | null>} the pack, or null when it could not be fetched
   */
  cacheOfflinePack() {
    return this.offline.cachePack();
  }

  /**
   * Pick up an interview this browser was running (after a reload or a crash).
   * @returns {Promise<boolean>} whether an interview was resumed
   */
  async restore() {
    const saved = await this.store.getState(this.applicationId);
    if (!saved || !["online", "offline"].includes(saved.phase)) {
      if (saved) this.state = saved; // keeps the clientSessionId of an unfinished start
      return false;
    }
    this.state = saved;
    this.emitState();
    if (saved.phase === "offline") {
      this.offline.resume();
    } else {
      this.emitQuestion();
      this.starter.scheduleTokenRefresh();
      this.live.connect();
    }
    return true;
  }

  /**
   * Start the interview (debounced: calls while one is running share its result).
   * @returns {Promise<string>} online | offline | not_found | already_completed | unauthorized | failed
   */
  start() {
    if (!this.starting) {
      this.starting = this.starter.start().finally(() => {
        this.starting = null;
      });
    }
    return this.starting;
  }

  /**
   * How the next start() uses media: the interview mode and the recording consent.
   * @param {{mode?: string, consent?: boolean | null}} preferences consent null: the application does not record
   */
  configureMedia({ mode = "voice", consent = null } = {}) {
    this.mediaPreferences = { mode, consent };
  }

  /**
   * The session is over: upload leftovers, forget everything local, tell the page.
   * @param {string} status
   */
  async finish(status) {
    if (this.state?.sessionId && (await this.store.countOutbox(this.applicationId)) > 0) {
      try {
        await this.uploader.outbox();
      } catch (error) {
        // Keep the data; a later reload retries from the saved state.
        this.emitError(error?.code || "UPLOAD_FAILED", "Some items are still waiting to be uploaded.");
        return;
      }
    }
    this.live.stop();
    this.timers.cancelAll();
    await this.store.clear(this.applicationId);
    this.state = { applicationId: this.applicationId, phase: "completed", status, sessionId: this.state?.sessionId };
    this.setConnection("closed");
    this.emitState();
  }

  /** Stop timers and the socket; the saved state stays for a later page load. */
  close() {
    this.closed = true;
    this.timers.cancelAll();
    this.offline.close();
    this.live.stop();
  }

  // ----- what the candidate does --------------------------------------------------

  /**
   * Store a client message durably, then send it when the channel is up.
   * @param {string} type
   * @param {Object} payload
   * @param {Object} [newState] state to save in the same transaction
   * @returns {Promise<string>} the message id
   */
  async record(type, payload, newState) {
    if (!this.state || !["online", "offline"].includes(this.phase)) {
      throw new Error("The interview is not running");
    }
    /** @type {OutboxItem} */
    const item = { id: uuid(), applicationId: this.applicationId, type, payload, ts: new Date().toISOString() };
    if (newState) {
      await this.store.addOutboxWithState(item, newState);
      this.state = newState;
    } else {
      await this.store.addOutbox(item);
    }
    const pending = await this.store.countOutbox(this.applicationId);
    this.emit("saved", { id: item.id, type, pending });
    if (this.phase === "online") this.live.send(item);
    return item.id;
  }

  /**
   * The candidate started answering the current question.
   * @returns {Promise<string | null>}
   */
  async startAnswer() {
    const question = this.currentQuestion;
    if (!question) return null;
    return this.record("answer.start", { questionId: question.id });
  }

  /**
   * Submit the answer to the current question (typed text, or what was dictated).
   * @param {{text?: string, startedAt?: string}} answer
   * @returns {Promise<string | null>} the answer id, or null when there is no question
   */
  async submitAnswer({ text = "", startedAt } = {}) {
    const question = this.currentQuestion;
    if (!question) return null;
    const payload = { questionId: question.id, text: clip(text), endedAt: new Date().toISOString() };
    if (startedAt) payload.startedAt = startedAt;
    if (this.phase === "offline") return this.offline.step("answer.submit", payload);
    return this.record("answer.submit", payload);
  }

  /**
   * Skip the current question (or, offline, record that its time ran out).
   * @returns {Promise<string | null>}
   */
  async nextQuestion() {
    const question = this.currentQuestion;
    if (!question) return null;
    const payload = { questionId: question.id };
    if (this.phase === "offline") return this.offline.step("question.next", payload);
    return this.record("question.next", payload);
  }

  /**
   * Ask the server's interviewer to say the current question again.
   * @returns {boolean} false when the server cannot (no voice, no live audio): the page speaks it itself
   */
  repeatQuestion() {
    const question = this.currentQuestion;
    const live = this.phase === "online" && this.capabilities?.voice && this.media?.state === "connected";
    if (!question || !live) return false;
    return this.live.channel.send({ type: "question.repeat", questionId: question.id });
  }

  /**
   * A transcript line from a client-side recogniser.
   * @param {{text: string, final?: boolean, startMs: number, endMs: number}} line
   * @returns {Promise<string>}
   */
  async sendTranscript({ text, final = true, startMs, endMs }) {
    const payload = { text: clip(text), final, startMs, endMs };
    const question = this.currentQuestion;
    if (this.phase === "offline" && question) payload.questionId = question.id;
    const id = await this.record("transcript", payload);
    this.emit("transcript", { ...payload, id, source: "client" });
    return id;
  }

  /**
   * A named client event (`tab.hidden`, `mic.muted`, `interview.session.*`...).
   * @param {string} name
   * @param {Object} [payload]
   * @returns {Promise<string>}
   */
  reportEvent(name, payload = {}) {
    return this.record("event", { name, payload });
  }

  /** Pause the session (online only). */
  pause() {
    return this.phase === "online" ? this.record("session.pause", {}) : Promise.resolve(null);
  }

  /** Resume a paused session (online only). */
  resume() {
    return this.phase === "online" ? this.record("session.resume", {}) : Promise.resolve(null);
  }

  /**
   * End the interview. Offline, it is completed on the server once everything is uploaded.
   * @returns {Promise<string | null>}
   */
  async end() {
    if (this.phase === "offline") return this.offline.end();
    if (this.phase !== "online") return null;
    return this.record("session.complete", {});
  }
}
