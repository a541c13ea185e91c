/**
 * The interview's flow on the candidate page, as one explicit state machine.
 *
 * States (see TRANSITIONS): idle -> starting -> online <-> reconnecting -> offline <-> syncing
 * -> online ..., and ended. A transition changes the state and nothing else: the current
 * question, its draft and the answers already given are the same before and after, whichever
 * way the connection went. The flow decides what the candidate sees (the current question,
 * or "waiting" for the server's next one, or the end) and what an answer, a skip or a time-up
 * sends; it does no I/O and reads no clock (times are arguments, in ms since the epoch), so
 * it is tested as it is and saved to IndexedDB as its snapshot.
 *
 * An answer names its question and moves the flow past it at once, online or not, to the
 * next question the flow knows (from the offline pack, which holds exactly what the server
 * will ask); a question answered here is never asked again. The server's own moves
 * (`question`, `question.timeout`) are reconciled: ignored when the flow is ahead (its
 * answers are on their way), followed when the server is ahead, a draft left on a question
 * the server passed being submitted as that question's timed-out answer.
 * @module interview-flow
 */

/**
 * @typedef {import("./fallback-questions.js").Question} Question
 * @typedef {{text: string, spoken: string[], speech: boolean, startedAt: string | null}} Draft
 * @typedef {{kind: "answer" | "skip" | "passed", timedOut: boolean}} Given
 * @typedef {{type: "answer.submit" | "question.next", payload: Object}} FlowAction a client message to record
 * @typedef {Object} FlowSnapshot
 * @property {string} state
 * @property {Question[]} questions
 * @property {string | null} source pack | session | fallback
 * @property {string | null} currentId
 * @property {number | null} deadline
 * @property {number[]} warned
 * @property {Object<string, Draft>} drafts
 * @property {Object<string, Given>} given
 * @property {boolean} finished
 */

/** Which state may follow which. */
export const TRANSITIONS = Object.freeze({
  idle: ["starting"],
  starting: ["online", "offline", "idle", "ended"],
  online: ["reconnecting", "offline", "ended"],
  reconnecting: ["online", "offline", "ended"],
  offline: ["syncing", "ended"],
  syncing: ["offline", "online", "ended"],
  ended: [],
});
/** Seconds left at which the candidate is warned (and a screen reader told). */
export const WARNING_SECONDS = Object.freeze([30, 10]);
const MAX_TEXT_CHARS = 20000;

/**
 * At most MAX_TEXT_CHARS characters of `text`, never half of an emoji's surrogate pair
 * (a lone surrogate is not valid Unicode: the server would refuse the whole answer).
 * @param {unknown} text
 * @returns {string}
 */
export function clip(text) {
  const value = String(text);
  return value.length <= MAX_TEXT_CHARS ? value : Array.from(value).slice(0, MAX_TEXT_CHARS).join("");
}
const MAX_SPOKEN_LINES = 500;

/** @param {number} ms */
const iso = (ms) => new Date(ms).toISOString();

export class InterviewFlow {
  /** @param {Partial<FlowSnapshot>} [snapshot] a saved flow (default: a new one) */
  constructor(snapshot = {}) {
    this.state = snapshot.state ?? "idle";
    /** @type {Question[]} every question known, by number */
    this.questions = [...(snapshot.questions ?? [])];
    this.source = snapshot.source ?? null;
    this.currentId = snapshot.currentId ?? null;
    this.deadline = snapshot.deadline ?? null;
    this.warned = [...(snapshot.warned ?? [])];
    /** @type {Object<string, Draft>} */
    this.drafts = structuredClone(snapshot.drafts ?? {});
    /** @type {Object<string, Given>} what this page did with each question it moved past */
    this.given = structuredClone(snapshot.given ?? {});
    this.finished = snapshot.finished ?? false;
  }

  /** @returns {FlowSnapshot} plain data for IndexedDB */
  snapshot() {
    return structuredClone({
      state: this.state,
      questions: this.questions,
      source: this.source,
      currentId: this.currentId,
      deadline: this.deadline,
      warned: this.warned,
      drafts: this.drafts,
      given: this.given,
      finished: this.finished,
    });
  }

  // ----- the state machine ------------------------------------------------------------

  /** @param {string} next */
  can(next) {
    return next === this.state || (TRANSITIONS[this.state] ?? []).includes(next);
  }

  /**
   * Move to `next`; the questions, drafts and answers stay as they are.
   * @param {string} next
   * @throws {Error} for a move the table does not allow
   */
  go(next) {
    if (!this.can(next)) throw new Error(`interview flow: no way from ${this.state} to ${next}`);
    this.state = next;
  }

  // ----- what is asked --------------------------------------------------------------------

  /** @returns {Question | null} the question on screen */
  get current() {
    return this.questions.find((q) => q.id === this.currentId) ?? null;
  }

  /** @returns {boolean} the last answer is given but the next question is not known yet (online, no pack) */
  get waiting() {
    return !this.finished && this.currentId === null && this.questions.length > 0 && this.state !== "ended";
  }

  /** @returns {number} questions this page answered (not skipped, not passed) */
  get answeredCount() {
    return Object.values(this.given).filter((g) => g.kind === "answer").length;
  }

  /** @param {string} id */
  isGiven(id) {
    return Object.hasOwn(this.given, id);
  }

  /**
   * Take a list of questions (the offline pack, the built-in set, the server's first question).
   * Questions at numbers already known are kept; if nothing is on screen, the first question not
   * given yet is asked.
   * @param {Question[]} questions
   * @param {string} source
   * @param {number} now
   */
  useQuestions(questions, source, now) {
    const numbers = new Set(this.questions.map((q) => q.number));
    const added = questions.filter((q) => !numbers.has(q.number));
    this.questions = [...this.questions, ...added].sort((a, b) => a.number - b.number);
    if (!this.source || added.length) this.source = source;
    if (this.currentId === null && !this.finished) {
      const next = this.questions.find((q) => !this.isGiven(q.id));
      if (next) this.ask(next, now, next.timeLimitSeconds);
    }
  }

  /**
   * Put `question` on screen with `seconds` left.
   * @param {Question} question
   * @param {number} now
   * @param {number} seconds
   */
  ask(question, now, seconds) {
    this.currentId = question.id;
    this.setDeadline(now, seconds);
  }

  /**
   * @param {number} now
   * @param {number} seconds left on the current question
   */
  setDeadline(now, seconds) {
    this.deadline = now + Math.max(0, seconds) * 1000;
    // Thresholds already behind us are never announced late.
    this.warned = WARNING_SECONDS.filter((t) => t >= seconds);
  }

  /**
   * The server's question, or one of the pack that the server named: known from now on.
   * @param {Question} question
   */
  know(question) {
    if (this.questions.some((q) => q.id === question.id)) return;
    // Another question at that number (the built-in set, an old pack): the server's wins.
    this.questions = this.questions.filter((q) => q.number !== question.number);
    this.questions = [...this.questions, question].sort((a, b) => a.number - b.number);
  }

  /** @param {number} now */
  moveOn(now) {
    const from = this.current;
    if (!from) return;
    const next = this.questions.find((q) => q.number > from.number && !this.isGiven(q.id));
    if (next) {
      this.ask(next, now, next.timeLimitSeconds);
      return;
    }
    this.currentId = null;
    this.deadline = null;
    this.warned = [];
    if (from.number >= from.total) this.finished = true;
  }

  // ----- what the candidate does ----------------------------------------------------------

  /**
   * @param {string} id
   * @returns {Draft}
   */
  draftOf(id) {
    return this.drafts[id] ?? { text: "", spoken: [], speech: false, startedAt: null };
  }

  /**
   * Whether the question has anything to submit: typed text, or (voice) spoken lines or speech heard.
   * @param {string} id
   */
  hasDraft(id) {
    const draft = this.draftOf(id);
    return draft.text.trim().length > 0 || draft.spoken.length > 0 || draft.speech;
  }

  /**
   * The candidate typed: the current question's draft is now `text`.
   * @param {string} text
   * @param {number} now
   * @returns {boolean} whether this is the first word of the answer (the page reports `answer.start`)
   */
  setDraft(text, now) {
    const question = this.current;
    if (!question) return false;
    const draft = this.draftOf(question.id);
    const first = !draft.startedAt && text.trim().length > 0;
    const startedAt = draft.startedAt ?? (first ? iso(now) : null);
    this.drafts[question.id] = { ...draft, text: clip(text), startedAt };
    return first;
  }

  /**
   * A final transcript line of the candidate's speech: part of that question's draft.
   * @param {string | null | undefined} questionId default: the current question
   * @param {string} text
   */
  addSpoken(questionId, text) {
    const id = questionId || this.currentId;
    if (!id || this.isGiven(id) || !String(text).trim()) return;
    const draft = this.draftOf(id);
    this.drafts[id] = { ...draft, spoken: [...draft.spoken, String(text)].slice(-MAX_SPOKEN_LINES) };
  }

  /** The candidate is heard speaking over the current question (the server will have the words). */
  heardSpeech() {
    const id = this.currentId;
    if (!id) return;
    this.drafts[id] = { ...this.draftOf(id), speech: true };
  }

  /**
   * Submit the current question's answer and move on.
   * @param {number} now
   * @param {{text?: string, timedOut?: boolean}} [options] text: what is in the box (default: the draft)
   * @returns {FlowAction | null}
   */
  answer(now, { text, timedOut = false } = {}) {
    const question = this.current;
    if (!question) return null;
    if (text !== undefined) this.setDraft(text, now);
    const action = this.give(question, "answer", now, timedOut);
    this.moveOn(now);
    return action;
  }

  /**
   * Skip the current question (its draft goes with it: skipping is the candidate's choice).
   * @param {number} now
   * @param {{timedOut?: boolean}} [options]
   * @returns {FlowAction | null}
   */
  skip(now, { timedOut = false } = {}) {
    const question = this.current;
    if (!question) return null;
    const action = this.give(question, "skip", now, timedOut);
    this.moveOn(now);
    return action;
  }

  /**
   * The current question's time is up: its draft is its answer; with no draft, it is passed.
   * @param {number} now
   * @returns {FlowAction | null} null when the time is not up (or nothing is on screen)
   */
  timeUp(now) {
    const question = this.current;
    if (!question || this.deadline === null || now < this.deadline) return null;
    return this.hasDraft(question.id) ? this.answer(now, { timedOut: true }) : this.skip(now, { timedOut: true });
  }

  /**
   * The candidate ends the interview: a draft on screen is submitted as its answer first.
   * @param {number} now
   * @returns {FlowAction[]}
   */
  end(now) {
    const question = this.current;
    const actions = [];
    if (question && this.hasDraft(question.id)) actions.push(this.give(question, "answer", now, false));
    this.currentId = null;
    this.deadline = null;
    this.finished = true;
    return actions;
  }

  /**
   * Record what is done with `question` and the message that tells the server.
   * @param {Question} question
   * @param {"answer" | "skip"} kind
   * @param {number} now
   * @param {boolean} timedOut
   * @returns {FlowAction}
   */
  give(question, kind, now, timedOut) {
    const draft = this.draftOf(question.id);
    this.given[question.id] = { kind, timedOut };
    delete this.drafts[question.id];
    if (kind === "skip") {
      const payload = { questionId: question.id };
      if (timedOut) payload.timedOut = true;
      return { type: "question.next", payload };
    }
    const payload = { questionId: question.id, text: draft.text, endedAt: iso(now) };
    if (draft.startedAt) payload.startedAt = draft.startedAt;
    if (timedOut) payload.timedOut = true;
    return { type: "answer.submit", payload };
  }

  // ----- what the server does -------------------------------------------------------------

  /**
   * The server asks `question` (a `question` message, `welcome`, start-session).
   * @param {Question} question
   * @param {number} now
   * @param {number} [remainingSeconds] the server's time left on it, when it says
   * @returns {FlowAction[]} drafts of questions the server passed, to submit as their answers
   */
  serverAsks(question, now, remainingSeconds) {
    this.know(question);
    if (this.isGiven(question.id)) return []; // this page is ahead: its answer is on its way
    const current = this.current;
    if (current && current.id === question.id) {
      if (remainingSeconds !== undefined) this.setDeadline(now, remainingSeconds);
      return [];
    }
    if (current && current.number > question.number) return [];
    // The server moved past what is on screen: what was drafted there is not lost.
    const from = current ? current.number : 0;
    const passed = this.questions.filter((q) => q.number >= from && q.number < question.number && !this.isGiven(q.id));
    const actions = passed.map((q) => this.pass(q, now)).filter((a) => a !== null);
    this.finished = false;
    this.ask(question, now, remainingSeconds ?? question.timeLimitSeconds);
    return actions;
  }

  /**
   * The server timed a question out (`question.timeout`).
   * @param {string} questionId
   * @param {number} now
   * @returns {FlowAction[]} its draft as its answer, if it had one
   */
  serverTimedOut(questionId, now) {
    const question = this.questions.find((q) => q.id === questionId);
    if (!question || this.isGiven(questionId)) return [];
    const action = this.pass(question, now);
    if (questionId === this.currentId) this.moveOn(now);
    return action ? [action] : [];
  }

  /**
   * A question the server moved past: its draft becomes its timed-out answer; without one it is passed.
   * @param {Question} question
   * @param {number} now
   * @returns {FlowAction | null}
   */
  pass(question, now) {
    if (this.hasDraft(question.id)) return this.give(question, "answer", now, true);
    this.given[question.id] = { kind: "passed", timedOut: true };
    delete this.drafts[question.id];
    return null;
  }

  // ----- the clock ------------------------------------------------------------------------

  /**
   * @param {number} now
   * @returns {number | null} seconds left on the current question
   */
  remaining(now) {
    return this.current && this.deadline !== null ? Math.max(0, (this.deadline - now) / 1000) : null;
  }

  /** @returns {number | null} when the next warning is due (ms since the epoch) */
  nextWarningAt() {
    if (!this.current || this.deadline === null) return null;
    const next = WARNING_SECONDS.filter((t) => !this.warned.includes(t)).sort((a, b) => b - a)[0];
    return next === undefined ? null : this.deadline - next * 1000;
  }

  /**
   * The warning to give now, if a threshold was crossed (each is given once per question).
   * @param {number} now
   * @returns {number | null} the seconds threshold (30 or 10)
   */
  dueWarning(now) {
    const left = this.remaining(now);
    if (left === null || left <= 0) return null;
    const crossed = WARNING_SECONDS.filter((t) => left <= t && !this.warned.includes(t));
    if (!crossed.length) return null;
    this.warned = [...this.warned, ...crossed];
    return Math.min(...crossed);
  }
}
