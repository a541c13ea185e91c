/**
 * The candidate page: device check, recording consent, start, questions with a
 * countdown, the live transcript with a speaking indicator and level meter, the
 * connection indicator, offline mode and the completion screen.
 *
 * The hiring platform opens `/interview/{applicationId}#token=<user token>`. The
 * fragment never reaches the server; this script moves the token to sessionStorage
 * and removes it from the address bar at once.
 * @module candidate
 */

import { watchIntegrity } from "./integrity.js";
import { InterviewClient } from "./interview-client.js";
import { PageVoice } from "./voice.js";

const TOKEN_KEY = "interview.userToken";
// Keep in step with service-worker.js, which drops every other cache.
const CACHE_NAME = "interview-shell-v4";
const SHELL = [
  "/client/api.js",
  "/client/backoff.js",
  "/client/candidate.css",
  "/client/candidate.js",
  "/client/channel.js",
  "/client/interview-client.js",
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
};

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const ui = {
  jobTitle: $("job-title"),
  connection: $("connection"),
  connectionText: $("connection-text"),
  banner: $("offline-banner"),
  bannerDetail: $("offline-detail"),
  message: $("message"),
  tokenSection: $("token-section"),
  tokenForm: /** @type {HTMLFormElement} */ ($("token-form")),
  tokenInput: /** @type {HTMLInputElement} */ ($("token-input")),
  setup: $("setup"),
  setupSummary: $("setup-summary"),
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

/** Page-level state that is not the interview's (that lives in the client). */
const page = {
  /** @type {InterviewClient | null} */
  client: null,
  questionId: /** @type {string | null} */ (null),
  answerStartedAt: /** @type {string | null} */ (null),
  deadline: /** @type {number | null} */ (null),
  mode: "voice",
  record: false,
  packReady: false,
  answersSaved: 0,
  shellReady: false,
  /** @type {MediaStream | null} */
  stream: null,
  /** The candidate spoke (or a transcript line came) since the current question was shown. */
  heardSpeech: false,
  busy: false,
  /** The server transcribes speech in this deployment (false: spoken answers must be typed). */
  transcribes: true,
  /** @type {PageVoice | null} */
  voice: null,
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
 * Show exactly one of the main sections.
 * @param {"token" | "setup" | "interview" | "done" | null} name
 */
function show(name) {
  ui.tokenSection.hidden = name !== "token";
  ui.setup.hidden = name !== "setup";
  ui.interview.hidden = name !== "interview";
  ui.done.hidden = name !== "done";
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
  if (!deadline) {
    ui.countdown.textContent = "--:--";
    ui.countdown.classList.remove("low");
    return;
  }
  const seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
  const minutes = Math.floor(seconds / 60);
  ui.countdown.textContent = `${String(minutes).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  ui.countdown.classList.toggle("low", seconds <= 30);
}

/** @param {{question: Object, offline: boolean, deadline: number | null}} detail */
function renderQuestion({ question, offline, deadline }) {
  show("interview");
  ui.questionNumber.textContent = `Question ${question.number} of ${question.total}`;
  if (page.voice) page.voice.show(question, offline);
  else ui.questionText.textContent = question.text;
  page.deadline = deadline;
  renderCountdown(deadline);
  if (page.questionId !== question.id) {
    const first = page.questionId === null;
    page.questionId = question.id;
    page.answerStartedAt = null;
    page.heardSpeech = false;
    ui.answer.value = "";
    ui.transcript.replaceChildren();
    ui.transcriptPartial.textContent = "";
    // The hint promises a live transcript; not while the notice says there is none.
    ui.transcriptHint.hidden = !ui.mediaNotice.hidden;
    setAnswerBusy(false);
    // Move focus to the new question so keyboard and screen reader users follow along.
    if (!first || document.activeElement === document.body) ui.questionText.focus();
  }
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
  if (speaking && !page.heardSpeech) {
    page.heardSpeech = true;
    renderAnswerControls();
  }
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
  const hasAnswer = ui.answer.value.trim().length > 0 || (spoken && page.heardSpeech);
  ui.submit.disabled = Boolean(page.busy) || (spoken && !hasAnswer);
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

/** The test suite and people waiting to go offline can see when the page could be reloaded offline. */
function markOfflineReady() {
  if (page.packReady && page.shellReady) document.documentElement.dataset.offlineReady = "true";
}

// ----- client wiring ------------------------------------------------------------

/** @param {InterviewClient} client */
function wire(client) {
  client.addEventListener("question", (event) => renderQuestion(event.detail));
  client.addEventListener("connection", (event) => renderConnection(event.detail.state));
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
    showMessage(`Back online: ${accepted + duplicates} saved item(s) uploaded.`, "info");
  });
  client.addEventListener("state", (event) => {
    const { phase, status, finishedOffline } = event.detail;
    document.documentElement.dataset.phase = phase;
    if (phase === "completed") {
      ui.banner.hidden = true;
      renderDone("Thank you", "Your interview has been submitted.");
      renderConnection("closed");
      stopDevices();
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
    page.answersSaved += 1;
    ui.saveStatus.textContent = "Answer saved on this device.";
  });
  client.addEventListener("acked", (event) => {
    if (event.detail.pending === 0 && page.answersSaved) ui.saveStatus.textContent = "Everything is saved on the server.";
  });
  client.addEventListener("transcript", (event) => {
    const { text, final, questionId } = event.detail;
    // A line finalised just after the question changed belongs to the previous answer.
    if (questionId && page.questionId && questionId !== page.questionId) return;
    ui.transcriptHint.hidden = true;
    if (!page.heardSpeech) {
      page.heardSpeech = true;
      renderAnswerControls();
    }
    if (final) {
      const item = document.createElement("li");
      item.textContent = text;
      ui.transcript.append(item);
      while (ui.transcript.childElementCount > MAX_TRANSCRIPT_LINES) ui.transcript.firstElementChild?.remove();
      ui.transcriptPartial.textContent = "";
    } else {
      ui.transcriptPartial.textContent = text;
    }
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

// ----- device check -------------------------------------------------------------

function stopDevices() {
  page.stream?.getTracks().forEach((track) => track.stop());
  page.stream = null;
}

/** Ask for the microphone (and camera for video interviews) and show a level meter. */
async function checkDevices() {
  ui.deviceCheck.disabled = true;
  ui.deviceStatus.textContent = "Asking for permission…";
  try {
    stopDevices();
    const video = page.mode === "video";
    page.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    if (video) {
      ui.cameraPreview.srcObject = page.stream;
      ui.cameraPreview.hidden = false;
      await ui.cameraPreview.play().catch(() => {});
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(page.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (!page.stream) {
        context.close();
        return;
      }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) sum += value * value;
      ui.micLevel.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      requestAnimationFrame(tick);
    };
    tick();
    ui.deviceStatus.textContent = video ? "Microphone and camera are working." : "Microphone is working. Speak to see the level move.";
  } catch (error) {
    const denied = error?.name === "NotAllowedError";
    ui.deviceStatus.textContent = denied
      ? "Permission was denied. Allow the microphone in your browser's site settings, then try again."
      : "No microphone was found. You can still answer by typing.";
  } finally {
    ui.deviceCheck.disabled = false;
  }
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
    else stopDevices();
  } finally {
    ui.start.removeAttribute("aria-busy");
  }
}

/** @param {InterviewClient} client */
async function onSubmit(client) {
  if (ui.submit.disabled) return;
  setAnswerBusy(true);
  ui.saveStatus.textContent = "Saving…";
  try {
    await client.submitAnswer({ text: ui.answer.value, startedAt: page.answerStartedAt || undefined });
  } catch (error) {
    ui.saveStatus.textContent = "Could not save the answer on this device. Please try again.";
    setAnswerBusy(false);
    return;
  }
  // Online the next question arrives from the server; keep the buttons locked until then.
  if (client.phase !== "online") setAnswerBusy(false);
}

/** @param {InterviewClient} client */
async function onSkip(client) {
  setAnswerBusy(true);
  try {
    await client.nextQuestion();
  } finally {
    if (client.phase !== "online") setAnswerBusy(false);
  }
}

/** @param {InterviewClient} client */
function wireControls(client) {
  ui.start.addEventListener("click", () => onStart(client));
  ui.deviceCheck.addEventListener("click", checkDevices);
  ui.answerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(client);
  });
  ui.answer.addEventListener("input", () => {
    renderAnswerControls();
    if (page.answerStartedAt) return;
    page.answerStartedAt = new Date().toISOString();
    client.startAnswer().catch(() => {});
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
  // Leaving the tab mid-interview is worth knowing for the reviewer; it never blocks the candidate.
  document.addEventListener("visibilitychange", () => {
    if (client.phase === "online" || client.phase === "offline") {
      client.reportEvent(document.hidden ? "tab.hidden" : "tab.visible").catch(() => {});
    }
  });
  watchIntegrity(client, ui.answer);
}

// ----- start-up -----------------------------------------------------------------

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
  if (!resumed) {
    if (userToken()) {
      show("setup");
    } else {
      show("token");
    }
  }
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.tokenInput.value = "";
    show("setup");
    loadPack(client);
  });
  if (userToken()) await loadPack(client);
  else if (resumed) page.packReady = true;
  document.documentElement.dataset.ready = "true";
}

/** @param {InterviewClient} client */
async function loadPack(client) {
  const pack = (await client.cacheOfflinePack()) || (await client.store.getPack(client.applicationId));
  if (pack) {
    const { application, interview, questions } = pack;
    page.mode = interview?.mode || "voice";
    page.record = Boolean(interview?.record);
    page.voice?.setMode(page.mode);
    renderAnswerControls();
    ui.consentBlock.hidden = !page.record || page.mode === "text";
    ui.jobTitle.textContent = `Interview: ${application.jobTitle}`;
    document.title = `Interview: ${application.jobTitle}`;
    const minutes = Math.ceil(questions.reduce((sum, q) => sum + q.timeLimitSeconds, 0) / 60);
    ui.setupSummary.textContent =
      `Hello ${application.candidateName}. This interview has ${questions.length} question(s) and takes up to about ${minutes} minute(s). ` +
      "Answer each question in your own words before its time runs out.";
  }
  page.packReady = true;
  markOfflineReady();
}

main().catch((error) => {
  showMessage(`The page could not start: ${error?.message || error}`);
});
