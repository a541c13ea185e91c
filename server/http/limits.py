"""Per-client limits on the HTTP API: request rate, concurrent uploads, body bytes per minute.

A client is its verified token's user or session, or, without a valid token, its address
(X-Forwarded-For's client behind TRUSTED_PROXIES). Over a limit the answer is 429
RATE_LIMITED with Retry-After, before the body is read and after a short wait (a client
that retries at once is slowed to a refusal a second). Kept in this process (several
processes each count their own share); the start-session limit, counted in MongoDB, is
separate. Only `/api/` is counted: health probes, pages and client files are not. See docs/security.md.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http.auth import Authenticator, bearer_token
from server.http.errors import error_response
from server.http.request import Network, client_ip
from server.sessions import DomainError, SessionPrincipal, rate_limited
from server.sessions.limits import KeyedBuckets, KeyedSlots

# Only the API is counted: pages and their client files are served from memory, and one page
# load fetches ~30 of them (a few reloads would spend a whole API budget); the per-address
# connection limit (accept_guard.py) still bounds them.
LIMITED_PREFIX = "/api/"
# A refused request waits this long (at most its Retry-After) before its 429: a client that retries at
# once then costs one refusal a second, not hundreds. At most TARPIT_MAX wait at a time; others are answered at once.
TARPIT_SECONDS = 1.0
TARPIT_MAX = 256
UPLOAD_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Recordings are bounded on their own (one per session, 200 MiB) and go to disk, not through the core.
_NOT_COUNTED_IN_BYTES = "/recording"


@dataclass(frozen=True)
class HttpLimits:
    rate_per_second: float
    burst: int
    upload_concurrency: int
    upload_bytes_per_minute: int
    largest_body: int  # a client may always send one request of this size when its budget is full

    @property
    def bytes_burst(self) -> float:
        """A quarter of a minute's bytes at once (one largest request at least), not a whole minute's."""
        return max(self.upload_bytes_per_minute / 4, self.largest_body)


class ClientLimits:
    """Pure ASGI middleware enforcing HttpLimits per client (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: HttpLimits,
        auth: Authenticator,
        trusted_proxies: list[Network],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._auth = auth
        self._trusted = trusted_proxies
        self._clock = clock
        self._requests = KeyedBuckets(limits.rate_per_second, limits.burst)
        self._bytes = KeyedBuckets(limits.upload_bytes_per_minute / 60, limits.bytes_burst)
        self._uploads = KeyedSlots(limits.upload_concurrency)
        self._ids = itertools.count()
        self._tarpitted = 0

    async def caller(self, connection: HTTPConnection) -> str:
        """The client's key: `session:<id>` or `user:<sub>` for a valid token, else `ip:<address>`."""
        authorization = connection.headers.get("authorization")
        if authorization:
            try:
                principal = await self._auth.verify_any(bearer_token(authorization))
            except DomainError:
                principal = None
            if isinstance(principal, SessionPrincipal):
                return f"session:{principal.session_id}"
            if principal is not None:
                return f"user:{principal.subject}"
        return f"ip:{client_ip(connection, self._trusted)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        key = await self.caller(HTTPConnection(scope))
        now = self._clock()
        wait = self._requests.take(key, now)
        if wait:
            await self._refuse(scope, receive, send, wait, "requests")
            return
        if scope["method"] not in UPLOAD_METHODS:
            await self.app(scope, receive, send)
            return
        await self._upload(scope, receive, send, key, now)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, key: str, now: float) -> None:
        upload = next(self._ids)
        if not self._uploads.acquire(key, upload):
            await self._refuse(scope, receive, send, 1.0, "concurrent uploads")
            return
        try:
            counted = not scope["path"].endswith(_NOT_COUNTED_IN_BYTES)
            declared = _content_length(scope)
            if counted and declared is not None and (wait := self._bytes.take(key, now, declared)):
                await self._refuse(scope, receive, send, wait, "bytes")
                return
            await self.app(scope, self._counting(receive, key) if counted and declared is None else receive, send)
        finally:
            self._uploads.release(key, upload)

    def _counting(self, receive: Receive, key: str) -> Receive:
        """A body without Content-Length is charged as it is read (the next request waits for the debt)."""

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._bytes.charge(key, self._clock(), len(message.get("body", b"")))
            return message

        return counted

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, wait: float, limit: str) -> None:
        if self._tarpitted < TARPIT_MAX:
            self._tarpitted += 1
            try:
                await asyncio.sleep(min(wait, TARPIT_SECONDS))
            finally:
                self._tarpitted -= 1
        response = error_response(rate_limited(wait, limit))
        if scope["method"] in UPLOAD_METHODS:
            # The body is not read: closing the connection drops it instead of parsing it only to discard it.
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
