"""What the channel needs from a per-connection signalling handler (WebRTC), and what it offers one.

The channel parses `webrtc.*` messages with the rest of the protocol and hands
them to the handler the composition root plugged in; it never imports WebRTC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from realtime.messages import ServerMessage, SignallingMessage
from storage import EventDoc, SessionDoc


class LivePeer(Protocol):
    """The live connection, as a signalling handler sees it."""

    @property
    def session_id(self) -> str: ...

    def send(self, message: ServerMessage) -> None:
        """Queue an ephemeral message to the client; never blocks."""
        ...


class Signalling(Protocol):
    """One connection's signalling; created when a live session's connection opens."""

    async def handle(self, message: SignallingMessage) -> None:
        """Handle one signalling message; raise DomainError to answer the client with `error`."""
        ...

    def server_event(self, event: EventDoc) -> None:
        """A new stored event of the session (a question asked...); must not block."""
        ...

    async def settle(self) -> None:
        """Before an answer is stored: let what the candidate is saying reach the log first."""
        ...

    async def close(self) -> None:
        """Release everything (the peer connection); called once when the connection ends."""
        ...


SignallingFactory = Callable[[LivePeer, SessionDoc], Signalling]
