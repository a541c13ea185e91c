/**
 * Hands what the browser holds to the server over HTTP: the outbox through the
 * batch events endpoint, the local recording, and the final `complete`.
 *
 * Items leave the outbox only when the server answered for them: accepted or
 * duplicate, or refused for good (invalid, or after the session ended), and then
 * they move to the store's quarantine (kept on this device, reported once, never
 * resent). A refusal is never an outage: only network failures, 429 and 5xx throw
 * a retryable {@link SyncError} and leave everything in place for the next attempt.
 * @module uploader
 */

import { retryAfterMs, unreachable } from "./api.js";
import { plural } from "./wording.js";

const BATCH_MAX_EVENTS = 500;
// Under the server's 1 MiB request limit (bytes of UTF-8), with room for the JSON around the items.
const BATCH_MAX_BYTES = 900 * 1024;
const utf8 = new TextEncoder();
const RECORDING_UPLOAD_TIMEOUT_MS = 120_000;
/** Client message types the batch endpoint stores; control messages are settled by the client. */
export const BATCHABLE = new Set(["transcript", "answer.start", "answer.submit", "question.next", "event"]);

/**
 * @typedef {import("./api.js").InterviewApi} InterviewApi
 * @typedef {import("./offline-store.js").OfflineStore} OfflineStore
 * @typedef {import("./offline-store.js").OutboxItem} OutboxItem
 * @typedef {import("./offline-store.js").Refusal} Refusal
 * @typedef {{accepted: number, duplicates: number, rejected: number}} Totals
 */

/** A failed step of a sync; `fatal` ones stop the retries. */
export class SyncError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{fatal?: boolean, retryAfterMs?: number}} [options]
   */
  constructor(code, message, { fatal = false, retryAfterMs: wait } = {}) {
    super(message);
    this.code = code;
    this.fatal = fatal;
    this.retryAfterMs = wait;
  }
}

/**
 * The oldest items that fit one batch request (count and size limits).
 * @param {OutboxItem[]} items
 * @returns {OutboxItem[]}
 */
function takeBatch(items) {
  const batch = [];
  let bytes = 0;
  for (const item of items) {
    const size = utf8.encode(JSON.stringify(item)).length + 16;
    if (batch.length >= BATCH_MAX_EVENTS || (batch.length && bytes + size > BATCH_MAX_BYTES)) break;
    batch.push(item);
    bytes += size;
  }
  return batch;
}

/** @param {any} value a count, or a list of ids */
const count = (value) => (Array.isArray(value) ? value.length : Number(value) || 0);

/**
 * The server's per-item refusals (`[{index, id, code, message, field}]`) as the items they name.
 * @param {OutboxItem[]} batch what was sent, in order
 * @param {any} refused
 * @returns {Refusal[]}
 */
function refusalsOf(batch, refused) {
  if (!Array.isArray(refused)) return [];
  const refusals = [];
  for (const entry of refused) {
    const item = batch[entry?.index] ?? batch.find((candidate) => candidate.id === entry?.id);
    if (item) refusals.push({ id: item.id, code: String(entry.code), message: entry.message, field: entry.field });
  }
  return refusals;
}

export class Uploader {
  /**
   * @param {Object} host
   * @param {InterviewApi} host.api
   * @param {OfflineStore} host.store
   * @param {string} host.applicationId
   * @param {() => {sessionId: string, token: string}} host.session the current session and token
   * @param {() => Promise<void>} host.reclaim get a fresh session token (start-session again)
   * @param {(type: string, detail: Object) => void} host.emit
   * @param {number} host.timeoutMs per request (the recording gets longer)
   */
  constructor({ api, store, applicationId, session, reclaim, emit, timeoutMs }) {
    this.api = api;
    this.store = store;
    this.applicationId = applicationId;
    this.session = session;
    this.reclaim = reclaim;
    this.emit = emit;
    this.timeoutMs = timeoutMs;
  }

  /**
   * @param {string} code
   * @param {string} message
   */
  report(code, message) {
    this.emit("error", { code, message, fatal: false });
  }

  /**
   * Move refused items to the quarantine and tell the page, once.
   * @param {Refusal[]} refusals
   * @returns {Promise<number>} how many were set aside
   */
  async setAside(refusals) {
    const moved = await this.store.quarantine(refusals);
    if (moved) {
      const late = refusals.every((r) => r.code === "SESSION_ALREADY_COMPLETED" || r.code === "SESSION_NOT_ACTIVE");
      this.emit("quarantined", { ids: refusals.map((r) => r.id), codes: [...new Set(refusals.map((r) => r.code))] });
      this.report(
        late ? "UPLOAD_REJECTED" : "UPLOAD_REFUSED",
        late
          ? `${plural(moved, "item")} arrived after the session ended; they are kept on this device.`
          : `The server refused ${plural(moved, "item")}; they are kept on this device and not sent again.`,
      );
    }
    return moved;
  }

  /**
   * Upload the outbox until it is empty (control messages are dropped: the caller settled them).
   * @returns {Promise<Totals>}
   */
  async outbox() {
    const totals = { accepted: 0, duplicates: 0, rejected: 0 };
    let reclaimed = false;
    for (;;) {
      const items = await this.store.listOutbox(this.applicationId);
      const control = items.filter((item) => !BATCHABLE.has(item.type));
      if (control.length) await this.store.removeOutbox(control.map((item) => item.id));
      const batch = takeBatch(items.filter((item) => BATCHABLE.has(item.type)));
      if (!batch.length) return totals;
      const outcome = await this.batch(batch);
      if (outcome === "reclaim") {
        if (reclaimed) throw new SyncError("UNAUTHORIZED", "The session token was refused");
        reclaimed = true;
        await this.reclaim();
        continue;
      }
      totals.accepted += outcome.accepted;
      totals.duplicates += outcome.duplicates;
      totals.rejected += outcome.rejected;
    }
  }

  /**
   * POST one batch; splits it when the server refuses it as invalid.
   * @param {OutboxItem[]} batch
   * @returns {Promise<"reclaim" | Totals>}
   */
  async batch(batch) {
    const { sessionId, token } = this.session();
    const response = await this.api.uploadEvents({
      sessionId,
      token,
      events: batch.map((item) => ({ id: item.id, type: item.type, ts: item.ts, payload: item.payload })),
      timeoutMs: this.timeoutMs,
    });
    const ids = batch.map((item) => item.id);
    const body = response.body;
    if (response.ok) {
      // Accepted, duplicates, refused (with their index) and too late: every id is answered for.
      const refusals = refusalsOf(batch, body?.refused);
      for (const id of Array.isArray(body?.rejected) ? body.rejected : []) {
        refusals.push({ id, code: "SESSION_ALREADY_COMPLETED", message: "After the session ended" });
      }
      await this.setAside(refusals);
      await this.store.removeOutbox(ids);
      const refused = new Set(refusals.map((r) => r.id));
      const acked = ids.filter((id) => !refused.has(id));
      this.emit("acked", { ids: acked, pending: await this.store.countOutbox(this.applicationId) });
      return { accepted: count(body?.accepted), duplicates: count(body?.duplicates), rejected: refusals.length };
    }
    if (response.status === 401) return "reclaim";
    if (unreachable(response)) {
      throw new SyncError(response.network || `HTTP_${response.status}`, "Upload failed; retrying");
    }
    if (response.status === 429) {
      throw new SyncError("RATE_LIMITED", "Too many uploads", { retryAfterMs: retryAfterMs(response) });
    }
    const code = body?.code;
    if (code === "SESSION_ALREADY_COMPLETED" || code === "SESSION_NOT_ACTIVE") {
      await this.setAside(batch.map((item) => ({ id: item.id, code, message: body?.error })));
      return { accepted: 0, duplicates: 0, rejected: ids.length };
    }
    if (response.status === 404) {
      throw new SyncError(code || "SESSION_NOT_FOUND", "The session is gone; your answers are kept on this device", {
        fatal: true,
      });
    }
    // Every item was refused, each with its index: set them all aside.
    const listed = refusalsOf(batch, body?.details?.refused);
    if (listed.length === batch.length) {
      await this.setAside(listed);
      return { accepted: 0, duplicates: 0, rejected: listed.length };
    }
    // Refused as a whole (not JSON, nested too deeply...): halve until the culprit is alone, then set it aside.
    if (batch.length > 1) {
      const middle = Math.ceil(batch.length / 2);
      const first = await this.batch(batch.slice(0, middle));
      if (first === "reclaim") return first;
      const second = await this.batch(batch.slice(middle));
      if (second === "reclaim") return second;
      return {
        accepted: first.accepted + second.accepted,
        duplicates: first.duplicates + second.duplicates,
        rejected: first.rejected + second.rejected,
      };
    }
    await this.setAside([{ id: batch[0].id, code: code || `HTTP_${response.status}`, message: body?.error }]);
    return { accepted: 0, duplicates: 0, rejected: 1 };
  }

  /** Upload the local recording's segments, back to back, as the session's recording. */
  async recording() {
    const chunks = await this.store.listRecordingChunks(this.applicationId);
    if (!chunks.length) return;
    const type = chunks[0].type.split(";")[0];
    const blob = new Blob(
      chunks.map((chunk) => chunk.blob),
      { type },
    );
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const { sessionId, token } = this.session();
      const response = await this.api.uploadRecording({
        sessionId,
        token,
        blob,
        timeoutMs: RECORDING_UPLOAD_TIMEOUT_MS,
      });
      // 409: already stored (an earlier upload whose answer was lost).
      if (response.ok || response.status === 409) {
        await this.store.clearRecording(this.applicationId);
        this.emit("recording", { recording: false, uploadedBytes: blob.size });
        return;
      }
      if (response.status === 401 && attempt === 0) {
        await this.reclaim();
        continue;
      }
      if (unreachable(response) || response.status === 429) {
        throw new SyncError(response.network || `HTTP_${response.status}`, "Recording upload failed; retrying");
      }
      // Refused for good (type, size): keep the answers flowing, report the loss.
      await this.store.clearRecording(this.applicationId);
      this.report(response.body?.code || "RECORDING_REFUSED", "The local recording could not be uploaded.");
      return;
    }
    throw new SyncError("UNAUTHORIZED", "The session token was refused");
  }

  /** POST .../complete; an already completed session counts as success. */
  async complete() {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const { sessionId, token } = this.session();
      const response = await this.api.complete({ sessionId, token, timeoutMs: this.timeoutMs });
      if (response.ok) return;
      const code = response.body?.code;
      // The server completes a session itself when the last answer arrives.
      if (code === "SESSION_ALREADY_COMPLETED" || code === "INVALID_TRANSITION") return;
      if (response.status === 401 && attempt === 0) {
        await this.reclaim();
        continue;
      }
      if (unreachable(response)) {
        throw new SyncError(response.network || `HTTP_${response.status}`, "Could not complete the session; retrying");
      }
      throw new SyncError(code || `HTTP_${response.status}`, response.body?.error || "Could not complete the session", {
        fatal: response.status === 404,
      });
    }
    throw new SyncError("UNAUTHORIZED", "The session token was refused");
  }
}
