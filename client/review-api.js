/**
 * The review page's calls to the API, with the reviewer's user token as a bearer
 * header (never in a URL). The token lives in sessionStorage for this tab only.
 * @module review-api
 */

const TOKEN_KEY = "review.userToken";
const TIMEOUT_MS = 15000;

/** @returns {string | null} */
export const reviewToken = () => sessionStorage.getItem(TOKEN_KEY);

/** @param {string} token */
export const keepToken = (token) => sessionStorage.setItem(TOKEN_KEY, token);

export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

/**
 * Move `#token=...` from the address bar to sessionStorage and clear the fragment at once
 * (the fragment never reaches the server; this keeps it out of history and screenshots too).
 */
export function takeTokenFromFragment() {
  if (!location.hash) return;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) keepToken(token);
  history.replaceState(history.state, "", location.pathname + location.search);
}

/**
 * @typedef {Object} ApiResult
 * @property {boolean} ok
 * @property {number} status 0 when the server could not be reached
 * @property {any} body the parsed JSON (an error body `{error, code}` when not ok)
 */

/**
 * @param {string} path
 * @param {{method?: string, query?: Object<string, string | number | null | undefined>}} [options]
 * @returns {Promise<ApiResult>}
 */
export async function api(path, { method = "GET", query } = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const url = params.size ? `${path}?${params}` : path;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method,
      headers: { Authorization: `Bearer ${reviewToken() || ""}`, Accept: "application/json" },
      signal: controller.signal,
    });
    const body = await response.json().catch(() => null);
    return { ok: response.ok, status: response.status, body };
  } catch {
    return { ok: false, status: 0, body: null };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What to tell the reviewer when a call failed.
 * @param {ApiResult} result
 */
export function failureText(result) {
  if (result.status === 0) return "The server could not be reached. Try again in a moment.";
  if (result.status === 401) return "Your access token is invalid or has expired. Paste a new one.";
  if (result.status === 403) return "This page is for recruiters and admins: your token does not allow it.";
  if (result.status === 404) return "Not found, or not visible to you.";
  return result.body?.error || `The server answered ${result.status}.`;
}
