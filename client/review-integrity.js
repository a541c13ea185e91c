/**
 * Integrity signals as plain facts ("Tab hidden 2 times, 14 s in all"), never as a verdict.
 * @module review-integrity
 */

import { el, formatDuration } from "./review-dom.js";

/** @param {number} count @param {string} one @param {string} many */
const times = (count, one, many) => `${count} ${count === 1 ? one : many}`;

/**
 * @param {any} signals an IntegritySignals object of the review read model
 * @returns {HTMLElement} a list of facts, or a sentence saying there were none
 */
export function integrityFacts(signals) {
  if (!signals) return el("p", { class: "muted", text: "No integrity signals." });
  const facts = [];
  if (signals.tabHiddenCount) {
    facts.push(`Tab hidden ${times(signals.tabHiddenCount, "time", "times")}, ${formatDuration(signals.tabHiddenSeconds)} in all`);
  }
  if (signals.focusLostCount) {
    facts.push(`Window lost focus ${times(signals.focusLostCount, "time", "times")}, ${formatDuration(signals.focusLostSeconds)} in all`);
  }
  if (signals.offlineCount) {
    facts.push(`Browser offline ${times(signals.offlineCount, "time", "times")}, ${formatDuration(signals.offlineSeconds)} in all`);
  }
  if (signals.pasteCount) {
    facts.push(`${times(signals.pasteCount, "paste", "pastes")} into the answer box, ${times(signals.pastedChars, "character", "characters")}`);
  }
  for (const fast of signals.fastAnswers || []) {
    facts.push(
      `Answer submitted ${formatDuration(fast.secondsAfterShown)} after the question was shown (reading it takes about ${formatDuration(fast.readingSeconds)})`,
    );
  }
  if (!facts.length) return el("p", { class: "muted integrity-none", text: "None recorded." });
  return el("ul", { class: "integrity" }, ...facts.map((fact) => el("li", { text: fact })));
}
