"""uvicorn's `websockets-sansio` protocol, trimmed for thousands of idle interview connections.

Behaviour is uvicorn's; only what each connection keeps in memory changes:

- the receive queue is a list and a `Signal`, not an `asyncio.Queue` (whose deques of
  getters and putters, and `Event` for `join`, cost ~2.5 KiB per connection);
- `writable` is a `Signal`, not an `asyncio.Event`;
- the handshake's request and response (their header maps, ~3 KiB) are dropped once the
  upgrade is answered: the ASGI scope keeps its own copy of the headers;
- permessage-deflate is negotiated without context takeover either way, so zlib's state
  (a 4 KiB window, ~40 KiB with its hash tables) exists only while a message is encoded
  or decoded, not for the life of an idle connection. The interview's messages are small
  JSON objects: a shared window across messages buys little compression for them.
  A message under `PLAIN_BELOW_BYTES` (an ack, a ping) is sent uncompressed, as RFC 7692
  allows per message: a 61-byte ack deflates to 63 bytes, for ~3 us of zlib set-up.

It adds one thing: `send_now` (in the scope's extensions as `SEND_NOW`), a text frame
written at once from the caller's task when nothing would make uvicorn's `send` wait,
so the channel can send an ack without waking its writer task (asyncio/outbox.py).

It replaces attributes of uvicorn's class (`queue`, `writable`, `conn`, `request`,
`response`; written against uvicorn 0.55), so a uvicorn upgrade must pass the WebSocket
tests and `bench/ws.py --only a` again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter

from realtime.channel.asyncio.signals import Signal
from realtime.channel.transport import SEND_NOW

DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 5
PLAIN_BELOW_BYTES = 256


class ReceiveQueue:
    """The part of `asyncio.Queue` uvicorn uses (`put_nowait`, `get`, `empty`), unbounded."""

    __slots__ = ("_items", "_ready")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._ready = Signal()

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        self._ready.set()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.pop(0)


class SmallMessagesPlain(PerMessageDeflate):
    """permessage-deflate that sends a whole message shorter than PLAIN_BELOW_BYTES as it is (rsv1 unset)."""

    def encode(self, frame: Frame) -> Frame:
        if frame.fin and frame.opcode in (Opcode.TEXT, Opcode.BINARY) and len(frame.data) < PLAIN_BELOW_BYTES:
            return frame
        return super().encode(frame)


class LeanDeflateFactory(ServerPerMessageDeflateFactory):
    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        extension.__class__ = SmallMessagesPlain  # same state, one method different
        return response, extension


def deflate_factory() -> ServerPerMessageDeflateFactory:
    """permessage-deflate with a 4 KiB window and no context kept between messages, both ways."""
    return LeanDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=DEFLATE_WINDOW_BITS,
        client_max_window_bits=DEFLATE_WINDOW_BITS,
        compress_settings={"memLevel": DEFLATE_MEM_LEVEL},
    )


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """`ws=LeanWebSocketProtocol` in uvicorn's config (server/cli.py)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: Any = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's own queue, event and protocol object are replaced before any byte arrives
        # (they were built in vain: a few microseconds per handshake).
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = Signal()  # type: ignore[assignment]
        self.writable.set()
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[deflate_factory()],
                max_size=self.config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # Answered: uvicorn reads neither again (a refused upgrade never gets here).
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
        extensions[SEND_NOW] = self.send_now

    def send_now(self, text: str) -> bool:
        """uvicorn's `send` of a text frame, if it would not wait: writable, accepted, not closing."""
        if not self.writable.is_set() or self.disconnected or self.close_sent or self.transport.is_closing():
            return False
        if not self.handshake_complete or self.initial_response is not None:
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
