"""`GET /ws/interview`: the Starlette edge of the channel (Origin check, hello, then a Connection)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
import sentry_sdk
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.channel.close_codes import CloseCode
from realtime.channel.connection import (
    ChannelConfig,
    ChannelContext,
    Connection,
    ConnectionLost,
    HookFactory,
)
from realtime.channel.protocol import SUBPROTOCOL, ErrorMessage, HelloMessage
from server.config import Settings
from server.context import AppContext
from server.errors import AppError, ErrorCode
from server.openapi import Operation
from server.principals import SessionPrincipal

logger = logging.getLogger(__name__)

PATH = "/ws/interview"


class Channel:
    """The realtime channel of one app: its shared context and live connections."""

    def __init__(self, ctx: AppContext) -> None:
        self.settings = ctx.settings
        self.context = ChannelContext(
            config=ChannelConfig.from_settings(ctx.settings),
            service=ctx.service,
            events=ctx.events,
            hub=ctx.hub,
            auth=ctx.auth,
        )

    def add_hook(self, factory: HookFactory) -> None:
        """Register a per-connection extension (called for each new live connection)."""
        self.context.hook_factories.append(factory)

    @property
    def live_connections(self) -> int:
        return len(self.context.registry)

    def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        """Ask every live connection to close (on shutdown); clients resume elsewhere."""
        for connection in self.context.registry.connections():
            if isinstance(connection, Connection):
                connection.request_close(code, "server shutting down")


class StarletteTransport:
    """Starlette's WebSocket as a connection Transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

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

    async def close(self, code: int, reason: str) -> None:
        if self._websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            await self._websocket.close(code, reason[:120])
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Browsers always send Origin: it must be ours or listed. Non-browser clients send none."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    allowed = {o.strip().rstrip("/").lower() for o in settings.allowed_origins}
    if settings.public_url:
        public = urlsplit(settings.public_url)
        allowed.add(f"{public.scheme}://{public.netloc}".lower())
    if origin in allowed:
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and bool(host) and parsed.netloc == (host or "").lower()


def _token_expiry(token: str) -> datetime:
    # Read after verify_session_token succeeded: the signature is already checked.
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


async def _reject(transport: StarletteTransport, code: CloseCode, error: ErrorCode, message: str) -> None:
    try:
        await transport.send(json.dumps(ErrorMessage(code=error.value, message=message).to_json_dict()))
    except ConnectionLost:
        return
    await transport.close(code, message.lower())


async def _hello(
    transport: StarletteTransport, channel: Channel
) -> tuple[HelloMessage, SessionPrincipal, datetime] | None:
    """The first message, which must be a valid hello for an existing session; None after rejecting."""
    config = channel.context.config
    try:
        frame = await asyncio.wait_for(transport.receive(), config.hello_timeout_seconds)
    except TimeoutError:
        await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "No hello in time")
        return None
    if frame is None:
        return None
    try:
        if isinstance(frame, bytes) or len(frame) > config.max_message_bytes:
            raise ValueError("not a text frame of allowed size")
        data: Any = json.loads(frame)
        hello = HelloMessage.model_validate(data)
    except (ValueError, ValidationError):
        await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "The first message must be hello")
        return None
    context = channel.context
    try:
        principal = context.auth.verify_session_token(hello.token)
        session = await context.service.sessions.get(principal.session_id)
    except AppError:
        session = None
    except PyMongoError as error:
        logger.warning("storage unavailable during hello: %s", type(error).__name__)
        await _reject(
            transport, CloseCode.INTERNAL_ERROR, ErrorCode.STORAGE_UNAVAILABLE, "Storage is unavailable; retry shortly"
        )
        return None
    if session is None:
        # A bad token and an unknown session look the same: nothing leaks.
        await _reject(transport, CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "Invalid or expired session token")
        return None
    return hello, principal, _token_expiry(hello.token)


async def interview_socket(websocket: WebSocket) -> None:
    """The live interview channel; see docs/protocol.md."""
    channel: Channel = websocket.app.state.channel
    offered = websocket.scope.get("subprotocols") or []
    subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
    origin = websocket.headers.get("origin")
    allowed = origin_allowed(origin, websocket.headers.get("host"), channel.settings)
    # Decided before accepting; the socket is accepted only so the browser can see code 4003
    # (a refused handshake reaches page scripts as a bare 1006). Nothing is read from it.
    await websocket.accept(subprotocol=subprotocol)
    transport = StarletteTransport(websocket)
    if not allowed:
        logger.warning("websocket from a foreign origin refused: %s", (origin or "")[:200])
        await transport.close(CloseCode.FORBIDDEN_ORIGIN, "origin not allowed")
        return
    greeted = await _hello(transport, channel)
    if greeted is None:
        return
    hello, principal, expires_at = greeted
    with sentry_sdk.isolation_scope() as scope:
        scope.set_tag("session_id", principal.session_id)
        scope.set_tag("application_id", principal.application_id)
        connection = Connection(channel.context, transport, principal, expires_at)
        await connection.run(hello)


ROUTES: list[BaseRoute] = [WebSocketRoute(PATH, interview_socket)]
OPERATIONS: list[Operation] = []  # WebSocket messages are documented in docs/protocol.md, not OpenAPI
