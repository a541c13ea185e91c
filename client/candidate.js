/**
 * The candidate page: what the link leads to (before any setup), device check, recording
 * consent, start, questions with a countdown and time warnings, the draft kept as the
 * candidate types, the live transcript with a speaking indicator and level meter, the
 * connection indicator, offline mode and the completion screen.
 *
 * The interview itself (which question, its draft, the answers given, the connection
 * state) is the client's InterviewFlow; this module renders it and wires the controls.
 *
 * The hiring platform opens `/interview/{applicationId}#token=<user token>`. The
 * fragment never reaches the server; this script moves the token to sessionStorage
 * and removes it from the address bar at once.
 * @module candidate
 */

import { DeviceCheck } from "./device-check.js";
import { watchIntegrity } from "./integrity.js";
import { InterviewClient } from "./interview-client.js";
import { LINK_MESSAGES, readLink } from "./link-state.js";
import { PageVoice } from "./voice.js";
import { plural } from "./wording.js";

const TOKEN_KEY = "interview.userToken";
// Keep in step with service-worker.js, which drops every other cache.
const CACHE_NAME = "interview-shell-v4";
const SHELL = [
  "/client/api.js",
  "/client/backoff.js",
  "/client/candidate.css",
  "/client/candidate.js",
  "/client/channel.js",
  "/client/device-check.js",
  "/client/interview-client.js",
  "/client/interview-flow.js",
  "/client/link-state.js",
  "/client/live-session.js",
  "/client/offline-engine.js",
  "/client/offline-store.js",
  "/client/fallback-questions.js",
  "/client/integrity.js",
  "/client/local-recorder.js",
  "/client/media.js",
  "/client/session-start.js",
  "/client/timers.js",
  "/client/uploader.js",
  "/client/voice.js",
  "/client/wording.js",
];
// Transcript lines kept on screen per question (the server keeps them all).
const MAX_TRANSCRIPT_LINES = 200;
const MEDIA_NOTICES = {
  failed: "Live audio is not available right now. The interview goes on: type your answers in the box.",
  unavailable: "No microphone is available, so there is no live transcript. Type your answers in the box.",
  untranscribed: "Your speech is not transcribed in this interview: please type your answers in the box.",
};
const CONNECTION_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  online: "Online",
  reconnecting: "Reconnecting…",
  waiting: "Waiting to retry…",
  offline: "Offline",
  syncing: "Uploading…",
  closed: "Disconnected",
  submitted: "Submitted",
  ended: "Ended",
};

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const ui = {
  jobTitle: $("job-title"),
  headerProgress: $("header-progress"),
  headerQuestion: $("header-question"),
  headerTimer: $("header-timer"),
  connection: $("connection"),
  connectionText: $("connection-text"),
  banner: $("offline-banner"),
  bannerDetail: $("offline-detail"),
  message: $("message"),
  linkState: $("link-state"),
  linkHeading: $("link-heading"),
  linkText: $("link-text"),
  linkNext: $("link-next"),
  tokenSection: $("token-section"),
  tokenForm: /** @type {HTMLFormElement} */ ($("token-form")),
  tokenInput: /** @type {HTMLInputElement} */ ($("token-input")),
  setup: $("setup"),
  setupSummary: $("setup-summary"),
  deviceBlock: $("device-check-block"),
  deviceHeading: $("device-heading"),
  deviceStatus: $("device-status"),
  micLevel: /** @type {HTMLMeterElement} */ ($("mic-level")),
  cameraPreview: /** @type {HTMLVideoElement} */ ($("camera-preview")),
  consentBlock: $("consent-block"),
  consent: /** @type {HTMLInputElement} */ ($("recording-consent")),
  deviceCheck: /** @type {HTMLButtonElement} */ ($("device-check")),
  start: /** @type {HTMLButtonElement} */ ($("start")),
  interview: $("interview"),
  questionNumber: $("question-number"),
  questionText: $("question-text"),
  countdown: $("countdown"),
  answerForm: /** @type {HTMLFormElement} */ ($("answer-form")),
  answer: /** @type {HTMLTextAreaElement} */ ($("answer")),
  answerHint: $("answer-hint"),
  draftHint: $("draft-hint"),
  timeWarning: $("time-warning"),
  voiceStatus: $("voice-status"),
  voiceText: $("voice-text"),
  repeat: /** @type {HTMLButtonElement} */ ($("repeat")),
  interviewerAudio: /** @type {HTMLAudioElement} */ ($("interviewer-audio")),
  selfViewBox: $("self-view-box"),
  selfView: /** @type {HTMLVideoElement} */ ($("self-view")),
  toggleSelfView: /** @type {HTMLButtonElement} */ ($("toggle-self-view")),
  saveStatus: $("save-status"),
  submit: /** @type {HTMLButtonElement} */ ($("submit-answer")),
  skip: /** @type {HTMLButtonElement} */ ($("skip")),
  transcriptCard: $("transcript-card"),
  transcript: $("transcript"),
  transcriptPartial: $("transcript-partial"),
  transcriptHint: $("transcript-hint"),
  liveAudio: $("live-audio"),
  speaking: $("speaking"),
  speakingText: $("speaking-text"),
  liveLevel: /** @type {HTMLMeterElement} */ ($("live-level")),
  mediaNotice: $("media-notice"),
  end: /** @type {HTMLButtonElement} */ ($("end")),
  endDialog: /** @type {HTMLDialogElement} */ ($("end-dialog")),
  confirmEnd: $("confirm-end"),
  cancelEnd: $("cancel-end"),
  done: $("done"),
  doneHeading: $("done-heading"),
  doneText: $("done-text"),
};

/** Page-level state that is not the interview's (that lives in the client's flow). */
const page = {
  /** @type {InterviewClient | null} */
  client: null,
  /** @type {{id: string, number: number} | null} the question on screen */
  question: null,
  deadline: /** @type {number | null} */ (null),
  mode: "voice",
  record: false,
  packReady: false,
  shellReady: false,
  /** @type {{id: string, number: number} | null} the last answer sent, for its "saved" notice */
  lastAnswer: null,
  busy: false,
  /** The server transcribes speech in this deployment (false: spoken answers must be typed). */
  transcribes: true,
  /** @type {PageVoice | null} */
  voice: null,
  devices: new DeviceCheck({
    button: /** @type {HTMLButtonElement} */ ($("device-check")),
    status: $("device-status"),
    level: /** @type {HTMLMeterElement} */ ($("mic-level")),
    preview: /** @type {HTMLVideoElement} */ ($("camera-preview")),
  }),
};

/** Voice and video interviews take spoken answers, unless speech is not transcribed here. */
const spokenAnswers = () => page.mode !== "text" && page.transcribes;

// ----- token --------------------------------------------------------------------

/** Move `#token=` from the address bar to sessionStorage. */
function takeTokenFromFragment() {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(history.state, "", location.pathname + location.search);
}

/** @returns {string | null} */
const userToken = () => sessionStorage.getItem(TOKEN_KEY);

/** @returns {string | null} */
function applicationIdFromPath() {
  const match = location.pathname.match(/^\/interview\/([A-Za-z0-9_.:-]{1,128})\/?$/);
  return match ? match[1] : null;
}

// ----- rendering ----------------------------------------------------------------

/**
 * Show exactly one of the main sections (the token form may join the link state).
 * @param {"token" | "setup" | "interview" | "done" | "link" | null} name
 * @param {{withToken?: boolean}} [options]
 */
function show(name, { withToken = false } = {}) {
  ui.linkState.hidden = name !== "link";
  ui.tokenSection.hidden = name !== "token" && !withToken;
  ui.setup.hidden = name !== "setup";
  ui.interview.hidden = name !== "interview";
  ui.done.hidden = name !== "done";
  ui.headerProgress.hidden = name !== "interview";
  document.documentElement.dataset.screen = name ?? "none";
}

/**
 * @param {string} text
 * @param {"error" | "info"} [kind]
 */
function showMessage(text, kind = "error") {
  ui.message.textContent = text;
  ui.message.className = kind === "info" ? "message info" : "message";
  ui.message.hidden = !text;
}

/** @param {string} state */
function renderConnection(state) {
  ui.connection.dataset.state = state;
  ui.connectionText.textContent = CONNECTION_TEXT[state] || state;
}

/** @param {number | null} deadline */
function renderCountdown(deadline) {
  for (const timer of [ui.countdown, ui.headerTimer]) {
    if (!deadline) {
      timer.textContent = "--:--";
      timer.classList.remove("low");
      continue;
    }
    const seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(seconds / 60);
    timer.textContent = `${String(minutes).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
    timer.classList.toggle("low", seconds <= 30);
  }
}

/** @param {{question: Object, offline: boolean, deadline: number | null, draft: Object}} detail */
function renderQuestion({ question, offline, deadline, draft }) {
  show("interview");
  ui.questionNumber.textContent = `Question ${question.number} of ${question.total}`;
  ui.headerQuestion.textContent = `${question.number}/${question.total}`;
  if (page.voice) page.voice.show(question, offline);
  else ui.questionText.textContent = question.text;
  page.deadline = deadline;
  renderCountdown(deadline);
  ui.answerForm.hidden = false;
  if (page.question?.id !== question.id) {
    const first = page.question === null;
    page.question = { id: question.id, number: question.number };
    // Shown only once the flow's move is saved: what the tests (and a reload) can rely on.
    document.documentElement.dataset.questionId = question.id;
    // The draft of this question, as it was saved (after a reload, or coming back online).
    ui.answer.value = draft?.text ?? "";
    ui.timeWarning.textContent = "";
    // A notice about an earlier answer is fine; one about "everything" under an empty question is not.
    if (!page.lastAnswer) ui.saveStatus.textContent = "";
    ui.transcript.replaceChildren();
    ui.transcriptPartial.textContent = "";
    // The hint promises a live transcript; not while the notice says there is none.
    ui.transcriptHint.hidden = !ui.mediaNotice.hidden;
    setAnswerBusy(false);
    // Move focus to the new question so keyboard and screen reader users follow along.
    if (!first || document.activeElement === document.body) ui.questionText.focus();
  }
  renderAnswerControls();
}

/** The answer is given; the next question comes from the server when the connection is back. */
function renderWaiting() {
  show("interview");
  page.question = null;
  document.documentElement.dataset.questionId = "";
  page.deadline = null;
  renderCountdown(null);
  ui.questionNumber.textContent = "Answer saved";
  ui.headerQuestion.textContent = "";
  ui.questionText.textContent = "The next question appears as soon as the connection is back.";
  ui.answerForm.hidden = true;
}

/**
 * Live media: the level meter and speaking indicator while it works, a small notice when it does not.
 * @param {string} state see media.js
 */
function renderMedia(state) {
  document.documentElement.dataset.media = state;
  ui.liveAudio.hidden = !["connecting", "connected", "reconnecting", "waiting"].includes(state);
  ui.liveAudio.dataset.state = state;
  const untranscribed = page.mode !== "text" && !page.transcribes ? MEDIA_NOTICES.untranscribed : "";
  const notice = MEDIA_NOTICES[state] || untranscribed;
  ui.mediaNotice.hidden = !notice;
  ui.mediaNotice.textContent = notice || "";
  if (notice) ui.transcriptHint.hidden = true;
  if (state !== "connected") {
    renderSpeaking(false);
    ui.liveLevel.value = 0;
  }
}

/** @param {boolean} speaking */
function renderSpeaking(speaking) {
  ui.speaking.dataset.speaking = String(speaking);
  ui.speakingText.textContent = speaking ? "Speaking" : "Listening";
  renderAnswerControls();
}

/** Video interviews: a small mirrored preview of the candidate's camera during the questions. */
function renderSelfView(stream) {
  const hasVideo = page.mode === "video" && stream.getVideoTracks().length > 0;
  ui.selfViewBox.hidden = !hasVideo;
  if (!hasVideo) return;
  ui.selfView.srcObject = stream;
  ui.selfView.play().catch(() => {});
}

/** @param {boolean} busy */
function setAnswerBusy(busy) {
  page.busy = busy;
  ui.skip.disabled = busy;
  ui.answerForm.setAttribute("aria-busy", String(busy));
  renderAnswerControls();
}

/**
 * "I'm done" for spoken answers: usable once there is speech or text; a typed answer needs its text.
 */
function renderAnswerControls() {
  const spoken = spokenAnswers();
  ui.submit.textContent = spoken ? "I'm done" : "Submit answer";
  ui.answer.required = !spoken;
  ui.answerHint.hidden = !spoken;
  ui.draftHint.textContent = spoken
    ? "If the time runs out, what you have said and typed so far is submitted as your answer."
    : "Your answer is kept on this device as you type. If the time runs out, what you have written is submitted.";
  const flow = page.client?.flow;
  const questionId = page.question?.id;
  const heard = Boolean(spoken && flow && questionId && flow.hasDraft(questionId));
  const hasAnswer = ui.answer.value.trim().length > 0 || heard;
  ui.submit.disabled = Boolean(page.busy) || (spoken && !hasAnswer);
}

/**
 * @param {number} seconds 30 or 10
 * @returns {string}
 */
function warningText(seconds) {
  const what = spokenAnswers() ? "what you have said and typed" : "what you have written";
  return `${seconds} seconds left for this question. When the time is up, ${what} so far is submitted as your answer.`;
}

/**
 * @param {string} heading
 * @param {string} text
 */
function renderDone(heading, text) {
  show("done");
  ui.doneHeading.textContent = heading;
  ui.doneText.textContent = text;
  ui.doneHeading.focus();
}

/**
 * A link that ends here (not found, submitted, invalid or expired token): its message and next step.
 * @param {"not_found" | "completed" | "expired" | "invalid"} kind
 */
function renderLink(kind) {
  const message = LINK_MESSAGES[kind];
  show("link", { withToken: kind === "expired" || kind === "invalid" });
  document.documentElement.dataset.link = kind;
  ui.linkHeading.textContent = message.heading;
  ui.linkText.textContent = message.text;
  ui.linkNext.textContent = message.next;
  if (kind === "completed") renderConnection("submitted");
  ui.linkHeading.focus();
}

/**
 * Interview mode wording: a text interview has no microphone check, camera or live transcript.
 * @param {string} mode voice | video | text
 */
function applyMode(mode) {
  page.mode = mode;
  document.documentElement.dataset.interviewMode = mode;
  page.voice?.setMode(mode);
  ui.deviceBlock.hidden = mode === "text";
  ui.transcriptCard.hidden = mode === "text";
  const video = mode === "video";
  ui.deviceHeading.textContent = video ? "Check your microphone and camera" : "Check your microphone";
  ui.deviceCheck.textContent = video ? "Check microphone and camera" : "Check microphone";
  ui.consentBlock.hidden = !page.record || mode === "text";
  renderAnswerControls();
}

/** The test suite and people waiting to go offline can see when the page could be reloaded offline. */
function markOfflineReady() {
  if (page.packReady && page.shellReady) document.documentElement.dataset.offlineReady = "true";
}

// ----- client wiring ------------------------------------------------------------

/** @param {InterviewClient} client */
function wire(client) {
  client.addEventListener("question", (event) => renderQuestion(event.detail));
  client.addEventListener("waiting", () => renderWaiting());
  client.addEventListener("connection", (event) => {
    const { state, status } = event.detail;
    renderConnection(state === "ended" ? (status === "completed" ? "submitted" : "ended") : state);
  });
  client.addEventListener("warning", (event) => {
    ui.timeWarning.textContent = warningText(event.detail.seconds);
    ui.timeWarning.dataset.seconds = String(event.detail.seconds);
  });
  client.addEventListener("timeUp", (event) => {
    const number = client.flow.questions.find((q) => q.id === event.detail.questionId)?.number;
    ui.timeWarning.dataset.seconds = "0";
    ui.timeWarning.textContent = event.detail.submitted
      ? `Time is up for question ${number}: what you had so far was submitted as your answer.`
      : `Time is up for question ${number}.`;
  });
  client.addEventListener("offline", (event) => {
    ui.banner.hidden = false;
    const source = event.detail.source === "fallback" ? " The questions come from a standard set." : "";
    ui.bannerDetail.textContent =
      "Your answers are saved on this device and will be uploaded automatically when the connection is back." + source;
    document.documentElement.dataset.mode = "offline";
  });
  client.addEventListener("synced", (event) => {
    ui.banner.hidden = true;
    document.documentElement.dataset.mode = "online";
    document.documentElement.dataset.synced = "true";
    const { accepted, duplicates } = event.detail;
    showMessage(`Back online: ${plural(accepted + duplicates, "saved item")} uploaded.`, "info");
  });
  client.addEventListener("state", (event) => {
    const { phase, flow, status, finishedOffline } = event.detail;
    document.documentElement.dataset.phase = phase;
    document.documentElement.dataset.flow = flow;
    if (phase === "completed") {
      ui.banner.hidden = true;
      renderDone("Thank you", "Your interview has been submitted.");
      page.devices.stop();
      page.voice?.stop();
      ui.selfViewBox.hidden = true;
    } else if (phase === "offline" && finishedOffline) {
      renderDone(
        "All done",
        "Your answers are saved on this device. Keep this page open: they will be uploaded as soon as the connection is back.",
      );
    } else if (status === "paused") {
      showMessage("The interview is paused.", "info");
    }
  });
  client.addEventListener("saved", (event) => {
    if (event.detail.type !== "answer.submit") return;
    const number = client.flow.questions.find((q) => q.id === event.detail.questionId)?.number ?? 0;
    page.lastAnswer = { id: event.detail.id, number };
    ui.saveStatus.textContent =
      client.connection === "online"
        ? `Sending your answer to question ${number}…`
        : "Answer saved on this device. It will be sent to the server when the connection is back.";
  });
  client.addEventListener("acked", (event) => {
    const last = page.lastAnswer;
    if (last && event.detail.ids.includes(last.id)) {
      ui.saveStatus.textContent = `Your answer to question ${last.number} is saved on the server.`;
    }
  });
  client.addEventListener("transcript", (event) => {
    const { text, final, questionId } = event.detail;
    // A line finalised just after the question changed belongs to the previous answer.
    if (questionId && page.question && questionId !== page.question.id) return;
    ui.transcriptHint.hidden = true;
    if (final) {
      const item = document.createElement("li");
      item.textContent = text;
      ui.transcript.append(item);
      while (ui.transcript.childElementCount > MAX_TRANSCRIPT_LINES) ui.transcript.firstElementChild?.remove();
      ui.transcriptPartial.textContent = "";
    } else {
      ui.transcriptPartial.textContent = text;
    }
    renderAnswerControls();
  });
  client.addEventListener("media", (event) => {
    renderMedia(event.detail.state);
    page.voice?.setMedia(event.detail.state);
  });
  client.addEventListener("capabilities", (event) => {
    page.voice?.setCapabilities(event.detail);
    page.transcribes = Boolean(event.detail.transcription);
    if (page.mode !== "text" && !page.transcribes) {
      ui.mediaNotice.hidden = false;
      ui.mediaNotice.textContent = MEDIA_NOTICES.untranscribed;
      ui.transcriptHint.hidden = true;
    }
    renderAnswerControls();
  });
  client.addEventListener("questionAudio", (event) => page.voice?.serverAudio(event.detail));
  client.addEventListener("voiceTrack", (event) => page.voice?.attach(event.detail.stream));
  client.addEventListener("localStream", (event) => renderSelfView(event.detail.stream));
  client.addEventListener("speaking", (event) => renderSpeaking(event.detail.speaking));
  client.addEventListener("level", (event) => {
    ui.liveLevel.value = Math.max(0, Math.min(1, Number(event.detail.level) || 0));
  });
  client.addEventListener("error", (event) => {
    const { code, message, fatal } = event.detail;
    showMessage(message, code === "ALREADY_COMPLETED" ? "info" : "error");
    if (fatal && client.phase !== "online" && client.phase !== "offline") {
      show(null);
      ui.start.disabled = false;
    }
  });
}

// ----- offline shell ------------------------------------------------------------

/** Register the service worker and cache this page so a reload works without the server. */
async function prepareOfflineShell() {
  if (!("serviceWorker" in navigator) || !("caches" in window)) return;
  try {
    await navigator.serviceWorker.register("/client/service-worker.js", { scope: "/interview/" });
    await navigator.serviceWorker.ready;
    const cache = await caches.open(CACHE_NAME);
    await cache.addAll([location.pathname, ...SHELL]);
    page.shellReady = true;
    markOfflineReady();
  } catch {
    // Offline reloads will not work, but the interview itself still does.
  }
}

// ----- actions ------------------------------------------------------------------

/** @param {InterviewClient} client */
async function onStart(client) {
  if (ui.start.disabled) return;
  ui.start.disabled = true;
  ui.start.setAttribute("aria-busy", "true");
  showMessage("");
  const asksConsent = page.record && page.mode !== "text";
  client.configureMedia({ mode: page.mode, consent: asksConsent ? ui.consent.checked : null });
  try {
    const outcome = await client.start();
    if (outcome !== "online" && outcome !== "offline") ui.start.disabled = false;
    // The interview captures the microphone itself; the device check's preview is no longer needed.
    else page.devices.stop();
  } finally {
    ui.start.removeAttribute("aria-busy");
  }
}

/** @param {InterviewClient} client */
async function onSubmit(client) {
  if (ui.submit.disabled || !page.question) return;
  setAnswerBusy(true);
  ui.saveStatus.textContent = "Saving…";
  try {
    // The flow moves on at once (online or not): the next question is shown by the client.
    await client.submitAnswer({ text: ui.answer.value });
  } catch (error) {
    ui.saveStatus.textContent = "Could not save the answer on this device. Please try again.";
  } finally {
    setAnswerBusy(false);
  }
}

/** @param {InterviewClient} client */
async function onSkip(client) {
  setAnswerBusy(true);
  try {
    await client.nextQuestion();
  } finally {
    setAnswerBusy(false);
  }
}

/** @param {InterviewClient} client */
function wireControls(client) {
  ui.start.addEventListener("click", () => onStart(client));
  ui.deviceCheck.addEventListener("click", () => page.devices.run(page.mode === "video"));
  ui.answerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(client);
  });
  ui.answer.addEventListener("input", () => {
    // The draft is kept (IndexedDB) as the candidate types: a reload or the time limit never loses it.
    client.saveDraft(ui.answer.value);
    if (page.lastAnswer) {
      page.lastAnswer = null;
      ui.saveStatus.textContent = "";
    }
    renderAnswerControls();
  });
  ui.answer.addEventListener("keydown", (event) => {
    // Ctrl/Cmd+Enter submits, as in most chat and form tools.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      onSubmit(client);
    }
  });
  ui.skip.addEventListener("click", () => onSkip(client));
  ui.toggleSelfView.addEventListener("click", () => {
    const hidden = ui.selfViewBox.dataset.hidden !== "true";
    ui.selfViewBox.dataset.hidden = String(hidden);
    ui.toggleSelfView.setAttribute("aria-pressed", String(hidden));
    ui.toggleSelfView.textContent = hidden ? "Show my camera" : "Hide my camera";
  });
  ui.end.addEventListener("click", () => ui.endDialog.showModal());
  ui.cancelEnd.addEventListener("click", () => ui.endDialog.close());
  ui.confirmEnd.addEventListener("click", async () => {
    ui.endDialog.close();
    ui.end.disabled = true;
    await client.end();
  });
  setInterval(() => renderCountdown(page.deadline), 1000);
  document.addEventListener("visibilitychange", () => {
    if (client.phase !== "online" && client.phase !== "offline") return;
    // The draft is saved now: a hidden tab may be closed without another event.
    if (document.hidden) client.saveFlow().catch(() => {});
    // Leaving the tab mid-interview is worth knowing for the reviewer; it never blocks the candidate.
    client.reportEvent(document.hidden ? "tab.hidden" : "tab.visible").catch(() => {});
  });
  watchIntegrity(client, ui.answer);
}

// ----- start-up -----------------------------------------------------------------

/**
 * What the link leads to decides the first screen: its own message, or the setup screen.
 * @param {InterviewClient} client
 */
async function openLink(client) {
  const link = await readLink(client.api, { userToken: userToken() || "", applicationId: client.applicationId });
  const application = link.body?.application;
  if (application) {
    ui.jobTitle.textContent = `Interview: ${application.jobTitle}`;
    document.title = `Interview: ${application.jobTitle}`;
  }
  if (link.body?.interview) applyMode(link.body.interview.mode);
  if (link.kind === "not_found" || link.kind === "completed" || link.kind === "expired" || link.kind === "invalid") {
    renderLink(link.kind);
    page.packReady = true;
    return;
  }
  show("setup");
  if (link.kind === "in_progress") {
    const progress = link.body.progress;
    ui.start.textContent = "Continue interview";
    showMessage(
      `You started this interview earlier and are at question ${progress.questionNumber} ` +
        `of ${progress.questionCount}. Continue where you left off.`,
      "info",
    );
  }
  await loadPack(client);
}

async function main() {
  takeTokenFromFragment();
  const applicationId = applicationIdFromPath();
  if (!applicationId) {
    showMessage("This interview link is not valid.");
    return;
  }
  const client = await InterviewClient.create({ applicationId, getUserToken: userToken });
  page.client = client;
  page.voice = new PageVoice({
    audio: ui.interviewerAudio,
    text: ui.questionText,
    status: ui.voiceStatus,
    statusText: ui.voiceText,
    repeat: ui.repeat,
    client,
  });
  // Exposed for debugging and for the browser tests.
  window.interview = { client };
  wire(client);
  wireControls(client);
  prepareOfflineShell();

  const resumed = await client.restore();
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.tokenInput.value = "";
    openLink(client);
  });
  if (resumed) {
    const pack = await client.store.getPack(applicationId);
    if (pack) applyPack(pack);
    page.packReady = true;
  } else if (userToken()) {
    await openLink(client);
  } else {
    show("token");
    page.packReady = true;
  }
  markOfflineReady();
  document.documentElement.dataset.ready = "true";
}

/** @param {Object} pack the offline pack: application, interview settings, questions */
function applyPack(pack) {
  const { application, interview, questions } = pack;
  page.record = Boolean(interview?.record);
  applyMode(interview?.mode || "voice");
  ui.jobTitle.textContent = `Interview: ${application.jobTitle}`;
  document.title = `Interview: ${application.jobTitle}`;
  const minutes = Math.max(1, Math.ceil(questions.reduce((sum, q) => sum + q.timeLimitSeconds, 0) / 60));
  ui.setupSummary.textContent =
    `Hello ${application.candidateName}. This interview has ${plural(questions.length, "question")} ` +
    `and takes up to about ${plural(minutes, "minute")}. ` +
    "Answer each question in your own words before its time runs out.";
}

/** @param {InterviewClient} client */
async function loadPack(client) {
  const pack = (await client.cacheOfflinePack()) || (await client.store.getPack(client.applicationId));
  if (pack) applyPack(pack);
  page.packReady = true;
  markOfflineReady();
}

main().catch((error) => {
  showMessage(`The page could not start: ${error?.message || error}`);
});
