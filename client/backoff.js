/**
 * Exponential backoff with jitter, the one formula behind every retry of the client
 * (the channel's reconnects, live media renegotiations, offline syncs, token refreshes).
 * @module backoff
 */

// Past 2^16 steps the ceiling is the maximum anyway; the cap keeps the power finite.
const MAX_EXPONENT = 16;

/**
 * @typedef {Object} BackoffLimits
 * @property {number} initialMs the ceiling of the first delay
 * @property {number} maxMs the longest delay
 */

/**
 * A retry delay: 50-100% of min(maxMs, initialMs * 2^attempt).
 * @param {number} attempt 0 for the first retry
 * @param {BackoffLimits} limits
 * @returns {number} milliseconds
 */
export function backoff(attempt, { initialMs, maxMs }) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, MAX_EXPONENT));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}
