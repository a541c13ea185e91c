/**
 * A question's scores with what they rest on: the dimensions, each expected point
 * (covered, partly, or not, with its similarity, matched words and excerpt) and the reasons.
 * @module review-scores
 */

import { el, formatScore } from "./review-dom.js";

// The scorer lists every matched word and word pair; the first few say enough on screen.
const MAX_TERMS = 8;

/** @param {any} point */
function pointItem(point) {
  const state = point.covered ? "covered" : point.similarity >= 0.3 ? "partly" : "missing";
  const label = { covered: "Covered", partly: "Partly", missing: "Not found" }[state];
  const evidence = [];
  const terms = point.matchedTerms || [];
  if (terms.length) evidence.push(`words: ${terms.slice(0, MAX_TERMS).join(", ")}${terms.length > MAX_TERMS ? "…" : ""}`);
  evidence.push(`similarity ${Math.round(point.similarity * 100)} %`);
  return el(
    "li",
    { class: `point point-${state}` },
    el("span", { class: "badge", text: label }),
    " ",
    el("span", { text: point.point }),
    el("span", { class: "muted", text: ` (${evidence.join("; ")})` }),
    point.excerpt ? el("q", { class: "excerpt", text: point.excerpt }) : null,
  );
}

/**
 * @param {any} score a QuestionScore, or null/undefined when the session is not scored yet
 * @param {string[] | null} expected the question's expected answer points
 */
export function scoreBlock(score, expected) {
  if (!score) {
    const points = (expected || []).map((point) => el("li", { text: point }));
    return el(
      "div",
      { class: "scores" },
      el("p", { class: "muted", text: "Not scored yet." }),
      points.length ? el("ul", { "aria-label": "Expected answer points" }, ...points) : null,
    );
  }
  const dimensions = el(
    "dl",
    { class: "dimensions" },
    ...["correctness", "clarity", "depth"].flatMap((name) => [
      el("dt", { text: name[0].toUpperCase() + name.slice(1) }),
      el("dd", { text: formatScore(score[name].score) }),
    ]),
  );
  return el(
    "div",
    { class: "scores" },
    el("p", { class: "final-score" }, "Score ", el("strong", { text: formatScore(score.finalScore) }), " / 100"),
    dimensions,
    el("h4", { text: "Expected points" }),
    el("ul", { class: "points" }, ...(score.points || []).map(pointItem)),
    score.reasons?.length ? el("ul", { class: "reasons muted" }, ...score.reasons.map((r) => el("li", { text: r.text }))) : null,
  );
}
