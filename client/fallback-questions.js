/**
 * The built-in question set for offline mode when no offline pack was cached.
 *
 * These ids are not in the server's bank: answers to them are still uploaded
 * and stored with the session, and the session is completed explicitly.
 * @module fallback-questions
 */

/**
 * @typedef {Object} Question
 * @property {number} number 1-based position in the interview
 * @property {number} total number of questions in the interview
 * @property {string} id stable question id
 * @property {string} text the question as shown to the candidate
 * @property {string} category technical | behavioral | situational | cultural
 * @property {string} difficulty junior | mid | senior
 * @property {number} timeLimitSeconds time allowed for the answer
 */

const FALLBACK_TEXTS = [
  ["behavioral", "Tell us about a project you are proud of and the part you played in it."],
  ["technical", "Describe how you would find the cause of a bug that only happens in production."],
  ["situational", "A teammate disagrees with your approach a day before a deadline. What do you do?"],
  ["behavioral", "Describe a time you had to learn something new quickly. How did you go about it?"],
  ["cultural", "What does a good working week look like for you?"],
];

/**
 * The fallback questions, numbered for an interview of `count` questions.
 * @param {number} [count] how many to return (1..5; default all)
 * @returns {Question[]}
 */
export function fallbackQuestions(count = FALLBACK_TEXTS.length) {
  const n = Math.max(1, Math.min(FALLBACK_TEXTS.length, Math.floor(count) || FALLBACK_TEXTS.length));
  return FALLBACK_TEXTS.slice(0, n).map(([category, text], index) => ({
    number: index + 1,
    total: n,
    id: `fallback-${index + 1}`,
    text,
    category,
    difficulty: "mid",
    timeLimitSeconds: 180,
  }));
}
