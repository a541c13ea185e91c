"""The socket as a connection sees it; the endpoint adapts Starlette's WebSocket to it."""

from __future__ import annotations

from typing import Protocol


class ConnectionLost(Exception):
    """The peer is gone; nothing more can be sent."""


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next frame; None once the peer disconnected."""
        ...

    async def send(self, text: str) -> None:
        """Send one text frame; raises ConnectionLost."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with `code` (a no-op when already closed)."""
        ...
