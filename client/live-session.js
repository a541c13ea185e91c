/**
 * The interview while online, over the realtime channel: the `hello` of every socket,
 * the server's messages (one at a time, in order; replays dropped by `seq`; acks,
 * questions and timeouts handed to the flow, state, tokens, errors), the outbox resent
 * after each `welcome` (paced under the server's rate limit by the channel), the flow's
 * online / reconnecting moves, offline mode when the server stays away too long, and live
 * media on the channel.
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
    /** Ids the server acknowledged on this page: a queued resend of one is dropped. */
    this.acked = new Set();
    // Server messages are handled one at a time, in the order they came.
    this.inbox = Promise.resolve();
    this.channel.addEventListener("message", (event) => {
      this.inbox = this.inbox
        .then(() => this.onMessage(event.detail))
        .catch((error) => client.emitError("CLIENT", String(error)));
    });
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
    // Without the server the interview goes on here (the flow keeps its question and answers).
    if ((state === "reconnecting" || state === "offline") && client.flow.state === "online") {
      client.flow.go("reconnecting");
      client.emitState();
    }
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
    const message = { type: item.type, id: item.id, ts: item.ts, ...item.payload };
    return this.channel.send(message, { drop: () => this.acked.has(item.id) });
  }

  /** Everything unacknowledged, oldest first, behind the channel's pacing (never a burst over the limit). */
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
        if (client.flow.state === "reconnecting") client.flow.go("online");
        // The server's current question and its time left: the flow follows it unless it is ahead.
        if (message.currentQuestion) {
          await client.serverAsks(message.currentQuestion, message.questionRemainingSeconds ?? undefined);
        } else {
          await client.saveFlow();
        }
        client.setConnection("online");
        client.emitState();
        client.emitQuestion();
        await this.resendOutbox();
        this.startMedia();
        break;
      case "question":
        await client.serverAsks(questionOf(message));
        break;
      case "question.timeout":
        client.emit("timeout", { questionId: message.questionId, number: message.number });
        await client.serverTimedOut(message.questionId);
        break;
      case "transcript.final":
      case "transcript.partial": {
        const final = message.type === "transcript.final";
        client.hearSpeech({ questionId: message.questionId, text: message.text, final });
        client.emit("transcript", { ...message, final, source: "server" });
        break;
      }
      case "answer.recorded":
        client.emit("answer", { ...message });
        break;
      case "webrtc.answer":
        await this.media?.acceptAnswer(message.sdp);
        break;
      case "user.speaking.start":
        client.hearSpeech();
        client.emit("speaking", { speaking: true, level: message.level });
        break;
      case "user.speaking.stop":
        client.emit("speaking", { speaking: false, level: message.level });
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
          for (const id of message.ids) this.acked.add(id);
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

  /** @param {Object} message a server `error` */
  async onServerError(message) {
    if (this.media?.ownsError(message)) {
      // A refused offer or candidate: live media retries or gives up quietly, the interview goes on.
      this.media.onServerError(message);
      return;
    }
    const code = message.code || "ERROR";
    if (code === "RATE_LIMITED") {
      // Over the limit (the pacing should prevent it): wait, then send the refused message again.
      this.channel.holdOff(message.details?.retryAfterMs ?? 1000);
      const items = await this.client.store.listOutbox(this.client.applicationId);
      const refused = items.find((item) => item.id === message.id);
      if (refused) this.send(refused);
      return;
    }
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
 * A `question` message as the flow keeps it.
 * @param {Object} message
 */
function questionOf(message) {
  const { number, total, id, text, category, difficulty, timeLimitSeconds } = message;
  return { number, total, id, text, category, difficulty, timeLimitSeconds };
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
