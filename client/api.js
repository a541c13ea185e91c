/**
 * The interview server's HTTP API as the browser client uses it.
 *
 * Every call has a timeout and never throws for HTTP statuses or network
 * failures: it resolves with an {@link ApiResponse} and the caller decides.
 * @module api
 */

/**
 * @typedef {Object} ApiResponse
 * @property {boolean} ok 2xx
 * @property {number} status HTTP status; 0 when the request did not complete
 * @property {any} body parsed JSON body, or null
 * @property {Headers | null} headers
 * @property {"timeout" | "network" | null} network why the request did not complete
 */

/** Session statuses after which nothing more happens in the interview. */
export const TERMINAL_STATUSES = new Set(["completed", "abandoned", "error"]);

/**
 * A UUID v4 (crypto.randomUUID where the page is a secure context).
 * @returns {string}
 */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** @returns {"desktop" | "mobile" | "tablet"} */
function deviceType() {
  const agent = navigator.userAgent || "";
  if (/iPad|Tablet/i.test(agent)) return "tablet";
  return /Mobi|Android/i.test(agent) ? "mobile" : "desktop";
}

/** @returns {"poor" | "fair" | "good" | undefined} */
function networkQuality() {
  const type = navigator.connection?.effectiveType;
  if (!type) return undefined;
  return type === "4g" ? "good" : type === "3g" ? "fair" : "poor";
}

/**
 * Milliseconds to wait after a 429, from Retry-After or the error details (1 s to 10 min).
 * @param {ApiResponse} response
 * @returns {number}
 */
export function retryAfterMs(response) {
  const header = Number(response.headers?.get("Retry-After"));
  const seconds = Number.isFinite(header) && header > 0 ? header : response.body?.details?.retryAfterSeconds ?? 5;
  return Math.min(600, Math.max(1, seconds)) * 1000;
}

/**
 * @param {ApiResponse} response
 * @returns {boolean} a network failure, a timeout or a 5xx: worth retrying later
 */
export function unreachable(response) {
  return response.status === 0 || response.status >= 500;
}

export class InterviewApi {
  /** @param {string} baseUrl the server's origin */
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  /**
   * One request. `body` is sent as JSON, `blob` as is with its own type.
   * @param {string} method
   * @param {string} path
   * @param {{token?: string | null, body?: Object, blob?: Blob, timeoutMs: number}} options
   * @returns {Promise<ApiResponse>}
   */
  async request(method, path, { token, body, blob, timeoutMs }) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const headers = { Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (blob !== undefined) headers["Content-Type"] = blob.type;
      const response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: blob ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
      const text = await response.text();
      let parsed = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { ok: response.ok, status: response.status, body: parsed, headers: response.headers, network: null };
    } catch (error) {
      const network = error?.name === "AbortError" ? "timeout" : "network";
      return { ok: false, status: 0, body: null, headers: null, network };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * POST /api/interview/start-session (creates, or returns the session of `clientSessionId`).
   * @param {{userToken: string | null, applicationId: string, clientSessionId: string, timeoutMs: number}} args
   */
  startSession({ userToken, applicationId, clientSessionId, timeoutMs }) {
    const metadata = { deviceType: deviceType() };
    const quality = networkQuality();
    if (quality) metadata.networkQuality = quality;
    return this.request("POST", "/api/interview/start-session", {
      token: userToken,
      body: { applicationId, clientSessionId, metadata },
      timeoutMs,
    });
  }

  /**
   * GET /api/interview/offline-pack: the questions the server will ask.
   * @param {{userToken: string, applicationId: string, timeoutMs: number}} args
   */
  offlinePack({ userToken, applicationId, timeoutMs }) {
    const path = `/api/interview/offline-pack?applicationId=${encodeURIComponent(applicationId)}`;
    return this.request("GET", path, { token: userToken, timeoutMs });
  }

  /**
   * GET /api/interview/link-status: not found, completed, open or in progress (a 401 says invalid or expired).
   * @param {{userToken: string, applicationId: string, timeoutMs: number}} args
   */
  linkStatus({ userToken, applicationId, timeoutMs }) {
    const path = `/api/interview/link-status?applicationId=${encodeURIComponent(applicationId)}`;
    return this.request("GET", path, { token: userToken, timeoutMs });
  }

  /**
   * @param {string} sessionId
   * @param {string} action
   */
  static sessionPath(sessionId, action) {
    return `/api/interview/sessions/${encodeURIComponent(sessionId)}/${action}`;
  }

  /**
   * POST .../events: a batch of client events (idempotent by id).
   * @param {{sessionId: string, token: string, events: Object[], timeoutMs: number}} args
   */
  uploadEvents({ sessionId, token, events, timeoutMs }) {
    return this.request("POST", InterviewApi.sessionPath(sessionId, "events"), { token, body: { events }, timeoutMs });
  }

  /**
   * POST .../recording: the audio recorded locally.
   * @param {{sessionId: string, token: string, blob: Blob, timeoutMs: number}} args
   */
  uploadRecording({ sessionId, token, blob, timeoutMs }) {
    return this.request("POST", InterviewApi.sessionPath(sessionId, "recording"), { token, blob, timeoutMs });
  }

  /**
   * POST .../complete.
   * @param {{sessionId: string, token: string, timeoutMs: number}} args
   */
  complete({ sessionId, token, timeoutMs }) {
    return this.request("POST", InterviewApi.sessionPath(sessionId, "complete"), { token, timeoutMs });
  }

  /**
   * POST .../token: a fresh session token.
   * @param {{sessionId: string, token: string, timeoutMs: number}} args
   */
  refreshToken({ sessionId, token, timeoutMs }) {
    return this.request("POST", InterviewApi.sessionPath(sessionId, "token"), { token, timeoutMs });
  }
}
