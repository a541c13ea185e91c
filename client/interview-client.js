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
 * `recording` (local recording started, or uploaded), and for live media (WebRTC, online
 * voice and video interviews only) `media` (the peer's state), `speaking` and `level`.
 * @module interview-client
 */

import { InterviewApi, retryAfterMs, unreachable, uuid } from "./api.js";
import { backoff } from "./backoff.js";
import { CLOSE_ORIGIN, CLOSE_REPLACED, CLOSE_SESSION_ENDED, CLOSE_UNAUTHORIZED, Channel } from "./channel.js";
import { fallbackQuestions } from "./fallback-questions.js";
import { LocalRecorder } from "./local-recorder.js";
import { LiveMedia } from "./media.js";
import { OfflineStore } from "./offline-store.js";
import { BATCHABLE, SyncError, Uploader } from "./uploader.js";

const MAX_PENDING_IDS = 1000;
const TERMINAL = new Set(["completed", "abandoned", "error"]);
// Server error codes that mean "this message will never be accepted": stop resending it.
const RETRYABLE_ERRORS = new Set(["STORAGE_UNAVAILABLE", "RATE_LIMITED", "INTERNAL_ERROR"]);

/**
 * @typedef {import("./fallback-questions.js").Question} Question
 * @typedef {import("./offline-store.js").OutboxItem} OutboxItem
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

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
    this.syncAttempt = 0;
    this.duplicatesDropped = 0;
    /** @type {Promise<string> | null} */
    this.starting = null;
    this.syncing = false;
    this.timers = new Map();
    this.recorder = new LocalRecorder(this.store, this.applicationId);
    /** @type {LiveMedia | null} live audio (and video) to the server while online */
    this.media = null;
    /** What the next start records about media (see configureMedia). */
    this.mediaPreferences = { mode: "voice", consent: null };
    this.uploader = new Uploader({
      api: this.api,
      store: this.store,
      applicationId: this.applicationId,
      session: () => ({ sessionId: this.state.sessionId, token: this.state.token }),
      reclaim: () => this.claim(),
      emit: (type, detail) => this.emit(type, detail),
      timeoutMs: this.syncTimeoutMs,
    });
    this.channel = new Channel({
      url: wsUrl(this.baseUrl),
      hello: () => this.helloMessage(),
      backoffInitialMs: this.backoffInitialMs,
      backoffMaxMs: this.backoffMaxMs,
    });
    this.channel.addEventListener("message", (event) =>
      this.onMessage(event.detail).catch((error) => this.emitError("CLIENT", String(error))),
    );
    this.channel.addEventListener("state", (event) => this.onChannelState(event.detail));
    this.channel.addEventListener("close", (event) => this.onChannelClose(event.detail.code));
    // Offline mode retries as soon as the browser says the network is back.
    this.onOnline = () => {
      if (this.phase === "offline") this.scheduleSync(0);
    };
    addEventListener("online", this.onOnline);
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

  /** @returns {import("./backoff.js").BackoffLimits} the reconnect/sync backoff */
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
   * @param {string} state connecting | online | reconnecting | offline | syncing | closed
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
      deadline = Date.parse(this.state.offline.questionStartedAt) + question.timeLimitSeconds * 1000;
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

  // ----- timers ---------------------------------------------------------------

  /**
   * @param {string} name
   * @param {number} ms
   * @param {() => void} fn
   */
  later(name, ms, fn) {
    clearTimeout(this.timers.get(name));
    this.timers.set(name, setTimeout(() => {
      this.timers.delete(name);
      fn();
    }, Math.max(0, ms)));
  }

  /** @param {string} name */
  cancel(name) {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  // ----- HTTP -----------------------------------------------------------------

  /**
   * start-session with this interview's clientSessionId.
   * @param {number} timeoutMs
   */
  requestStart(timeoutMs) {
    return this.api.startSession({
      userToken: this.getUserToken(),
      applicationId: this.applicationId,
      clientSessionId: this.state.clientSessionId,
      timeoutMs,
    });
  }

  /**
   * Fetch the offline question pack and keep it in IndexedDB for offline mode.
   * @returns {Promise<Object | null>} the pack, or null when it could not be fetched
   */
  async cacheOfflinePack() {
    const token = this.getUserToken();
    if (!token) return null;
    const response = await this.api.offlinePack({
      userToken: token,
      applicationId: this.applicationId,
      timeoutMs: this.syncTimeoutMs,
    });
    if (!response.ok || !Array.isArray(response.body?.questions)) return null;
    await this.store.savePack(this.applicationId, response.body);
    return response.body;
  }

  // ----- restoring after a reload ---------------------------------------------

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
      this.setConnection("offline", { reason: saved.offline.reason });
      this.emit("offline", { reason: saved.offline.reason, source: saved.offline.source, restored: true });
      this.emitQuestion();
      this.armOfflineTimer();
      if (!saved.offline.finished) this.startRecording();
      this.scheduleSync(0);
    } else {
      this.emitQuestion();
      this.scheduleTokenRefresh();
      this.connect();
    }
    return true;
  }

  // ----- start ------------------------------------------------------------------

  /**
   * Start the interview (debounced: calls while one is running share its result).
   * @returns {Promise<string>} online | offline | not_found | already_completed | unauthorized | failed
   */
  start() {
    if (!this.starting) {
      this.starting = this.startOnce().finally(() => {
        this.starting = null;
      });
    }
    return this.starting;
  }

  /** @returns {Promise<string>} */
  async startOnce() {
    if (this.phase === "online" || this.phase === "offline") return this.phase;
    if (!this.getUserToken()) {
      this.emitError("UNAUTHORIZED", "An access token is needed to start the interview.", true);
      return "unauthorized";
    }
    this.state = {
      applicationId: this.applicationId,
      clientSessionId: this.state?.clientSessionId || uuid(),
      phase: "starting",
      lastSeq: 0,
      media: { ...this.mediaPreferences },
    };
    await this.store.putState(this.state);
    this.setConnection("connecting");
    let response = null;
    let retried = false;
    let waits = 0;
    for (;;) {
      response = await this.requestStart(this.startTimeoutMs);
      if (unreachable(response) && !retried) {
        retried = true;
        continue;
      }
      if (response.status === 429 && waits < this.rateLimitRetries) {
        waits += 1;
        const waitMs = retryAfterMs(response);
        this.setConnection("waiting", { retryAfterMs: waitMs });
        await sleep(waitMs);
        continue;
      }
      break;
    }
    if (response.ok) {
      await this.onStarted(response.body);
      return "online";
    }
    if (unreachable(response)) {
      await this.enterOffline({
        reason: response.network || `http_${response.status}`,
        status: response.status || null,
      });
      return "offline";
    }
    const code = response.body?.code;
    let outcome = "failed";
    if (response.status === 404) {
      outcome = "not_found";
      this.emitError(code || "INVALID_APPLICATION", "Application not found.", true);
    } else if (code === "ALREADY_COMPLETED") {
      outcome = "already_completed";
      this.emitError(code, "Interview already submitted.", true);
    } else if (response.status === 401) {
      outcome = "unauthorized";
      this.emitError("UNAUTHORIZED", "Your access link has expired. Open the interview link again.", true);
    } else {
      this.emitError(code || `HTTP_${response.status}`, response.body?.error || "The interview could not be started.", true);
    }
    // Nothing was created: forget the attempt so the page can be used again later.
    await this.store.clear(this.applicationId);
    this.state = null;
    this.setConnection("idle");
    return outcome;
  }

  /** @param {Object} body a StartSessionResponse */
  async onStarted(body) {
    const question = body.currentQuestion || null;
    this.state = {
      ...this.state,
      phase: "online",
      sessionId: body.sessionId,
      token: body.token,
      expiresAt: body.expiresAt,
      status: body.status,
      application: body.application,
      currentQuestion: question,
      questionDeadline: question ? Date.now() + question.timeLimitSeconds * 1000 : null,
      questionDeadlineFor: question?.id ?? null,
      lastSeq: 0,
    };
    await this.store.putState(this.state);
    this.emitState();
    if (TERMINAL.has(body.status)) {
      await this.finish(body.status);
      return;
    }
    this.emitQuestion();
    await this.record("event", { name: "interview.session.started", payload: { resumed: Boolean(body.resumed) } });
    const consent = this.state.media?.consent;
    if (typeof consent === "boolean") {
      // Queued before the offer on the same socket, so the server knows it when it answers.
      await this.record("event", { name: "recording.consent", payload: { granted: consent } });
    }
    this.scheduleTokenRefresh();
    this.connect();
  }

  /**
   * How the next start() uses media: the interview mode and the recording consent.
   * @param {{mode?: string, consent?: boolean | null}} preferences consent null: the application does not record
   */
  configureMedia({ mode = "voice", consent = null } = {}) {
    this.mediaPreferences = { mode, consent };
  }

  // ----- recording what the candidate does ---------------------------------------

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
    if (this.phase === "online") this.send(item);
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
    const payload = { questionId: question.id, text: String(text).slice(0, 20000), endedAt: new Date().toISOString() };
    if (startedAt) payload.startedAt = startedAt;
    if (this.phase !== "offline") return this.record("answer.submit", payload);
    const id = await this.record("answer.submit", payload, this.advancedOfflineState());
    this.afterOfflineStep();
    return id;
  }

  /**
   * Skip the current question (or, offline, record that its time ran out).
   * @returns {Promise<string | null>}
   */
  async nextQuestion() {
    const question = this.currentQuestion;
    if (!question) return null;
    const payload = { questionId: question.id };
    if (this.phase !== "offline") return this.record("question.next", payload);
    const id = await this.record("question.next", payload, this.advancedOfflineState());
    this.afterOfflineStep();
    return id;
  }

  /**
   * A transcript line from a client-side recogniser.
   * @param {{text: string, final?: boolean, startMs: number, endMs: number}} line
   * @returns {Promise<string>}
   */
  async sendTranscript({ text, final = true, startMs, endMs }) {
    const payload = { text: String(text).slice(0, 20000), final, startMs, endMs };
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
    if (this.phase === "offline") {
      const state = { ...this.state, offline: { ...this.state.offline, finished: true } };
      await this.store.putState(state);
      this.state = state;
      this.cancel("offline-question");
      this.emitState();
      await this.recorder.stop();
      this.scheduleSync(0);
      return null;
    }
    if (this.phase !== "online") return null;
    return this.record("session.complete", {});
  }

  // ----- offline mode ---------------------------------------------------------

  /**
   * Run the interview locally from the cached pack (or the built-in set).
   * @param {{reason: string, status?: number | null}} cause
   */
  async enterOffline(cause) {
    const pack = await this.store.getPack(this.applicationId);
    const online = this.phase === "online";
    let questions;
    let source;
    let index = 0;
    if (pack?.questions?.length) {
      questions = pack.questions;
      source = "pack";
    } else {
      questions = online && this.state.currentQuestion ? [this.state.currentQuestion] : fallbackQuestions();
      source = online ? "session" : "fallback";
    }
    let finished = false;
    if (online) {
      // Mid-interview: carry on from the question the server asked last.
      const current = this.state.currentQuestion;
      const at = current ? questions.findIndex((q) => q.id === current.id) : -1;
      index = at >= 0 ? at : Math.min(questions.length, Math.max(0, (current?.number ?? 1) - 1));
      finished = TERMINAL.has(this.state.status) || index >= questions.length;
    }
    this.channel.stop();
    this.stopMedia();
    const state = {
      ...this.state,
      phase: "offline",
      offline: {
        questions,
        index,
        finished,
        source,
        reason: cause.reason,
        mode: pack?.interview?.mode || "voice",
        questionStartedAt: new Date().toISOString(),
      },
    };
    await this.store.putState(state);
    this.state = state;
    // Control messages cannot be uploaded in a batch; their effect is kept in the state.
    for (const item of await this.store.listOutbox(this.applicationId)) {
      if (!BATCHABLE.has(item.type)) {
        if (item.type === "session.complete") this.state.offline.finished = true;
        await this.store.removeOutbox([item.id]);
      }
    }
    await this.store.putState(this.state);
    await this.record("event", {
      name: "interview.session.api_failed",
      payload: { reason: cause.reason, status: cause.status ?? null, during: online ? "interview" : "start" },
    });
    await this.record("event", {
      name: "interview.session.offline_mode",
      payload: { questionSource: source, questionCount: questions.length },
    });
    this.setConnection("offline", { reason: cause.reason });
    this.emit("offline", { reason: cause.reason, source, restored: false });
    this.emitState();
    this.emitQuestion();
    this.armOfflineTimer();
    if (!finished) this.startRecording();
    this.scheduleSync();
  }

  /** Offline, a voice or video interview is recorded locally (uploaded with the rest). */
  startRecording() {
    if (this.phase !== "offline" || this.state.offline.mode === "text") return;
    this.recorder.start().then((started) => {
      if (started) this.emit("recording", { recording: true });
    });
  }

  /** @returns {Object} the state after moving past the current offline question */
  advancedOfflineState() {
    const offline = this.state.offline;
    const index = offline.index + 1;
    return {
      ...this.state,
      offline: {
        ...offline,
        index,
        finished: index >= offline.questions.length,
        questionStartedAt: new Date().toISOString(),
      },
    };
  }

  /** Offline, the client keeps each question's time limit itself. */
  armOfflineTimer() {
    this.cancel("offline-question");
    if (this.phase !== "offline" || this.state.offline.finished) {
      if (this.phase === "offline") this.emitState();
      return;
    }
    const question = this.currentQuestion;
    const deadline = Date.parse(this.state.offline.questionStartedAt) + question.timeLimitSeconds * 1000;
    this.later("offline-question", deadline - Date.now(), () => {
      if (this.phase === "offline" && this.currentQuestion?.id === question.id) {
        this.nextQuestion().catch((error) => this.emitError("LOCAL_STORAGE", String(error)));
      }
    });
  }

  /**
   * After an offline step: show the next question or the end, and keep syncing.
   */
  afterOfflineStep() {
    this.emitState();
    this.emitQuestion();
    this.armOfflineTimer();
    if (this.state.offline.finished) {
      this.recorder.stop().finally(() => this.scheduleSync(0));
    }
  }

  /** @param {number} [delayMs] default: the next backoff step */
  scheduleSync(delayMs) {
    if (this.closed || this.phase !== "offline") return;
    const delay = delayMs ?? backoff(this.syncAttempt++, this.backoffLimits);
    this.later("sync", delay, () => this.syncOnce());
  }

  /** One attempt to hand everything to the server; reschedules itself on failure. */
  async syncOnce() {
    if (this.syncing || this.closed || this.phase !== "offline") return;
    this.syncing = true;
    try {
      await this.sync();
      this.syncAttempt = 0;
    } catch (error) {
      if (error instanceof SyncError && error.fatal) {
        this.emitError(error.code, error.message, true);
        return;
      }
      const delay = error instanceof SyncError && error.retryAfterMs ? error.retryAfterMs : undefined;
      this.setConnection("offline", { reason: error?.code || "network", retrying: true });
      this.scheduleSync(delay);
    } finally {
      this.syncing = false;
    }
  }

  /** Claim the session (same clientSessionId), upload the outbox, complete if finished. */
  async sync() {
    this.setConnection("syncing");
    if (!this.state.sessionId || !this.state.token || this.tokenExpiring()) await this.claim();
    const totals = await this.uploader.outbox();
    // The server is reachable: the recording made offline ends here and goes up too.
    await this.recorder.stop();
    await this.uploader.recording();
    const sessionId = this.state.sessionId;
    if (this.state.offline.finished) {
      await this.uploader.complete();
      await this.finish("completed");
      this.emit("synced", { sessionId, ...totals });
      return;
    }
    const state = { ...this.state, phase: "online", lastSeq: 0, currentQuestion: this.currentQuestion };
    delete state.offline;
    await this.store.putState(state);
    this.state = state;
    this.cancel("offline-question");
    this.emit("synced", { sessionId, ...totals });
    this.emitState();
    this.connect();
  }

  /** @returns {boolean} whether the session token is missing or about to expire */
  tokenExpiring() {
    const expires = Date.parse(this.state?.expiresAt || "");
    return !Number.isFinite(expires) || expires - Date.now() < 60_000;
  }

  /** start-session again with the same clientSessionId: the server returns the same session. */
  async claim() {
    const response = await this.requestStart(this.syncTimeoutMs);
    if (response.ok) {
      const body = response.body;
      this.state = {
        ...this.state,
        sessionId: body.sessionId,
        token: body.token,
        expiresAt: body.expiresAt,
        status: body.status,
        application: body.application,
      };
      await this.store.putState(this.state);
      this.scheduleTokenRefresh();
      return;
    }
    if (unreachable(response)) {
      throw new SyncError(response.network || `HTTP_${response.status}`, "The server is unreachable");
    }
    if (response.status === 429) {
      throw new SyncError("RATE_LIMITED", "Too many attempts", { retryAfterMs: retryAfterMs(response) });
    }
    const code = response.body?.code || `HTTP_${response.status}`;
    // The answers stay on this device: nothing is deleted when the server refuses the session.
    const messages = {
      INVALID_APPLICATION: "Application not found. Your answers are kept on this device.",
      ALREADY_COMPLETED: "This interview was already submitted from elsewhere. Your answers are kept on this device.",
      UNAUTHORIZED: "Your access link has expired. Open the interview link again to upload your answers.",
    };
    throw new SyncError(code, messages[code] || response.body?.error || "The session could not be claimed", {
      fatal: true,
    });
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
    this.channel.stop();
    this.stopMedia();
    for (const name of [...this.timers.keys()]) this.cancel(name);
    await this.store.clear(this.applicationId);
    this.state = { applicationId: this.applicationId, phase: "completed", status, sessionId: this.state?.sessionId };
    this.setConnection("closed");
    this.emitState();
  }

  // ----- the WebSocket channel ------------------------------------------------

  /** Open the channel (it keeps itself connected until stopped). */
  connect() {
    if (this.closed || this.phase !== "online" || this.goingOffline) return;
    this.channel.start();
  }

  /**
   * The `hello` for a new socket: a valid session token, where to resume, what is unacked.
   * @returns {Promise<Object | null>} null when the channel must stop
   */
  async helloMessage() {
    if (this.closed || this.phase !== "online" || this.goingOffline) return null;
    if (!this.state.token || this.tokenExpiring()) {
      try {
        await this.claim();
      } catch (error) {
        if (error instanceof SyncError && error.fatal) {
          this.setConnection("closed");
          this.emitError(error.code, error.message, true);
          return null;
        }
        throw error;
      }
    }
    // The server acks the ids it already stored, so nothing is written twice.
    const pending = await this.store.listOutbox(this.applicationId);
    const pendingIds = pending.slice(0, MAX_PENDING_IDS).map((item) => item.id);
    const lastSeq = this.state.lastSeq > 0 ? this.state.lastSeq : null;
    return { type: "hello", token: this.state.token, lastSeq, pendingIds };
  }

  /** @param {{state: string, downSince: number, attempt?: number, delayMs?: number}} detail */
  onChannelState({ state, downSince, ...extra }) {
    if (this.phase !== "online") return;
    // The server drops its peer with the socket; the next welcome negotiates a fresh one.
    if (state !== "online") this.media?.suspend();
    this.setConnection(state, extra);
    // Too long without the server mid-interview: carry on offline.
    if (downSince && Date.now() - downSince >= this.offlineAfterMs && !this.goingOffline) {
      this.goingOffline = true;
      this.enterOffline({ reason: "disconnected", status: null })
        .catch((error) => this.emitError("LOCAL_STORAGE", String(error)))
        .finally(() => {
          this.goingOffline = false;
        });
    }
  }

  /** @param {number} code */
  onChannelClose(code) {
    if (this.closed || this.phase !== "online") return;
    this.media?.suspend();
    if (code === CLOSE_REPLACED || code === CLOSE_ORIGIN) this.stopMedia();
    if (code === CLOSE_REPLACED) {
      this.setConnection("closed", { code });
      this.emitError("REPLACED", "This interview was opened in another tab or window.", true);
    } else if (code === CLOSE_SESSION_ENDED) {
      this.finish(TERMINAL.has(this.state.status) ? this.state.status : "completed");
    } else if (code === CLOSE_ORIGIN) {
      this.setConnection("closed", { code });
      this.emitError("ORIGIN", "The interview server refused this page's origin.", true);
    } else if (code === CLOSE_UNAUTHORIZED) {
      this.state.token = null; // the next hello gets a fresh one through start-session
    }
  }

  /** @param {OutboxItem} item */
  send(item) {
    return this.channel.send({ type: item.type, id: item.id, ts: item.ts, ...item.payload });
  }

  async resendOutbox() {
    for (const item of await this.store.listOutbox(this.applicationId)) {
      if (!this.send(item)) return;
    }
  }

  /** @param {Object} message a parsed server message */
  async onMessage(message) {
    if (this.phase !== "online") return;
    if (typeof message.seq === "number") {
      if (message.seq <= (this.state.lastSeq || 0)) {
        this.duplicatesDropped += 1;
        return;
      }
      this.state.lastSeq = message.seq;
      this.emit("delivered", { seq: message.seq, type: message.type });
    }
    await this.handleMessage(message);
    if (typeof message.seq === "number" && this.phase === "online") await this.store.putState(this.state);
  }

  /** @param {Object} message */
  async handleMessage(message) {
    switch (message.type) {
      case "welcome":
        this.maxMessageBytes = message.maxMessageBytes;
        this.iceServers = message.iceServers || [];
        this.state.status = message.status;
        // The server's current question wins over whatever this page showed before.
        if (message.currentQuestion) {
          this.setQuestion(message.currentQuestion, message.questionRemainingSeconds ?? undefined, true);
        }
        await this.store.putState(this.state);
        this.setConnection("online");
        this.emitState();
        this.emitQuestion();
        await this.resendOutbox();
        this.startMedia();
        break;
      case "question":
        if (this.setQuestion(message, message.timeLimitSeconds)) this.emitQuestion();
        break;
      case "question.timeout":
        this.emit("timeout", { questionId: message.questionId, number: message.number });
        break;
      case "transcript.final":
      case "transcript.partial":
        this.emit("transcript", { ...message, final: message.type === "transcript.final", source: "server" });
        break;
      case "answer.recorded":
        this.emit("answer", { ...message });
        break;
      case "webrtc.answer":
        await this.media?.acceptAnswer(message.sdp);
        break;
      case "user.speaking.start":
      case "user.speaking.stop":
        this.emit("speaking", { speaking: message.type === "user.speaking.start", level: message.level });
        break;
      case "audio.level":
        this.emit("level", { level: message.level });
        break;
      case "session.state":
        this.state.status = message.status;
        this.emitState();
        if (TERMINAL.has(message.status)) await this.finish(message.status);
        break;
      case "token.refresh":
        if (message.token) {
          this.state.token = message.token;
          this.state.expiresAt = message.expiresAt;
          await this.store.putState(this.state);
          this.scheduleTokenRefresh();
        }
        break;
      case "ack":
        if (Array.isArray(message.ids) && message.ids.length) {
          await this.store.removeOutbox(message.ids);
          this.emit("acked", { ids: message.ids, pending: await this.store.countOutbox(this.applicationId) });
        }
        break;
      case "ping":
        break; // answered by the channel
      case "error":
        await this.onServerError(message);
        break;
      default:
        this.emit("message", message);
    }
  }

  /**
   * Keep the newest question; replays of older ones are ignored.
   * @param {Object} message
   * @param {number | undefined} remainingSeconds
   * @param {boolean} [force] take it even if it is older than the current one
   * @returns {boolean} whether the current question changed
   */
  setQuestion(message, remainingSeconds, force = false) {
    const question = {
      number: message.number,
      total: message.total,
      id: message.id,
      text: message.text,
      category: message.category,
      difficulty: message.difficulty,
      timeLimitSeconds: message.timeLimitSeconds,
    };
    const current = this.state.currentQuestion;
    if (!force && current && current.number > question.number) return false;
    const changed = !current || current.id !== question.id;
    this.state.currentQuestion = question;
    if (changed || typeof remainingSeconds === "number") {
      const seconds = typeof remainingSeconds === "number" ? remainingSeconds : question.timeLimitSeconds;
      this.state.questionDeadline = Date.now() + seconds * 1000;
      this.state.questionDeadlineFor = question.id;
    }
    return changed;
  }

  /** @param {Object} message a server `error` */
  async onServerError(message) {
    if (this.media?.ownsError(message)) {
      // A refused offer or candidate: live media retries or gives up quietly, the interview goes on.
      this.media.onServerError(message);
      return;
    }
    const code = message.code || "ERROR";
    const refusedId = message.id;
    const retryable = message.retryable ?? RETRYABLE_ERRORS.has(code);
    if (refusedId && !retryable) {
      // Resending a refused message would only be refused again.
      await this.store.removeOutbox([refusedId]);
    }
    this.emitError(code, message.message || message.error || "The server reported an error");
  }

  // ----- tokens -----------------------------------------------------------------

  /** Refresh the session token a minute before it expires (unless `token.refresh` comes first). */
  scheduleTokenRefresh() {
    const expires = Date.parse(this.state?.expiresAt || "");
    if (!Number.isFinite(expires)) return;
    this.later("token", expires - Date.now() - 60_000, () => this.refreshToken());
  }

  /** POST .../token; falls back to start-session with the user token. */
  async refreshToken() {
    if (!this.state?.sessionId || !["online", "offline"].includes(this.phase)) return;
    const response = await this.api.refreshToken({
      sessionId: this.state.sessionId,
      token: this.state.token,
      timeoutMs: this.syncTimeoutMs,
    });
    if (response.ok && response.body?.token) {
      this.state.token = response.body.token;
      this.state.expiresAt = response.body.expiresAt;
      await this.store.putState(this.state);
      this.scheduleTokenRefresh();
      return;
    }
    try {
      await this.claim();
    } catch {
      this.later("token", backoff(2, this.backoffLimits), () => this.refreshToken());
    }
  }

  // ----- live media -----------------------------------------------------------

  /** Negotiate live media on the channel that just said welcome (voice and video interviews). */
  startMedia() {
    const mode = this.state.media?.mode || "voice";
    if (this.closed || this.phase !== "online" || mode === "text" || TERMINAL.has(this.state.status)) return;
    if (!LiveMedia.supported()) {
      this.emit("media", { state: "unavailable", reason: "unsupported" });
      return;
    }
    if (!this.media) {
      const media = new LiveMedia({
        backoffInitialMs: Math.max(this.backoffInitialMs, 1000),
        backoffMaxMs: this.backoffMaxMs,
        ...this.mediaOptions,
        send: (message) => this.channel.send(message),
        video: mode === "video",
      });
      media.addEventListener("state", (event) => this.emit("media", event.detail));
      this.media = media;
    }
    this.media.connect(this.iceServers);
  }

  /** No live media any more (offline mode, the end, or the page closing). */
  stopMedia() {
    const media = this.media;
    this.media = null;
    media?.close();
  }

  /** Stop timers and the socket; the saved state stays for a later page load. */
  close() {
    this.closed = true;
    for (const name of [...this.timers.keys()]) this.cancel(name);
    this.recorder.stop();
    this.channel.stop();
    this.stopMedia();
    removeEventListener("online", this.onOnline);
  }
}

/**
 * @param {string} baseUrl
 * @returns {string} the channel's ws:// or wss:// URL
 */
function wsUrl(baseUrl) {
  const url = new URL("/ws/interview", baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
