/**
 * The interview while online, over the realtime channel: the `hello` of every socket,
 * the server's messages (replays dropped by `seq`, acks, questions, state, tokens,
 * errors), the outbox resent after each `welcome`, offline mode when the server stays
 * away too long, and live media on the channel.
 * @module live-session
 */

import { TERMINAL_STATUSES } from "./api.js";
import {
  CLOSE_ORIGIN,
  CLOSE_REPLACED,
  CLOSE_SESSION_DELETED,
  CLOSE_SESSION_ENDED,
  CLOSE_UNAUTHORIZED,
  Channel,
} from "./channel.js";
import { LiveMedia } from "./media.js";
import { SyncError } from "./uploader.js";

/**
 * @typedef {import("./interview-client.js").InterviewClient} InterviewClient
 * @typedef {import("./offline-store.js").OutboxItem} OutboxItem
 */

const MAX_PENDING_IDS = 1000;
// Server error codes that mean "this message will never be accepted": stop resending it.
const RETRYABLE_ERRORS = new Set(["STORAGE_UNAVAILABLE", "RATE_LIMITED", "INTERNAL_ERROR"]);

export class LiveSession {
  /** @param {InterviewClient} client */
  constructor(client) {
    this.client = client;
    /** @type {LiveMedia | null} live audio (and video) to the server while online */
    this.media = null;
    /** @type {RTCIceServer[]} from the last `welcome` */
    this.iceServers = [];
    // Set while the switch to offline mode runs: no new socket meanwhile.
    this.goingOffline = false;
    this.channel = new Channel({
      url: wsUrl(client.baseUrl),
      hello: () => this.hello(),
      backoffInitialMs: client.backoffInitialMs,
      backoffMaxMs: client.backoffMaxMs,
    });
    this.channel.addEventListener("message", (event) =>
      this.onMessage(event.detail).catch((error) => client.emitError("CLIENT", String(error))),
    );
    this.channel.addEventListener("state", (event) => this.onChannelState(event.detail));
    this.channel.addEventListener("close", (event) => this.onChannelClose(event.detail.code));
  }

  /** Open the channel (it keeps itself connected until stopped). */
  connect() {
    if (this.client.closed || this.client.phase !== "online" || this.goingOffline) return;
    this.channel.start();
  }

  /** Close the channel and live media (offline mode, the end, or the page closing). */
  stop() {
    this.channel.stop();
    this.stopMedia();
  }

  /**
   * The `hello` for a new socket: a valid session token, where to resume, what is unacked.
   * @returns {Promise<Object | null>} null when the channel must stop
   */
  async hello() {
    const client = this.client;
    if (client.closed || client.phase !== "online" || this.goingOffline) return null;
    if (!client.state.token || client.starter.tokenExpiring()) {
      try {
        await client.starter.claim();
      } catch (error) {
        if (error instanceof SyncError && error.fatal) {
          client.setConnection("closed");
          client.emitError(error.code, error.message, true);
          return null;
        }
        throw error;
      }
    }
    // The server acks the ids it already stored, so nothing is written twice.
    const pending = await client.store.listOutbox(client.applicationId);
    const pendingIds = pending.slice(0, MAX_PENDING_IDS).map((item) => item.id);
    const lastSeq = client.state.lastSeq > 0 ? client.state.lastSeq : null;
    return { type: "hello", token: client.state.token, lastSeq, pendingIds };
  }

  /** @param {{state: string, downSince: number, attempt?: number, delayMs?: number}} detail */
  onChannelState({ state, downSince, ...extra }) {
    const client = this.client;
    if (client.phase !== "online") return;
    // The server drops its peer with the socket; the next welcome negotiates a fresh one.
    if (state !== "online") this.media?.suspend();
    client.setConnection(state, extra);
    // Too long without the server mid-interview: carry on offline.
    if (downSince && Date.now() - downSince >= client.offlineAfterMs && !this.goingOffline) {
      this.goingOffline = true;
      client.offline
        .enter({ reason: "disconnected", status: null })
        .catch((error) => client.emitError("LOCAL_STORAGE", String(error)))
        .finally(() => {
          this.goingOffline = false;
        });
    }
  }

  /** @param {number} code */
  onChannelClose(code) {
    const client = this.client;
    if (client.closed || client.phase !== "online") return;
    this.media?.suspend();
    if (code === CLOSE_REPLACED || code === CLOSE_ORIGIN || code === CLOSE_SESSION_DELETED) this.stopMedia();
    if (code === CLOSE_SESSION_DELETED) {
      client.setConnection("closed", { code });
      client.emitError("SESSION_DELETED", "This interview was deleted.", true);
    } else if (code === CLOSE_REPLACED) {
      client.setConnection("closed", { code });
      client.emitError("REPLACED", "This interview was opened in another tab or window.", true);
    } else if (code === CLOSE_SESSION_ENDED) {
      client.finish(TERMINAL_STATUSES.has(client.state.status) ? client.state.status : "completed");
    } else if (code === CLOSE_ORIGIN) {
      client.setConnection("closed", { code });
      client.emitError("ORIGIN", "The interview server refused this page's origin.", true);
    } else if (code === CLOSE_UNAUTHORIZED) {
      client.state.token = null; // the next hello gets a fresh one through start-session
    }
  }

  /**
   * @param {OutboxItem} item
   * @returns {boolean} whether it was sent (the channel is up)
   */
  send(item) {
    return this.channel.send({ type: item.type, id: item.id, ts: item.ts, ...item.payload });
  }

  async resendOutbox() {
    for (const item of await this.client.store.listOutbox(this.client.applicationId)) {
      if (!this.send(item)) return;
    }
  }

  /** @param {Object} message a parsed server message */
  async onMessage(message) {
    const client = this.client;
    if (client.phase !== "online") return;
    if (typeof message.seq === "number") {
      if (message.seq <= (client.state.lastSeq || 0)) return; // a replay of what this page has seen
      client.state.lastSeq = message.seq;
      client.emit("delivered", { seq: message.seq, type: message.type });
    }
    await this.handleMessage(message);
    if (typeof message.seq === "number" && client.phase === "online") await client.store.putState(client.state);
  }

  /** @param {Object} message */
  async handleMessage(message) {
    const client = this.client;
    switch (message.type) {
      case "welcome":
        this.iceServers = message.iceServers || [];
        client.state.status = message.status;
        // Whether the server transcribes speech and speaks the questions in this deployment.
        client.capabilities = message.media || { transcription: false, voice: null };
        client.emit("capabilities", client.capabilities);
        // The server's current question wins over whatever this page showed before.
        if (message.currentQuestion) {
          this.setQuestion(message.currentQuestion, message.questionRemainingSeconds ?? undefined, true);
        }
        await client.store.putState(client.state);
        client.setConnection("online");
        client.emitState();
        client.emitQuestion();
        await this.resendOutbox();
        this.startMedia();
        break;
      case "question":
        if (this.setQuestion(message, message.timeLimitSeconds)) client.emitQuestion();
        break;
      case "question.timeout":
        client.emit("timeout", { questionId: message.questionId, number: message.number });
        break;
      case "transcript.final":
      case "transcript.partial":
        client.emit("transcript", { ...message, final: message.type === "transcript.final", source: "server" });
        break;
      case "answer.recorded":
        client.emit("answer", { ...message });
        break;
      case "webrtc.answer":
        await this.media?.acceptAnswer(message.sdp);
        break;
      case "user.speaking.start":
      case "user.speaking.stop":
        client.emit("speaking", { speaking: message.type === "user.speaking.start", level: message.level });
        break;
      case "audio.level":
        client.emit("level", { level: message.level });
        break;
      case "question.audio":
        client.emit("questionAudio", { ...message });
        break;
      case "session.state":
        client.state.status = message.status;
        client.emitState();
        if (TERMINAL_STATUSES.has(message.status)) await client.finish(message.status);
        break;
      case "token.refresh":
        if (message.token) await client.starter.saveToken(message);
        break;
      case "ack":
        if (Array.isArray(message.ids) && message.ids.length) {
          await client.store.removeOutbox(message.ids);
          client.emit("acked", { ids: message.ids, pending: await client.store.countOutbox(client.applicationId) });
        }
        break;
      case "ping":
        break; // answered by the channel
      case "error":
        await this.onServerError(message);
        break;
      default:
        client.emit("message", message);
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
    const state = this.client.state;
    const question = {
      number: message.number,
      total: message.total,
      id: message.id,
      text: message.text,
      category: message.category,
      difficulty: message.difficulty,
      timeLimitSeconds: message.timeLimitSeconds,
    };
    const current = state.currentQuestion;
    if (!force && current && current.number > question.number) return false;
    const changed = !current || current.id !== question.id;
    state.currentQuestion = question;
    if (changed || typeof remainingSeconds === "number") {
      const seconds = typeof remainingSeconds === "number" ? remainingSeconds : question.timeLimitSeconds;
      state.questionDeadline = Date.now() + seconds * 1000;
      state.questionDeadlineFor = question.id;
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
    if (message.details?.stored) {
      // Kept on the server (and acked) but it changed nothing, e.g. the question had already
      // timed out: nothing is lost, so this is a notice, not an error.
      this.client.emit("notApplied", { id: message.id, code, message: message.message });
      return;
    }
    const refusedId = message.id;
    const retryable = message.retryable ?? RETRYABLE_ERRORS.has(code);
    if (refusedId && !retryable) {
      // Refused for good (invalid, or what the store cannot keep): resending it would only be
      // refused again, so it is set aside on this device, never resent, and reported once, here.
      // The socket stays up: a refusal is not an outage.
      const field = Array.isArray(message.details) ? message.details[0]?.field ?? null : null;
      const refusal = { id: refusedId, code, message: message.message || "", field };
      if (await this.client.store.quarantine([refusal])) {
        this.client.emit("quarantined", { ids: [refusedId], codes: [code] });
      }
    }
    this.client.emitError(code, message.message || message.error || "The server reported an error");
  }

  /** Negotiate live media on the channel that just said welcome (voice and video interviews). */
  startMedia() {
    const client = this.client;
    const mode = client.state.media?.mode || "voice";
    if (client.closed || client.phase !== "online" || mode === "text" || TERMINAL_STATUSES.has(client.state.status)) {
      return;
    }
    if (!LiveMedia.supported()) {
      client.emit("media", { state: "unavailable", reason: "unsupported" });
      return;
    }
    if (!this.media) {
      const media = new LiveMedia({
        backoffInitialMs: Math.max(client.backoffInitialMs, 1000),
        backoffMaxMs: client.backoffMaxMs,
        ...client.mediaOptions,
        send: (message) => this.channel.send(message),
        video: mode === "video",
      });
      media.addEventListener("state", (event) => client.emit("media", event.detail));
      media.addEventListener("remote", (event) => client.emit("voiceTrack", event.detail));
      media.addEventListener("local", (event) => client.emit("localStream", event.detail));
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
