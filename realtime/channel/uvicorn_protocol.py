"""The WebSocket protocol uvicorn serves the channel with: cheap enough to hold many idle sockets.

It is uvicorn's `websockets-sansio` implementation (websockets' sans-I/O core driven
from asyncio callbacks: one task per connection, the ASGI app's, and timer handles for
keepalive) instead of the legacy `websockets` one, which runs four tasks of its own per
socket. Permessage-deflate is negotiated with a smaller window than zlib's default
(`DEFLATE`): the messages are small JSON documents, so a 4 KiB window compresses them
as well as 32 KiB, and zlib's state is a fraction of the size.

Serve with `uvicorn.Config(..., ws=ChannelWebSocketProtocol)` (or `--ws
realtime.channel.uvicorn_protocol:ChannelWebSocketProtocol`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

# 2**12-byte windows both ways (when the client accepts `client_max_window_bits`, as browsers
# do) and memLevel 4: about 20 KiB of zlib state per socket against ~300 KiB at the defaults.
WINDOW_BITS = 12
MEM_LEVEL = 4
DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=WINDOW_BITS,
    client_max_window_bits=WINDOW_BITS,
    compress_settings={"memLevel": MEM_LEVEL},
)


class ChannelWebSocketProtocol(WebSocketProtocol):
    """uvicorn's sans-I/O WebSocket protocol with the channel's deflate settings."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn.available_extensions = [DEFLATE] if config.ws_per_message_deflate else []
