"""The live connection of each session in this process, for takeover (close 4009)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

# Connections that finished here are remembered (ids only) so a reconnect to this process
# never waits out a takeover for them; the oldest are forgotten first.
FINISHED_KEPT = 8192


class Replaceable(Protocol):
    """What the registry needs of a connection."""

    async def retire(self) -> None:
        """Stop after the message in progress and close with 4009 (`replaced`)."""

    def claimed_elsewhere(self, connection_id: str, epoch: int) -> bool:
        """Whether a claim of the session (from the change feed) is newer than this connection's."""


class ConnectionRegistry:
    """At most one live connection per session; a newer one takes over."""

    def __init__(self) -> None:
        self._live: dict[str, Replaceable] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    def claim(self, session_id: str, connection: Replaceable) -> Replaceable | None:
        """Make `connection` the session's live one; returns the one it replaces."""
        previous = self._live.get(session_id)
        self._live[session_id] = connection
        return previous if previous is not connection else None

    def release(self, session_id: str, connection: Replaceable) -> bool:
        """Forget `connection` if it is still the live one; returns whether it was."""
        if self._live.get(session_id) is connection:
            del self._live[session_id]
            return True
        return False

    def finish(self, connection_id: str) -> None:
        """`connection_id` has stored everything it had (its release may still fail to be written)."""
        self._finished[connection_id] = None
        if len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)

    def finished_here(self, connection_id: str) -> bool:
        """Whether `connection_id` was a connection of this process that has finished."""
        return connection_id in self._finished

    def live(self, session_id: str) -> Replaceable | None:
        return self._live.get(session_id)

    def is_live(self, session_id: str, connection: Replaceable) -> bool:
        return self._live.get(session_id) is connection

    def connections(self) -> list[Replaceable]:
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)
