/**
 * What the candidate's link leads to, answered before the setup screen: one cheap read
 * (`GET /api/interview/link-status`) and, for each state, what the page says and the next
 * step it offers. A completed interview or an unknown application never shows a Start button.
 * @module link-state
 */

import { unreachable } from "./api.js";

/**
 * @typedef {Object} LinkState
 * @property {"not_found" | "completed" | "open" | "in_progress" | "expired" | "invalid" | "unknown"} kind
 *   unknown: the server could not be asked (the setup screen is shown; offline mode may follow)
 * @property {Object | null} body the link-status answer
 */

/** The message and next step of the states that end at the link (no setup screen). */
export const LINK_MESSAGES = {
  not_found: {
    heading: "We could not find this interview",
    text: "This link does not lead to an interview for you.",
    next:
      "Check that you opened the whole link from your invitation. " +
      "If it still does not work, reply to the invitation and ask the recruiter for a new link.",
  },
  completed: {
    heading: "Interview already submitted",
    text: "You have already completed this interview, and your answers have been submitted. Thank you.",
    next: "There is nothing more to do: you can close this page.",
  },
  expired: {
    heading: "Your access link has expired",
    text: "Links to an interview work for a limited time, and this one has run out.",
    next: "Ask the recruiter for a new interview link, or paste a new access token below.",
  },
  invalid: {
    heading: "This access link is not valid",
    text: "The link is incomplete or was changed, so the interview cannot be opened with it.",
    next: "Open the whole link from your invitation again (copy all of it), or paste a new access token below.",
  },
};

/**
 * Ask the server what the link leads to.
 * @param {import("./api.js").InterviewApi} api
 * @param {{userToken: string, applicationId: string, timeoutMs?: number}} args
 * @returns {Promise<LinkState>}
 */
export async function readLink(api, { userToken, applicationId, timeoutMs = 5000 }) {
  const response = await api.linkStatus({ userToken, applicationId, timeoutMs });
  if (response.status === 401) {
    return { kind: response.body?.details?.reason === "expired" ? "expired" : "invalid", body: response.body };
  }
  if (!response.ok || unreachable(response)) return { kind: "unknown", body: null };
  const kind = response.body?.status;
  const known = ["not_found", "completed", "open", "in_progress"].includes(kind);
  return { kind: known ? kind : "unknown", body: response.body };
}
