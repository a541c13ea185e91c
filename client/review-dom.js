/**
 * Small DOM helpers for the review page: elements built from data with textContent
 * only (never HTML from the server), SVG elements, and the formats the page shows.
 * @module review-dom
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag
 * @param {Object<string, any>} [props] attributes (`class`, `aria-*`, `data-*`...) and `text`
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/**
 * @param {string} tag
 * @param {Object<string, any>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  setProps(node, attrs);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/** @param {Element} node @param {Object<string, any>} props */
function setProps(node, props) {
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/** @param {string | null | undefined} iso */
export function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** @param {string | null | undefined} iso */
export function formatTime(iso) {
  return iso ? new Date(iso).toISOString().slice(11, 19) : "–";
}

/** @param {number | null | undefined} seconds */
export function formatDuration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes ? `${minutes} min ${whole % 60} s` : `${whole} s`;
}

/** @param {number} ms a position in the recording */
export function formatClock(ms) {
  const total = Math.floor(ms / 1000);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** @param {number | null | undefined} score */
export function formatScore(score) {
  return score == null ? "–" : String(Math.round(score * 10) / 10);
}
