/**
 * Offline mode: the interview runs on this device from the cached question pack (or
 * the built-in set), carrying on from the flow's current question with its draft and the
 * answers already given; a voice or video interview is recorded locally. When the server
 * is back everything goes up through the uploader (the flow is `syncing`), then the
 * session is completed or the interview carries on online.
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
   * Run the interview locally from the cached pack (or the built-in set), from where the flow is.
   * @param {{reason: string, status?: number | null}} cause
   */
  async enter(cause) {
    const client = this.client;
    const flow = client.flow;
    const pack = await client.store.getPack(client.applicationId);
    const during = flow.state === "starting" ? "start" : "interview";
    const now = Date.now();
    if (pack?.questions?.length) flow.useQuestions(pack.questions, "pack", now);
    else if (!flow.questions.length) flow.useQuestions(fallbackQuestions(), "fallback", now);
    if (TERMINAL_STATUSES.has(client.state.status)) flow.end(now);
    const source = flow.source;
    client.live.stop();
    flow.go("offline");
    client.state = {
      ...client.state,
      offline: { source, reason: cause.reason, mode: pack?.interview?.mode || client.state.media?.mode || "voice" },
    };
    // Control messages cannot be uploaded in a batch; their effect is kept in the flow.
    const control = (await client.store.listOutbox(client.applicationId)).filter((item) => !BATCHABLE.has(item.type));
    if (control.some((item) => item.type === "session.complete")) flow.end(now);
    await client.store.removeOutbox(control.map((item) => item.id));
    await client.saveFlow();
    await client.record("event", {
      name: "interview.session.api_failed",
      payload: { reason: cause.reason, status: cause.status ?? null, during },
    });
    await client.record("event", {
      name: "interview.session.offline_mode",
      payload: { questionSource: source, questionCount: flow.questions.length },
    });
    client.setConnection("offline", { reason: cause.reason });
    client.emit("offline", { reason: cause.reason, source, restored: false });
    client.emitState();
    client.emitQuestion();
    client.armQuestionTimer();
    if (!flow.finished) this.startRecording();
    this.scheduleSync();
  }

  /** Carry on with the offline interview saved before a reload (or a crash). */
  resume() {
    const client = this.client;
    const offline = client.state.offline;
    client.setConnection("offline", { reason: offline.reason });
    client.emit("offline", { reason: offline.reason, source: offline.source, restored: true });
    client.emitQuestion();
    client.armQuestionTimer();
    if (!client.flow.finished) this.startRecording();
    this.scheduleSync(0);
  }

  /** Offline, a voice or video interview is recorded locally (uploaded with the rest). */
  startRecording() {
    if (this.client.phase !== "offline" || this.client.state.offline.mode === "text") return;
    this.recorder.start().then((started) => {
      if (started) this.client.emit("recording", { recording: true });
    });
  }

  /** The last question is behind the candidate: the recording ends, and everything goes up. */
  finishedHere() {
    this.recorder.stop().finally(() => this.scheduleSync(0));
  }

  /**
   * The candidate ended the interview offline (the flow is finished): it is completed once
   * everything is uploaded.
   * @returns {Promise<null>}
   */
  async end() {
    const client = this.client;
    client.timers.cancel("question-time");
    await client.saveFlow();
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
      if (client.flow.state === "syncing") client.flow.go("offline");
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
    client.flow.go("syncing");
    client.setConnection("syncing");
    if (!client.state.sessionId || !client.state.token || client.starter.tokenExpiring()) {
      await client.starter.claim();
    }
    const totals = await client.uploader.outbox();
    // The server is reachable: the recording made offline ends here and goes up too.
    await this.recorder.stop();
    await client.uploader.recording();
    const sessionId = client.state.sessionId;
    if (client.flow.finished) {
      await client.uploader.outbox(); // the last answer may have been given while the rest went up
      await client.uploader.complete();
      await client.finish("completed");
      client.emit("synced", { sessionId, ...totals });
      return;
    }
    // Online again from where the flow is; the replay from seq 0 lets the server's questions catch up.
    client.flow.go("online");
    const state = { ...client.state, lastSeq: 0, flow: client.flow.snapshot() };
    delete state.offline;
    await client.store.putState(state);
    client.state = state;
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
