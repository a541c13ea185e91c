/**
 * The reviewer page (`/review`): a recruiter's or admin's user token reaches it in the
 * URL fragment (`#token=...`, moved to sessionStorage and cleared at once) or through
 * the paste form. Views: the session list, one session, and the analytics plots.
 * A candidate's token is refused (the analytics call answers 403), and nothing is shown.
 * @module review
 */

import { forgetToken, keepToken, reviewToken, takeTokenFromFragment } from "./review-api.js";
import { showAnalytics } from "./review-analytics.js";
import { SessionList } from "./review-list.js";
import { SessionView } from "./review-session.js";

/** @param {string} id */
const $ = (id) => /** @type {any} */ (document.getElementById(id));

const sections = {
  token: $("token-section"),
  list: $("list-section"),
  session: $("session-section"),
  analytics: $("analytics-section"),
};

/** @param {string} text */
function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

/** @param {"token" | "list" | "session" | "analytics"} name */
function show(name) {
  for (const [key, section] of Object.entries(sections)) section.hidden = key !== name;
  $("nav").hidden = name === "token";
  $("show-list").setAttribute("aria-pressed", String(name === "list" || name === "session"));
  $("show-analytics").setAttribute("aria-pressed", String(name === "analytics"));
  document.documentElement.dataset.view = name;
}

const list = new SessionList({
  form: $("filters"),
  body: $("sessions-body"),
  newer: $("newer"),
  older: $("older"),
  pageLabel: $("page-label"),
  onOpen: (sessionId) => openSession(sessionId),
  onError: showMessage,
});
const view = new SessionView({
  heading: $("session-heading"),
  summary: $("session-summary"),
  integrity: $("session-integrity"),
  timeline: $("timeline"),
  notice: $("score-notice"),
  audio: $("player"),
  playerStatus: $("player-status"),
});
let lastRow = null;

/** @param {string} sessionId */
async function openSession(sessionId) {
  showMessage("");
  lastRow = sessionId;
  delete document.documentElement.dataset.sessionReady;
  const problem = await view.open(sessionId);
  if (problem) {
    showMessage(problem);
    return;
  }
  show("session");
  $("session-heading").focus();
  document.documentElement.dataset.sessionReady = sessionId;
}

function backToList() {
  view.player.audio.pause();
  show("list");
  const row = lastRow && document.querySelector(`tr[data-session-id="${CSS.escape(lastRow)}"]`);
  if (row) row.focus();
}

async function drawAnalytics() {
  const data = new FormData($("analytics-filters"));
  const window = { from: String(data.get("from") || ""), to: String(data.get("to") || "") };
  const problem = await showAnalytics(window, $("charts"), $("analytics-summary"));
  if (problem) showMessage(problem);
  else document.documentElement.dataset.analyticsReady = "true";
  return problem;
}

/** Sign in with the stored token: the analytics call tells whether it is a reviewer's. */
async function start() {
  showMessage("");
  const problem = await drawAnalytics();
  if (problem) {
    show("token");
    document.documentElement.dataset.refused = "true";
    return;
  }
  delete document.documentElement.dataset.refused;
  show("list");
  await list.load();
}

function main() {
  takeTokenFromFragment();
  $("token-form").addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    keepToken(token);
    $("token-input").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => {
    forgetToken();
    show("token");
  });
  $("show-list").addEventListener("click", () => show("list"));
  $("show-analytics").addEventListener("click", () => show("analytics"));
  $("back").addEventListener("click", backToList);
  $("analytics-filters").addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    drawAnalytics();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !sections.session.hidden) backToList();
  });
  if (reviewToken()) start();
  else show("token");
  document.documentElement.dataset.ready = "true";
}

main();
