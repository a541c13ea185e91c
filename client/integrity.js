/**
 * Facts for the reviewer about how the interview was taken: the page losing focus,
 * the browser going offline, text pasted into the answer box (its length, never the
 * text). Stored as named client events like `tab.hidden`; they never block or warn the
 * candidate, and the server only counts them (server/sessions/integrity.py).
 * @module integrity
 */

/**
 * @param {import("./interview-client.js").InterviewClient} client
 * @param {HTMLTextAreaElement} answer the answer box
 */
export function watchIntegrity(client, answer) {
  const running = () => client.phase === "online" || client.phase === "offline";
  /** @param {string} name @param {Object} [payload] */
  const report = (name, payload = {}) => {
    if (running()) client.reportEvent(name, payload).catch(() => {});
  };
  addEventListener("blur", () => report("focus.lost"));
  addEventListener("focus", () => report("focus.back"));
  addEventListener("offline", () => report("network.offline"));
  addEventListener("online", () => report("network.online"));
  answer.addEventListener("paste", (event) => {
    const text = event.clipboardData?.getData("text/plain") ?? "";
    const payload = { chars: text.length };
    const question = client.currentQuestion;
    if (question) payload.questionId = question.id;
    report("answer.paste", payload);
  });
}
