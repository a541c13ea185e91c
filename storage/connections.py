"""Which connection holds a session's live channel, across processes (fields of `interviewSessions`).

`connection` names the live connection (`{sessionId, id}`), `connectionEpoch`
grows with every claim (so a late notice of an older claim is told apart), and
`connectedUntil` is its lease (the abandon sweeper leaves a leased session
alone). A connection that takes over from one in another process waits until
that one is listed in `releasedConnections`, i.e. has stored all it had in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from storage.seq_counter import SeqRange, counter_base, pending_ranges, swap_counter

RELEASED_KEPT = 8


@dataclass(frozen=True)
class Claim:
    """A claim: its epoch and first block of seqs, the connection it replaced, other writers' pending seqs."""

    epoch: int
    seqs: SeqRange
    previous: str | None = None  # still holding the session (not released) when claimed
    previous_leased: bool = False
    pending: list[SeqRange] = field(default_factory=list)


class ConnectionClaims:
    def __init__(self, sessions: AsyncCollection[dict[str, Any]]) -> None:
        self._sessions = sessions

    async def claim(self, session_id: str, connection_id: str, until: datetime, now: datetime, block: int) -> Claim:
        """Make `connection_id` the session's live connection, and reserve its first block of seqs."""

        def change(document: dict[str, Any]) -> dict[str, Any]:
            return {
                "$set": {
                    "connection": {"sessionId": session_id, "id": connection_id},
                    "connectionEpoch": int(document.get("connectionEpoch") or 0) + 1,
                    "connectedUntil": until,
                    "lastActivityAt": now,
                    "seqReserved": counter_base(document) + block,
                }
            }

        # The epoch is a guard too: of two claims that read the same document, one retries.
        before = await swap_counter(
            self._sessions,
            session_id,
            {"connection": 1, "connectedUntil": 1, "releasedConnections": 1, "pendingSeqs": 1},
            change,
            guards=("connectionEpoch",),
        )
        base = counter_base(before)
        seqs = SeqRange(base + 1, base + block)
        held: dict[str, Any] = before.get("connection") or {}
        epoch = int(before.get("connectionEpoch") or 0) + 1
        pending = pending_ranges(before.get("pendingSeqs"))
        previous = held.get("id")
        if previous is None or previous == connection_id or previous in (before.get("releasedConnections") or []):
            return Claim(epoch, seqs, pending=pending)
        lease = before.get("connectedUntil")
        return Claim(epoch, seqs, str(previous), lease is not None and lease > now, pending)

    async def renew(self, session_id: str, connection_id: str, until: datetime, now: datetime) -> bool:
        """Extend the lease; False when another connection has taken the session over."""
        result = await self._sessions.update_one(
            {"sessionId": session_id, "connection.id": connection_id},
            {"$set": {"connectedUntil": until, "lastActivityAt": now}},
        )
        return result.matched_count == 1

    async def release(self, session_id: str, connection_id: str, now: datetime) -> None:
        """`connection_id` has stored all it had: say so, and end its lease unless it was replaced."""
        await self._sessions.update_one(
            {"sessionId": session_id},
            [
                {
                    "$set": {
                        "connectedUntil": {
                            "$cond": [{"$eq": ["$connection.id", connection_id]}, now, "$connectedUntil"]
                        },
                        "releasedConnections": {
                            "$slice": [
                                {"$concatArrays": [{"$ifNull": ["$releasedConnections", []]}, [connection_id]]},
                                -RELEASED_KEPT,
                            ]
                        },
                    }
                }
            ],
        )

    async def released(self, session_id: str, connection_id: str) -> bool:
        """Whether `connection_id` has released the session (or the session is gone)."""
        document = await self._sessions.find_one({"sessionId": session_id}, {"releasedConnections": 1})
        return document is None or connection_id in (document.get("releasedConnections") or [])
