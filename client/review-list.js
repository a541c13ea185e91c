/**
 * The session list: filters (status, application, start dates, score range) sent to
 * `GET /api/interview/sessions` as validated query parameters, and paging by the
 * server's cursor (a stack of cursors lets the reviewer go back to newer pages).
 * @module review-list
 */

import { api, failureText } from "./review-api.js";
import { el, formatDate, formatDuration, formatScore } from "./review-dom.js";

const PAGE_SIZE = 20;
const STATUS_TEXT = {
  in_progress: "In progress",
  paused: "Paused",
  completed: "Completed",
  abandoned: "Abandoned",
  error: "Error",
};

export class SessionList {
  /**
   * @param {{form: HTMLFormElement, body: HTMLElement, newer: HTMLButtonElement, older: HTMLButtonElement,
   *   pageLabel: HTMLElement, onOpen: (sessionId: string) => void, onError: (text: string) => void}} parts
   */
  constructor(parts) {
    this.parts = parts;
    /** @type {(string | null)[]} the cursor of each page shown so far (null: the first page) */
    this.cursors = [null];
    this.next = null;
    parts.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.cursors = [null];
      this.load();
    });
    parts.form.addEventListener("reset", () => {
      setTimeout(() => {
        this.cursors = [null];
        this.load();
      });
    });
    parts.older.addEventListener("click", () => {
      if (!this.next) return;
      this.cursors.push(this.next);
      this.load();
    });
    parts.newer.addEventListener("click", () => {
      if (this.cursors.length < 2) return;
      this.cursors.pop();
      this.load();
    });
  }

  /** The filters as query parameters (empty fields left out). */
  query() {
    const data = new FormData(this.parts.form);
    /** @type {Object<string, string>} */
    const query = { limit: String(PAGE_SIZE) };
    for (const name of ["status", "applicationId", "from", "to", "minScore", "maxScore"]) {
      const value = String(data.get(name) || "").trim();
      if (value) query[name] = value;
    }
    const cursor = this.cursors[this.cursors.length - 1];
    if (cursor) query.cursor = cursor;
    return query;
  }

  /** @returns {Promise<boolean>} whether the page loaded */
  async load() {
    const { body, newer, older, pageLabel } = this.parts;
    body.setAttribute("aria-busy", "true");
    const result = await api("/api/interview/sessions", { query: this.query() });
    body.removeAttribute("aria-busy");
    if (!result.ok) {
      const detail = result.body?.details?.[0];
      this.parts.onError(detail ? `${failureText(result)} (${detail.field}: ${detail.message})` : failureText(result));
      return false;
    }
    const { sessions, nextCursor } = result.body;
    this.next = nextCursor;
    body.replaceChildren(...sessions.map((session) => this.row(session)));
    if (!sessions.length) {
      body.append(el("tr", {}, el("td", { colspan: 7, class: "empty", text: "No session matches these filters." })));
    }
    newer.disabled = this.cursors.length < 2;
    older.disabled = !nextCursor;
    pageLabel.textContent = `Page ${this.cursors.length}`;
    document.documentElement.dataset.listLoaded = String(Number(document.documentElement.dataset.listLoaded || 0) + 1);
    return true;
  }

  /** @param {any} session */
  row(session) {
    const open = el("button", {
      type: "button",
      class: "open",
      "aria-label": `Open the session of ${session.candidateId} started ${formatDate(session.startedAt)}`,
      text: "Open",
    });
    open.addEventListener("click", () => this.parts.onOpen(session.sessionId));
    const row = el(
      "tr",
      { tabindex: 0, "data-session-id": session.sessionId },
      el("td", { text: formatDate(session.startedAt) }),
      el("td", { text: session.candidateId }),
      el("td", { text: session.applicationId }),
      el("td", {}, el("span", { class: `status status-${session.status}`, text: STATUS_TEXT[session.status] })),
      el("td", { text: formatDuration(session.duration) }),
      el("td", { class: "number", text: formatScore(session.finalScore) }),
      el("td", {}, open),
    );
    // The whole row is focusable: Enter opens it, like its button.
    row.addEventListener("keydown", (event) => {
      if (event.target === row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.parts.onOpen(session.sessionId);
      }
    });
    row.addEventListener("dblclick", () => this.parts.onOpen(session.sessionId));
    return row;
  }
}
