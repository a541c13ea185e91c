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

It replaces attributes of uvicorn's class (`queue`, `writable`, `conn`, `request`,
`response`; written against uvicorn 0.55), so a uvicorn upgrade must pass the WebSocket
tests and `bench/ws.py --only a` again.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

from realtime.channel.asyncio.signals import Signal

DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 5


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


def deflate_factory() -> ServerPerMessageDeflateFactory:
    """permessage-deflate with a 4 KiB window and no context kept between messages, both ways."""
    return ServerPerMessageDeflateFactory(
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
