/**
 * Offline mode: the interview runs on this device from the cached question pack (or
 * the built-in set), each question's time limit kept here, a voice or video interview
 * recorded locally; when the server is back everything goes up through the uploader,
 * then the session is completed or the interview carries on online.
 * @module offline-engine
 */

import { TERMINAL_STATUSES } from "./api.js";
import { backoff } from "./backoff.js";
import { fallbackQuestions } from "./fallback-questions.js";
import { LocalRecorder } from "./local-recorder.js";
import { BATCHABLE, SyncError } from "./uploader.js";

/**
 * @typedef {import("./interview-client.js").InterviewClient} InterviewClient
 * @typedef {import("./fallback-questions.js").Question} Question
 */

export class OfflineEngine {
  /** @param {InterviewClient} client */
  constructor(client) {
    this.client = client;
    this.recorder = new LocalRecorder(client.store, client.applicationId);
    this.syncAttempt = 0;
    this.syncing = false;
    // Offline mode retries as soon as the browser says the network is back.
    this.onOnline = () => {
      if (client.phase === "offline") this.scheduleSync(0);
    };
    addEventListener("online", this.onOnline);
  }

  /**
   * Fetch the offline question pack and keep it in IndexedDB for offline mode.
   * @returns {Promise<Object | null>} the pack, or null when it could not be fetched
   */
  async cachePack() {
    const client = this.client;
    const token = client.getUserToken();
    if (!token) return null;
    const response = await client.api.offlinePack({
      userToken: token,
      applicationId: client.applicationId,
      timeoutMs: client.syncTimeoutMs,
    });
    if (!response.ok || !Array.isArray(response.body?.questions)) return null;
    await client.store.savePack(client.applicationId, response.body);
    return response.body;
  }

  /**
   * Run the interview locally from the cached pack (or the built-in set).
   * @param {{reason: string, status?: number | null}} cause
   */
  async enter(cause) {
    const client = this.client;
    const pack = await client.store.getPack(client.applicationId);
    const online = client.phase === "online";
    let questions;
    let source;
    let index = 0;
    if (pack?.questions?.length) {
      questions = pack.questions;
      source = "pack";
    } else {
      questions = online && client.state.currentQuestion ? [client.state.currentQuestion] : fallbackQuestions();
      source = online ? "session" : "fallback";
    }
    let finished = false;
    if (online) {
      // Mid-interview: carry on from the question the server asked last.
      const current = client.state.currentQuestion;
      const at = current ? questions.findIndex((q) => q.id === current.id) : -1;
      index = at >= 0 ? at : Math.min(questions.length, Math.max(0, (current?.number ?? 1) - 1));
      finished = TERMINAL_STATUSES.has(client.state.status) || index >= questions.length;
    }
    client.live.stop();
    const state = {
      ...client.state,
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
    await client.store.putState(state);
    client.state = state;
    // Control messages cannot be uploaded in a batch; their effect is kept in the state.
    for (const item of await client.store.listOutbox(client.applicationId)) {
      if (!BATCHABLE.has(item.type)) {
        if (item.type === "session.complete") client.state.offline.finished = true;
        await client.store.removeOutbox([item.id]);
      }
    }
    await client.store.putState(client.state);
    await client.record("event", {
      name: "interview.session.api_failed",
      payload: { reason: cause.reason, status: cause.status ?? null, during: online ? "interview" : "start" },
    });
    await client.record("event", {
      name: "interview.session.offline_mode",
      payload: { questionSource: source, questionCount: questions.length },
    });
    client.setConnection("offline", { reason: cause.reason });
    client.emit("offline", { reason: cause.reason, source, restored: false });
    client.emitState();
    client.emitQuestion();
    this.armTimer();
    if (!finished) this.startRecording();
    this.scheduleSync();
  }

  /** Carry on with the offline interview saved before a reload (or a crash). */
  resume() {
    const client = this.client;
    const offline = client.state.offline;
    client.setConnection("offline", { reason: offline.reason });
    client.emit("offline", { reason: offline.reason, source: offline.source, restored: true });
    client.emitQuestion();
    this.armTimer();
    if (!offline.finished) this.startRecording();
    this.scheduleSync(0);
  }

  /** Offline, a voice or video interview is recorded locally (uploaded with the rest). */
  startRecording() {
    if (this.client.phase !== "offline" || this.client.state.offline.mode === "text") return;
    this.recorder.start().then((started) => {
      if (started) this.client.emit("recording", { recording: true });
    });
  }

  /**
   * Record an answer or a skip, and move to the next question in the same transaction.
   * @param {string} type answer.submit | question.next
   * @param {Object} payload
   * @returns {Promise<string>} the message id
   */
  async step(type, payload) {
    const id = await this.client.record(type, payload, this.advancedState());
    this.afterStep();
    return id;
  }

  /** @returns {Object} the state after moving past the current offline question */
  advancedState() {
    const state = this.client.state;
    const offline = state.offline;
    const index = offline.index + 1;
    return {
      ...state,
      offline: {
        ...offline,
        index,
        finished: index >= offline.questions.length,
        questionStartedAt: new Date().toISOString(),
      },
    };
  }

  /** After a step: show the next question or the end, and keep syncing. */
  afterStep() {
    const client = this.client;
    client.emitState();
    client.emitQuestion();
    this.armTimer();
    if (client.state.offline.finished) {
      this.recorder.stop().finally(() => this.scheduleSync(0));
    }
  }

  /**
   * @param {Question} question the current offline question
   * @returns {number} when its time runs out (ms since the epoch)
   */
  deadline(question) {
    return Date.parse(this.client.state.offline.questionStartedAt) + question.timeLimitSeconds * 1000;
  }

  /** Offline, the client keeps each question's time limit itself. */
  armTimer() {
    const client = this.client;
    client.timers.cancel("offline-question");
    if (client.phase !== "offline" || client.state.offline.finished) {
      if (client.phase === "offline") client.emitState();
      return;
    }
    const question = client.currentQuestion;
    client.timers.later("offline-question", this.deadline(question) - Date.now(), () => {
      if (client.phase === "offline" && client.currentQuestion?.id === question.id) {
        client.nextQuestion().catch((error) => client.emitError("LOCAL_STORAGE", String(error)));
      }
    });
  }

  /**
   * The candidate ended the interview offline: it is completed once everything is uploaded.
   * @returns {Promise<null>}
   */
  async end() {
    const client = this.client;
    const state = { ...client.state, offline: { ...client.state.offline, finished: true } };
    await client.store.putState(state);
    client.state = state;
    client.timers.cancel("offline-question");
    client.emitState();
    await this.recorder.stop();
    this.scheduleSync(0);
    return null;
  }

  /** @param {number} [delayMs] default: the next backoff step */
  scheduleSync(delayMs) {
    const client = this.client;
    if (client.closed || client.phase !== "offline") return;
    const delay = delayMs ?? backoff(this.syncAttempt++, client.backoffLimits);
    client.timers.later("sync", delay, () => this.syncOnce());
  }

  /** One attempt to hand everything to the server; reschedules itself on failure. */
  async syncOnce() {
    const client = this.client;
    if (this.syncing || client.closed || client.phase !== "offline") return;
    this.syncing = true;
    try {
      await this.sync();
      this.syncAttempt = 0;
    } catch (error) {
      if (error instanceof SyncError && error.fatal) {
        client.emitError(error.code, error.message, true);
        return;
      }
      const delay = error instanceof SyncError && error.retryAfterMs ? error.retryAfterMs : undefined;
      client.setConnection("offline", { reason: error?.code || "network", retrying: true });
      this.scheduleSync(delay);
    } finally {
      this.syncing = false;
    }
  }

  /** Claim the session (same clientSessionId), upload the outbox, complete if finished. */
  async sync() {
    const client = this.client;
    client.setConnection("syncing");
    if (!client.state.sessionId || !client.state.token || client.starter.tokenExpiring()) {
      await client.starter.claim();
    }
    const totals = await client.uploader.outbox();
    // The server is reachable: the recording made offline ends here and goes up too.
    await this.recorder.stop();
    await client.uploader.recording();
    const sessionId = client.state.sessionId;
    if (client.state.offline.finished) {
      await client.uploader.complete();
      await client.finish("completed");
      client.emit("synced", { sessionId, ...totals });
      return;
    }
    const state = { ...client.state, phase: "online", lastSeq: 0, currentQuestion: client.currentQuestion };
    delete state.offline;
    await client.store.putState(state);
    client.state = state;
    client.timers.cancel("offline-question");
    client.emit("synced", { sessionId, ...totals });
    client.emitState();
    client.live.connect();
  }

  /** The page is closing: stop recording and listening (the saved state stays). */
  close() {
    this.recorder.stop();
    removeEventListener("online", this.onOnline);
  }
}
