/**
 * The browser side of an interview: start-session, the realtime WebSocket channel,
 * and an offline mode that keeps the interview going when the server is unreachable.
 *
 * Everything the candidate says or does is first written to IndexedDB (the outbox)
 * and only then shown as saved; it leaves the outbox when the server acknowledges it
 * (a WebSocket `ack`, or the answer of the batch upload endpoint).
 *
 * Events (all `CustomEvent`s):
 * `question` (with its draft and deadline), `waiting` (an answer is given, the next question
 * comes from the server), `warning` (30 or 10 seconds left), `timeUp` (the time ran out: the
 * draft was submitted, or the question passed), `transcript`, `state`, `connection`,
 * `offline`, `error`, `synced`,
 * plus `saved` (an item is durably stored on this device), `acked` (the server has it),
 * `delivered` (a server message with a new `seq`), `answer` (`answer.recorded`), `timeout`,
 * `notApplied` (the server kept a command that changed nothing, e.g. a late skip),
 * `capabilities` (does the server transcribe and speak here), `questionAudio` (the interviewer's
 * voice started, ended or was interrupted), `voiceTrack` and `localStream` (media streams for
 * the page's audio element and self-view),
 * `recording` (local recording started, or uploaded), and for live media (WebRTC, online
 * voice and video interviews only) `media` (the peer's state), `speaking` and `level`.
 *
 * This class is the public entry point and keeps the interview state. The interview's flow
 * (which question is on screen, its draft and time limit, the answers given, and the
 * online / reconnecting / offline / syncing / ended state) is one InterviewFlow
 * (interview-flow.js), saved with the rest in IndexedDB; every change of it passes through
 * here. The work is done by session-start.js (start-session, claims, tokens),
 * live-session.js (the channel while online) and offline-engine.js (the interview on this
 * device, and the sync).
 * @module interview-client
 */

import { InterviewApi, uuid } from "./api.js";
import { InterviewFlow, clip } from "./interview-flow.js";
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
 * @typedef {import("./interview-flow.js").FlowAction} FlowAction
 */

// Typing is saved to IndexedDB at most this often (and when the page is hidden).
const DRAFT_SAVE_MS = 300;
// Flow states in which an interview is running (and is picked up again after a reload).
const RUNNING = new Set(["online", "reconnecting", "offline", "syncing"]);
const PHASE_OF = {
  online: "online",
  reconnecting: "online",
  offline: "offline",
  syncing: "offline",
  ended: "completed",
};

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
    /** @type {Object | null} the persisted interview state (see OfflineStore); `flow` is the flow's snapshot */
    this.state = null;
    /** The interview's flow; its snapshot is saved in `state.flow`. */
    this.flow = new InterviewFlow();
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

  /** @returns {string} idle | starting | online (or reconnecting) | offline (or syncing) | completed */
  get phase() {
    return PHASE_OF[this.flow.state] ?? this.flow.state;
  }

  /** @returns {Question | null} the question on screen */
  get currentQuestion() {
    return this.flow.current;
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
      flow: this.flow.state,
      status: this.state?.status ?? null,
      sessionId: this.sessionId,
      finishedOffline: this.phase === "offline" && this.flow.finished,
    });
  }

  /** Show what the flow has on screen: the current question (with its draft), or "waiting". */
  emitQuestion() {
    const question = this.flow.current;
    if (!question) {
      if (this.flow.waiting) this.emit("waiting", { answered: this.flow.answeredCount });
      return;
    }
    const draft = this.flow.draftOf(question.id);
    this.emit("question", { question, offline: this.phase === "offline", deadline: this.flow.deadline, draft });
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
    if (!saved?.flow || !RUNNING.has(saved.flow.state)) {
      if (saved) this.state = saved; // keeps the clientSessionId of an unfinished start
      return false;
    }
    this.state = saved;
    this.flow = new InterviewFlow(saved.flow);
    // A sync the reload cut short is tried again from offline mode.
    if (this.flow.state === "syncing") this.flow.go("offline");
    this.emitState();
    if (this.phase === "offline") {
      this.offline.resume();
    } else {
      this.emitQuestion();
      this.armQuestionTimer();
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
    if (this.flow.can("ended")) this.flow.go("ended");
    this.state = { applicationId: this.applicationId, status, sessionId: this.state?.sessionId };
    this.setConnection("ended", { status });
    this.emitState();
  }

  // ----- the flow -----------------------------------------------------------------------

  /** Save the flow with the rest of the state (the draft on screen included). */
  async saveFlow() {
    this.timers.cancel("draft");
    if (!this.state || !RUNNING.has(this.flow.state)) return;
    this.state.flow = this.flow.snapshot();
    await this.store.putState(this.state);
  }

  /**
   * Record the messages a flow change produced and the flow itself in one transaction, then
   * show the flow's new question and re-arm its timer.
   * @param {(FlowAction | null)[]} actions
   * @returns {Promise<string[]>} the ids of the recorded messages
   */
  async commit(actions) {
    const ids = [];
    const todo = actions.filter((action) => action !== null);
    if (todo.length) {
      this.state.flow = this.flow.snapshot();
      const items = todo.map(({ type, payload }) => this.outboxItem(type, payload));
      await this.store.addOutboxWithState(items, this.state);
      for (const item of items) {
        ids.push(item.id);
        await this.afterRecord(item);
      }
    } else {
      await this.saveFlow();
    }
    this.emitState();
    this.emitQuestion();
    this.armQuestionTimer();
    if (this.phase === "offline" && this.flow.finished) this.offline.finishedHere();
    return ids;
  }

  /** Run the current question's time limit here (online too: the server's runs a little later). */
  armQuestionTimer() {
    this.timers.cancel("question-time");
    this.timers.cancel("question-warning");
    const question = this.flow.current;
    if (!question || this.flow.deadline === null || !RUNNING.has(this.flow.state)) return;
    this.timers.later("question-time", this.flow.deadline - Date.now(), () => {
      this.timeUp().catch((error) => this.emitError("LOCAL_STORAGE", String(error)));
    });
    const warnAt = this.flow.nextWarningAt();
    if (warnAt !== null) {
      this.timers.later("question-warning", warnAt - Date.now(), () => {
        const seconds = this.flow.dueWarning(Date.now());
        if (seconds !== null) {
          this.emit("warning", { questionId: question.id, seconds });
          this.saveFlow().catch(() => {});
        }
        this.armQuestionTimer();
      });
    }
  }

  /** The time is up: the draft is submitted as the answer (or, with none, the question is passed). */
  async timeUp() {
    const question = this.flow.current;
    const action = this.flow.timeUp(Date.now());
    if (!question || !action) {
      this.armQuestionTimer();
      return;
    }
    await this.commit([action]);
    // After the next question is on screen, so that the notice is about the one that ended.
    this.emit("timeUp", { questionId: question.id, submitted: action.type === "answer.submit" });
  }

  /**
   * The server asks `question` (welcome, `question`, start-session): the flow follows it.
   * @param {Question} question
   * @param {number} [remainingSeconds]
   */
  async serverAsks(question, remainingSeconds) {
    const shown = this.flow.currentId;
    const actions = this.flow.serverAsks(question, Date.now(), remainingSeconds);
    if (actions.length || shown !== this.flow.currentId) await this.commit(actions);
    else {
      await this.saveFlow();
      this.armQuestionTimer();
    }
  }

  /**
   * The server timed a question out: a draft left on it becomes its answer.
   * @param {string} questionId
   */
  async serverTimedOut(questionId) {
    const shown = this.flow.currentId;
    const actions = this.flow.serverTimedOut(questionId, Date.now());
    if (actions.length || shown !== this.flow.currentId) await this.commit(actions);
  }

  /**
   * The candidate typed: the draft is kept in the flow and saved to IndexedDB shortly.
   * @param {string} text
   */
  saveDraft(text) {
    if (!RUNNING.has(this.flow.state)) return;
    const question = this.flow.current;
    if (this.flow.setDraft(text, Date.now()) && question) {
      this.record("answer.start", { questionId: question.id }).catch(() => {});
    }
    this.timers.later("draft", DRAFT_SAVE_MS, () => this.saveFlow().catch(() => {}));
  }

  /**
   * Speech of the candidate, part of a question's draft (voice and video interviews).
   * @param {{questionId?: string | null, text?: string, final?: boolean}} [line] a transcript line;
   *   none: speech was heard (its words are on their way)
   */
  hearSpeech({ questionId, text, final } = {}) {
    if (!RUNNING.has(this.flow.state)) return;
    if (final && text) this.flow.addSpoken(questionId, text);
    else if (!questionId || questionId === this.flow.currentId) this.flow.heardSpeech();
    this.timers.later("draft", DRAFT_SAVE_MS, () => this.saveFlow().catch(() => {}));
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
   * @param {string} type
   * @param {Object} payload
   * @returns {OutboxItem}
   */
  outboxItem(type, payload) {
    return { id: uuid(), applicationId: this.applicationId, type, payload, ts: new Date().toISOString() };
  }

  /**
   * An item is in the outbox: tell the page, send it when the channel is up.
   * @param {OutboxItem} item
   */
  async afterRecord(item) {
    const pending = await this.store.countOutbox(this.applicationId);
    this.emit("saved", { id: item.id, type: item.type, pending, questionId: item.payload.questionId ?? null });
    if (this.phase === "online") this.live.send(item);
  }

  /**
   * Store a client message durably, then send it when the channel is up.
   * @param {string} type
   * @param {Object} payload
   * @returns {Promise<string>} the message id
   */
  async record(type, payload) {
    if (!this.state || !RUNNING.has(this.flow.state)) {
      throw new Error("The interview is not running");
    }
    const item = this.outboxItem(type, payload);
    await this.store.addOutbox(item);
    await this.afterRecord(item);
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
   * Submit the answer to the current question (typed text, or what was said) and move on.
   * @param {{text?: string}} [answer] default: the saved draft
   * @returns {Promise<string | null>} the answer id, or null when there is no question
   */
  async submitAnswer({ text } = {}) {
    const action = this.flow.answer(Date.now(), { text });
    if (!action) return null;
    const [id] = await this.commit([action]);
    return id;
  }

  /**
   * Skip the current question.
   * @returns {Promise<string | null>}
   */
  async nextQuestion() {
    const action = this.flow.skip(Date.now());
    if (!action) return null;
    const [id] = await this.commit([action]);
    return id;
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
    if (question) payload.questionId = question.id;
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
   * End the interview (a draft on screen is submitted first). Offline, it is completed on the
   * server once everything is uploaded.
   * @returns {Promise<string | null>}
   */
  async end() {
    if (this.phase !== "online" && this.phase !== "offline") return null;
    const offline = this.phase === "offline";
    await this.commit(this.flow.end(Date.now()));
    if (offline) return this.offline.end();
    return this.record("session.complete", {});
  }
}
