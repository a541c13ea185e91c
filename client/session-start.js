/**
 * The session as start-session gives it: the first start (once more at once when the
 * server is unreachable, rate limits waited out), claims that start again with the same
 * clientSessionId to get the same session with a fresh token, and the token refresh.
 * @module session-start
 */

import { TERMINAL_STATUSES, retryAfterMs, unreachable, uuid } from "./api.js";
import { backoff } from "./backoff.js";
import { InterviewFlow } from "./interview-flow.js";
import { SyncError } from "./uploader.js";

/**
 * @typedef {import("./api.js").ApiResponse} ApiResponse
 * @typedef {import("./interview-client.js").InterviewClient} InterviewClient
 */

// A token this close to its expiry is refreshed (or replaced by a claim) first.
const TOKEN_MARGIN_MS = 60_000;
// Why a claim was refused, for the candidate: nothing is deleted when the server refuses the session.
const CLAIM_REFUSALS = {
  INVALID_APPLICATION: "Application not found. Your answers are kept on this device.",
  ALREADY_COMPLETED: "This interview was already submitted from elsewhere. Your answers are kept on this device.",
};

/**
 * What a 401 says to the candidate: an expired link and an invalid one need different next steps.
 * @param {ApiResponse} response
 * @returns {string}
 */
export function tokenProblem(response) {
  return response.body?.details?.reason === "expired"
    ? "Your access link has expired. Ask the recruiter for a new interview link."
    : "This access link is not valid. Open the full link from your invitation again.";
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the interview state keeps of a StartSessionResponse.
 * @param {Object} body
 */
function sessionFields(body) {
  return {
    sessionId: body.sessionId,
    token: body.token,
    expiresAt: body.expiresAt,
    status: body.status,
    application: body.application,
  };
}

/**
 * A start-session refused for good, as `start()` reports it.
 * @param {ApiResponse} response neither ok nor unreachable
 * @returns {{outcome: string, code: string, message: string}}
 */
function refusal(response) {
  const code = response.body?.code;
  if (response.status === 404) {
    return { outcome: "not_found", code: code || "INVALID_APPLICATION", message: "Application not found." };
  }
  if (code === "ALREADY_COMPLETED") {
    return { outcome: "already_completed", code, message: "Interview already submitted." };
  }
  if (response.status === 401) {
    return { outcome: "unauthorized", code: "UNAUTHORIZED", message: tokenProblem(response) };
  }
  const message = response.body?.error || "The interview could not be started.";
  return { outcome: "failed", code: code || `HTTP_${response.status}`, message };
}

export class SessionStarter {
  /** @param {InterviewClient} client */
  constructor(client) {
    this.client = client;
  }

  /**
   * start-session with this interview's clientSessionId.
   * @param {number} timeoutMs
   * @returns {Promise<ApiResponse>}
   */
  request(timeoutMs) {
    const client = this.client;
    return client.api.startSession({
      userToken: client.getUserToken(),
      applicationId: client.applicationId,
      clientSessionId: client.state.clientSessionId,
      timeoutMs,
    });
  }

  /**
   * Start the interview: online with the session start-session gives, offline when the
   * server is unreachable, or nothing at all when it refuses.
   * @returns {Promise<string>} online | offline | not_found | already_completed | unauthorized | failed
   */
  async start() {
    const client = this.client;
    if (client.phase === "online" || client.phase === "offline") return client.phase;
    if (!client.getUserToken()) {
      client.emitError("UNAUTHORIZED", "An access token is needed to start the interview.", true);
      return "unauthorized";
    }
    client.flow = new InterviewFlow();
    client.flow.go("starting");
    client.state = {
      applicationId: client.applicationId,
      clientSessionId: client.state?.clientSessionId || uuid(),
      lastSeq: 0,
      media: { ...client.mediaPreferences },
      flow: client.flow.snapshot(),
    };
    await client.store.putState(client.state);
    client.setConnection("connecting");
    const response = await this.first();
    if (response.ok) {
      await this.started(response.body);
      return "online";
    }
    if (unreachable(response)) {
      await client.offline.enter({
        reason: response.network || `http_${response.status}`,
        status: response.status || null,
      });
      return "offline";
    }
    const { outcome, code, message } = refusal(response);
    client.emitError(code, message, true);
    // Nothing was created: forget the attempt so the page can be used again later.
    await client.store.clear(client.applicationId);
    client.state = null;
    client.flow.go("idle");
    client.setConnection("idle");
    return outcome;
  }

  /**
   * The first start-session: retried once at once when unreachable; a 429 is waited out
   * (`rateLimitRetries` times at most, the connection `waiting` meanwhile).
   * @returns {Promise<ApiResponse>} the last answer
   */
  async first() {
    const client = this.client;
    let retried = false;
    let waits = 0;
    for (;;) {
      const response = await this.request(client.startTimeoutMs);
      if (unreachable(response) && !retried) {
        retried = true;
        continue;
      }
      if (response.status === 429 && waits < client.rateLimitRetries) {
        waits += 1;
        const waitMs = retryAfterMs(response);
        client.setConnection("waiting", { retryAfterMs: waitMs });
        await sleep(waitMs);
        continue;
      }
      return response;
    }
  }

  /**
   * The session start-session created (or returned): run it online from its current question.
   * @param {Object} body a StartSessionResponse
   */
  async started(body) {
    const client = this.client;
    const flow = client.flow;
    client.state = { ...client.state, ...sessionFields(body), lastSeq: 0 };
    if (TERMINAL_STATUSES.has(body.status)) {
      await client.finish(body.status);
      return;
    }
    const question = body.currentQuestion || null;
    const now = Date.now();
    // The offline pack holds the questions the server will ask, so an answer moves on at once.
    const pack = await client.store.getPack(client.applicationId);
    const matches = pack?.questions?.some((q) => q.id === question?.id && q.number === question?.number);
    flow.useQuestions(matches ? pack.questions : question ? [question] : [], matches ? "pack" : "session", now);
    if (question) flow.serverAsks(question, now);
    flow.go("online");
    client.state.flow = flow.snapshot();
    await client.store.putState(client.state);
    client.emitState();
    client.emitQuestion();
    client.armQuestionTimer();
    await client.record("event", { name: "interview.session.started", payload: { resumed: Boolean(body.resumed) } });
    const consent = client.state.media?.consent;
    if (typeof consent === "boolean") {
      // Queued before the offer on the same socket, so the server knows it when it answers.
      await client.record("event", { name: "recording.consent", payload: { granted: consent } });
    }
    this.scheduleTokenRefresh();
    client.live.connect();
  }

  /**
   * start-session again with the same clientSessionId: the server returns the same session.
   * @throws {SyncError} retryable when the server is unreachable or rate limits, fatal when it refuses
   */
  async claim() {
    const client = this.client;
    const response = await this.request(client.syncTimeoutMs);
    if (response.ok) {
      client.state = { ...client.state, ...sessionFields(response.body) };
      await client.store.putState(client.state);
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
    const kept = " Your answers are kept on this device.";
    const message = response.status === 401 ? tokenProblem(response) + kept : CLAIM_REFUSALS[code];
    throw new SyncError(code, message || response.body?.error || "The session could not be claimed", { fatal: true });
  }

  /** @returns {number} when the session token expires; NaN when there is none */
  expiry() {
    return Date.parse(this.client.state?.expiresAt || "");
  }

  /** @returns {boolean} whether the session token is missing or about to expire */
  tokenExpiring() {
    const expires = this.expiry();
    return !Number.isFinite(expires) || expires - Date.now() < TOKEN_MARGIN_MS;
  }

  /** Refresh the session token a minute before it expires (unless `token.refresh` comes first). */
  scheduleTokenRefresh() {
    const expires = this.expiry();
    if (!Number.isFinite(expires)) return;
    this.client.timers.later("token", expires - Date.now() - TOKEN_MARGIN_MS, () => this.refreshToken());
  }

  /** POST .../token; falls back to start-session with the user token. */
  async refreshToken() {
    const client = this.client;
    if (!client.state?.sessionId || !["online", "offline"].includes(client.phase)) return;
    const response = await client.api.refreshToken({
      sessionId: client.state.sessionId,
      token: client.state.token,
      timeoutMs: client.syncTimeoutMs,
    });
    if (response.ok && response.body?.token) {
      await this.saveToken(response.body);
      return;
    }
    try {
      await this.claim();
    } catch {
      client.timers.later("token", backoff(2, client.backoffLimits), () => this.refreshToken());
    }
  }

  /**
   * Keep a fresh session token (from POST .../token or the server's `token.refresh`).
   * @param {{token: string, expiresAt: string}} fresh
   */
  async saveToken({ token, expiresAt }) {
    const client = this.client;
    client.state.token = token;
    client.state.expiresAt = expiresAt;
    await client.store.putState(client.state);
    this.scheduleTokenRefresh();
  }
}
