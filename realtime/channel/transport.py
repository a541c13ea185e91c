"""The socket as a connection sees it; the endpoint adapts Starlette's WebSocket to it."""

from __future__ import annotations

from typing import Protocol

# The ASGI scope extension under which a server offers a synchronous text send (`Transport.send_now`).
SEND_NOW = "interview.send_now"


class ConnectionLost(Exception):
    """The peer is gone; nothing more can be sent."""


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next frame; None once the peer disconnected."""
        ...

    async def send(self, text: str) -> None:
        """Send one text frame; raises ConnectionLost."""
        ...

    def send_now(self, text: str) -> bool:
        """Send one text frame without waiting, if the socket takes it now; False (nothing sent) otherwise."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with `code` (a no-op when already closed)."""
        ...
