/**
 * One session for a reviewer: its summary, its integrity signals, the recording, and
 * the question-by-question timeline (question, typed and spoken answer, transcript
 * lines with their times, events, integrity signals, scores with the matched points),
 * from `GET /api/interview/sessions/{id}/details`.
 * @module review-session
 */

import { api, failureText } from "./review-api.js";
import { el, formatClock, formatDate, formatDuration, formatScore, formatTime } from "./review-dom.js";
import { integrityFacts } from "./review-integrity.js";
import { RecordingPlayer } from "./review-player.js";
import { scoreBlock } from "./review-scores.js";

export class SessionView {
  /**
   * @param {{heading: HTMLElement, summary: HTMLElement, integrity: HTMLElement, timeline: HTMLElement,
   *   notice: HTMLElement, audio: HTMLAudioElement, playerStatus: HTMLElement}} parts
   */
  constructor(parts) {
    this.parts = parts;
    this.player = new RecordingPlayer(parts.audio, parts.playerStatus);
  }

  /** @param {string} sessionId @returns {Promise<string | null>} null, or why it could not be shown */
  async open(sessionId) {
    const result = await api(`/api/interview/sessions/${sessionId}/details`);
    if (!result.ok) return failureText(result);
    const details = result.body;
    const { session } = details;
    this.parts.heading.textContent = `Session of ${session.candidateId}`;
    this.parts.summary.replaceChildren(...summary(session));
    this.parts.integrity.replaceChildren(integrityFacts(details.integrity));
    this.parts.notice.hidden = !details.scores;
    this.parts.notice.textContent = details.scores?.notice || "";
    const scores = new Map((details.scores?.questions || []).map((q) => [q.questionId, q]));
    const lines = [];
    this.parts.timeline.replaceChildren(
      ...details.questions.map((question) => questionItem(question, scores.get(question.id), lines)),
    );
    if (details.unassigned.answers.length || details.unassigned.transcripts.length) {
      this.parts.timeline.append(unassignedItem(details.unassigned, lines));
    }
    await this.player.load(sessionId);
    this.player.setLines(lines);
    return null;
  }
}

/** @param {any} session */
function summary(session) {
  const breakdown = session.scoreBreakdown;
  const rows = [
    ["Candidate", session.candidateId],
    ["Application", session.applicationId],
    ["Status", session.status.replace("_", " ")],
    ["Started", formatDate(session.startedAt)],
    ["Duration", formatDuration(session.duration)],
    ["Questions", String(session.questionCount)],
    ["Final score", session.finalScore == null ? "Not scored" : `${formatScore(session.finalScore)} / 100`],
  ];
  if (breakdown) {
    rows.push([
      "Breakdown",
      `correctness ${formatScore(breakdown.correctness)}, clarity ${formatScore(breakdown.clarity)}, depth ${formatScore(breakdown.depth)}`,
    ]);
  }
  return rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]);
}

/**
 * @param {any[]} transcripts
 * @param {{element: HTMLElement, startMs: number, endMs: number}[]} lines collects the seekable lines
 */
function transcriptList(transcripts, lines) {
  if (!transcripts.length) return el("p", { class: "muted", text: "No transcript." });
  const items = transcripts.map((line) => {
    const when = `said at ${formatTime(line.ts)}${line.source === "server" ? ", server transcription" : ""}`;
    if (line.startMs == null) return el("li", {}, el("span", { text: line.text }), el("span", { class: "muted", text: ` (${when})` }));
    const button = el(
      "button",
      { type: "button", class: "line", "data-start-ms": line.startMs, "aria-label": `Play from ${formatClock(line.startMs)}: ${line.text}` },
      el("span", { class: "clock", text: formatClock(line.startMs) }),
      " ",
      el("span", { text: line.text }),
    );
    lines.push({ element: button, startMs: line.startMs, endMs: line.endMs ?? line.startMs });
    return el("li", { title: when }, button);
  });
  return el("ol", { class: "transcript" }, ...items);
}

/** @param {any[]} answers */
function answerList(answers) {
  if (!answers.length) return el("p", { class: "muted", text: "No answer submitted." });
  return el(
    "div",
    { class: "answers" },
    ...answers.map((answer) =>
      el(
        "div",
        { class: "answer" },
        el("p", { class: "muted", text: `Submitted at ${formatTime(answer.submittedAt)}${answer.recorded ? "" : " (not counted)"}` }),
        el("p", {}, el("strong", { text: "Typed: " }), answer.text || "–"),
        el("p", {}, el("strong", { text: "Spoken: " }), answer.spokenText || "–"),
      ),
    ),
  );
}

/** @param {any[]} events */
function eventList(events) {
  if (!events.length) return null;
  const items = events.map((event) => {
    const detail = event.name === "answer.paste" ? ` (${event.payload.chars ?? "?"} characters)` : "";
    return el("li", { text: `${formatTime(event.ts)} ${event.name}${detail}` });
  });
  return el("details", {}, el("summary", { text: `Events (${events.length})` }), el("ul", { class: "events" }, ...items));
}

/** @param {any} question @param {any} score @param {any[]} lines */
function questionItem(question, score, lines) {
  return el(
    "li",
    { class: "card question", "data-question-id": question.id },
    el("h2", { text: `Question ${question.number}: ${question.text}` }),
    el("p", { class: "muted", text: `${question.category}, ${question.difficulty}${question.asked ? "" : ", not asked"}` }),
    el(
      "div",
      { class: "question-grid" },
      el(
        "div",
        {},
        el("h3", { text: "Answer" }),
        answerList(question.answers),
        el("h3", { text: "Transcript" }),
        transcriptList(question.transcripts, lines),
        eventList(question.events),
      ),
      el(
        "div",
        {},
        el("h3", { text: "Scores" }),
        scoreBlock(score, question.expectedAnswerPoints),
        el("h3", { text: "Integrity signals" }),
        integrityFacts(question.integrity),
      ),
    ),
  );
}

/** @param {any} unassigned @param {any[]} lines */
function unassignedItem(unassigned, lines) {
  return el(
    "li",
    { class: "card question" },
    el("h2", { text: "Not tied to a question" }),
    answerList(unassigned.answers),
    transcriptList(unassigned.transcripts, lines),
  );
}
