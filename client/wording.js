/**
 * Words the page shows that depend on a number.
 * @module wording
 */

/**
 * "1 question", "3 questions".
 * @param {number} count
 * @param {string} one the singular noun
 * @param {string} [many] the plural noun (default: `one` + "s")
 * @returns {string}
 */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
