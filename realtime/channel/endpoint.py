"""`GET /ws/interview`: the Starlette edge of the channel (Origin check, hello, then a Connection)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import sentry_sdk
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.channel.asyncio import ChannelContext, Connection
from realtime.channel.close_codes import CloseCode
from realtime.channel.errors import retryable
from realtime.channel.framing import parse_hello
from realtime.channel.origins import origin_allowed, own_origins
from realtime.channel.transport import SEND_NOW, ConnectionLost
from realtime.messages import SUBPROTOCOL, ErrorMessage, HelloMessage
from server.sessions import DomainError, ErrorCode, SessionPrincipal, StorageError, rate_limited
from server.sessions.limits import KeyedSlots

logger = logging.getLogger(__name__)

PATH = "/ws/interview"
CLOSE_SECONDS = 2.0
USER_RETRY_MS = 10_000
_TOO_MANY_PENDING = "Too many connections waiting for hello; retry later"
_TOO_MANY_SESSIONS = "Too many live interview sessions for this user; retry later"


class StarletteTransport:
    """Starlette's WebSocket as a connection Transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        # The server's synchronous send (uvicorn_protocol.py), when it offers one.
        self._send_now: Callable[[str], bool] | None = websocket.scope.get("extensions", {}).get(SEND_NOW)

    async def receive(self) -> str | bytes | None:
        if self._websocket.client_state == WebSocketState.DISCONNECTED:
            return None
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def send(self, text: str) -> None:
        try:
            await self._websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as error:
            raise ConnectionLost from error

    def send_now(self, text: str) -> bool:
        if self._send_now is None or self._websocket.application_state != WebSocketState.CONNECTED:
            return False
        return self._send_now(text)

    async def close(self, code: int, reason: str) -> None:
        if self._websocket.application_state != WebSocketState.CONNECTED:
            return
        # Keep reading while closing: frames the client still sends would otherwise fill the server's
        # receive queue, and its close frame behind them would be read only after the 10 s close timeout.
        discard = asyncio.create_task(self._discard_incoming())
        try:
            # A client that reads nothing cannot even take the close frame: give up on it, not wait 20 s.
            async with asyncio.timeout(CLOSE_SECONDS):
                await self._websocket.close(code, reason[:120])
        except (WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            return
        finally:
            discard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await discard

    async def _discard_incoming(self) -> None:
        with contextlib.suppress(Exception):
            while await self.receive() is not None:
                pass


async def _reject(
    transport: StarletteTransport, code: CloseCode, error: ErrorCode, message: str, details: Any = None
) -> None:
    """Say why in an `error` (retryable as the code is), then close with `code`."""
    refusal = ErrorMessage(code=error.value, message=message, retryable=retryable(error), details=details)
    try:
        await transport.send(json.dumps(refusal.to_json_dict()))
    except ConnectionLost:
        return
    await transport.close(code, message.lower())


async def _deny(websocket: WebSocket, retry_after: float) -> None:
    """Too many sockets waiting for hello: refuse the upgrade itself (HTTP 429, Retry-After).

    Cheaper than accepting and closing, which matters in a flood: the server does the least
    per refused socket. Without the ASGI denial extension: accept, `error`, close 1013.
    """
    refusal = rate_limited(retry_after)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        seconds = str(refusal.details["retryAfterSeconds"])
        await websocket.send_denial_response(JSONResponse(refusal.body(), 429, headers={"Retry-After": seconds}))
        return
    await websocket.accept()
    retry = {"retryAfterMs": int(retry_after * 1000)}
    await _reject(StarletteTransport(websocket), CloseCode.TRY_AGAIN_LATER, refusal.code, _TOO_MANY_PENDING, retry)


class Channel:
    """The realtime channel of one app: its shared context, its route and its live connections."""

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self._retiring: set[asyncio.Task[None]] = set()
        config = context.config
        # Sockets that have not said hello yet, by address and in all; live sessions by user.
        self._before_hello = KeyedSlots(config.prehello_per_ip, config.prehello_total)
        self._user_sessions = KeyedSlots(config.sessions_per_user)

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute(PATH, self.serve)]

    def direct_apps(self) -> dict[str, ASGIApp]:
        """The channel's ASGI app by path, for the app to call past its HTTP middleware and router.

        None of the middleware acts on a WebSocket, but each layer's frame would stay
        suspended for the whole life of every connection (~5 KiB each with the router's).
        """

        async def interview(scope: Scope, receive: Receive, send: Send) -> None:
            await self.serve(WebSocket(scope, receive, send))

        return {PATH: interview}

    @property
    def live_connections(self) -> int:
        return len(self.context.registry)

    def claimed_elsewhere(self, session_id: str, connection_id: str, epoch: int) -> None:
        """A newer connection claimed the session (in any process): this process's one retires (4009)."""
        connection = self.context.registry.live(session_id)
        if connection is not None and connection.claimed_elsewhere(connection_id, epoch):
            task = asyncio.create_task(connection.retire(), name=f"ws-retire-{session_id}")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    def session_deleted(self, session_id: str) -> None:
        """The session is being deleted (in any process): its live connection here closes (4011)."""
        connection = self.context.registry.live(session_id)
        if isinstance(connection, Connection):
            connection.request_close(CloseCode.SESSION_DELETED, "session deleted")

    def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        """Ask every live connection to close (on shutdown); clients resume elsewhere."""
        for connection in self.context.registry.connections():
            if isinstance(connection, Connection):
                connection.request_close(code, "server shutting down")

    async def serve(self, websocket: WebSocket) -> None:
        """The live interview channel; see docs/protocol.md."""
        config = self.context.config
        offered = websocket.scope.get("subprotocols") or []
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
        peer = websocket.client.host if websocket.client else None
        address = self.context.client_address(peer, websocket.headers.get("x-forwarded-for")) or ""
        socket = object()
        if not self._before_hello.acquire(address, socket):
            await _deny(websocket, config.hello_timeout_seconds)
            return
        try:
            origin = websocket.headers.get("origin")
            # Our own origin is the address this connection arrived on, never the client's Host header.
            server = websocket.scope.get("server")
            own = own_origins(websocket.scope.get("scheme", "ws"), tuple(server) if server else None)
            allowed = origin_allowed(origin, config.browser_origins, own)
            # Decided before accepting; the socket is accepted only so the browser can see the close code
            # (a refused handshake reaches page scripts as a bare 1006). Nothing is read from a refused one.
            await websocket.accept(subprotocol=subprotocol)
            transport = StarletteTransport(websocket)
            if not allowed:
                logger.warning("websocket from a foreign origin refused: %s", (origin or "")[:200])
                await transport.close(CloseCode.FORBIDDEN_ORIGIN, "origin not allowed")
                return
            greeted = await self._hello(transport)
        finally:
            self._before_hello.release(address, socket)
        if greeted is not None:
            await self._serve_user(transport, *greeted)

    async def _serve_user(
        self, transport: StarletteTransport, hello: HelloMessage, principal: SessionPrincipal
    ) -> None:
        """Run the connection, unless its user already has too many other sessions live here."""
        user, session = principal.subject, principal.session_id
        if not self._user_sessions.acquire(user, session):  # the same session reconnecting is not counted twice
            retry = {"retryAfterMs": USER_RETRY_MS}
            await _reject(transport, CloseCode.TRY_AGAIN_LATER, ErrorCode.RATE_LIMITED, _TOO_MANY_SESSIONS, retry)
            return
        try:
            if not sentry_sdk.is_initialized():
                # Without Sentry an isolation scope is ~3 KiB per connection that nothing reads.
                await Connection(self.context, transport, principal).run(hello)
                return
            with sentry_sdk.isolation_scope() as scope:
                scope.set_tag("session_id", session)
                scope.set_tag("application_id", principal.application_id)
                await Connection(self.context, transport, principal).run(hello)
        finally:
            self._user_sessions.release(user, session)

    async def _hello(self, transport: StarletteTransport) -> tuple[HelloMessage, SessionPrincipal] | None:
        """The first message, which must be a valid hello for an existing session; None after rejecting."""
        config = self.context.config
        try:
            frame = await asyncio.wait_for(transport.receive(), config.hello_timeout_seconds)
        except TimeoutError:
            await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "No hello in time")
            return None
        if frame is None:
            return None
        hello = parse_hello(frame, config.max_message_bytes)
        if hello is None:
            await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "The first message must be hello")
            return None
        try:
            principal = self.context.tokens.verify(hello.token)
            session = await self.context.service.find(principal.session_id)
        except DomainError:
            session = None
        except StorageError as error:
            logger.warning("storage unavailable during hello: %s", type(error).__name__)
            await _reject(
                transport,
                CloseCode.INTERNAL_ERROR,
                ErrorCode.STORAGE_UNAVAILABLE,
                "Storage is unavailable; retry shortly",
            )
            return None
        if session is None:
            # A bad token and an unknown session look the same: nothing leaks.
            await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "Invalid or expired session token")
            return None
        return hello, principal
