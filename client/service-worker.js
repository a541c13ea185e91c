/**
 * Keeps the candidate page loadable while the server is unreachable.
 *
 * Network first, so a deploy reaches candidates at once; the cached copy (filled
 * by the page, see candidate.js) answers only when the network fails. API calls
 * and the WebSocket are never touched here.
 */

// Keep in step with candidate.js, which fills it; a new name drops the old copies.
const CACHE_NAME = "interview-shell-v4";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE_NAME).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

/** @param {Request} request */
function isShell(request) {
  if (request.method !== "GET") return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  return url.pathname.startsWith("/client/") || (request.mode === "navigate" && url.pathname.startsWith("/interview/"));
}

/** @param {Request} request */
async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok && request.mode === "navigate") {
      const cache = await caches.open(CACHE_NAME);
      await cache.put(request.url.split("#")[0], response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  if (isShell(event.request)) event.respondWith(networkFirst(event.request));
});
