"""Reserving event seqs from the session document's counter, and the committed high-water mark.

Two fields of `interviewSessions` hold a session's seqs: `seqReserved`, the highest
seq anyone has reserved (an atomic counter, so no two writers ever hold the same
seq), and `lastSeq`, the highest seq known to be stored (a lower bound while a session is
live: see `reserve_block`). The process that holds a
session's live connection reserves blocks (one round trip per `BLOCK` events);
any other writer reserves exactly what it writes and lists it in `pendingSeqs`
until it is stored, so an owner knows which lower seqs may still arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

# A pending entry older than this belongs to a writer that died before storing it.
PENDING_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class SeqRange:
    first: int
    last: int

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.first <= seq <= self.last


@dataclass(frozen=True)
class Reservation:
    """Seqs reserved for one writer, and the other writers' seqs not yet stored at that moment."""

    seqs: SeqRange
    pending: list[SeqRange]


def pending_ranges(entries: Any) -> list[SeqRange]:
    """`pendingSeqs` entries as ranges (tolerates a missing or odd field)."""
    if not isinstance(entries, list):
        return []
    return [
        SeqRange(int(p["first"]), int(p["last"]))
        for p in entries
        if isinstance(p, dict) and isinstance(p.get("first"), int) and isinstance(p.get("last"), int)
    ]


def _reserve(count: int) -> dict[str, Any]:
    # A document written before `seqReserved` existed starts counting from `lastSeq`.
    return {"$set": {"seqReserved": {"$add": [{"$max": [{"$ifNull": ["$seqReserved", 0]}, "$lastSeq"]}, count]}}}


def _live_pending(now: datetime) -> dict[str, Any]:
    return {
        "$filter": {
            "input": {"$ifNull": ["$pendingSeqs", []]},
            "as": "p",
            "cond": {"$gt": ["$$p.at", now - PENDING_TTL]},
        }
    }


class SeqCounter:
    def __init__(self, sessions: AsyncCollection[dict[str, Any]]) -> None:
        self._sessions = sessions

    async def reserve_block(self, session_id: str, count: int, now: datetime, stored_up_to: int = 0) -> Reservation:
        """`count` seqs for the owner of the live connection, and who else is mid-write.

        The owner raises `lastSeq` only here and when it lets the session go (not per
        batch: on the embedded store an update per session per batch would cost more
        than the inserts), so while a session is live `lastSeq` may lag by a block;
        `EventLog.high_water` gives the exact figure.
        """
        mark: dict[str, Any] = {"pendingSeqs": _live_pending(now)}
        if stored_up_to:
            mark |= {"lastSeq": {"$max": ["$lastSeq", stored_up_to]}, "lastActivityAt": now}
        document = await self._sessions.find_one_and_update(
            {"sessionId": session_id},
            [_reserve(count), {"$set": mark}],
            projection={"seqReserved": 1, "pendingSeqs": 1},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise LookupError(session_id)
        last = int(document["seqReserved"])
        pending = pending_ranges(document.get("pendingSeqs"))
        return Reservation(SeqRange(last - count + 1, last), pending)

    async def reserve_pending(self, session_id: str, count: int, now: datetime) -> SeqRange:
        """`count` seqs for a writer without the live connection, listed as pending until stored."""
        entry = {"first": {"$subtract": ["$seqReserved", count - 1]}, "last": "$seqReserved", "at": now}
        document = await self._sessions.find_one_and_update(
            {"sessionId": session_id},
            [_reserve(count), {"$set": {"pendingSeqs": {"$concatArrays": [_live_pending(now), [entry]]}}}],
            projection={"seqReserved": 1},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise LookupError(session_id)
        last = int(document["seqReserved"])
        return SeqRange(last - count + 1, last)

    async def settle_pending(self, session_id: str, seqs: SeqRange, stored_up_to: int, now: datetime) -> None:
        """The pending seqs are written (or abandoned): raise the high-water mark, drop the entry."""
        update: dict[str, Any] = {"$pull": {"pendingSeqs": {"first": seqs.first}}}
        if stored_up_to:
            update["$max"] = {"lastSeq": stored_up_to, "lastActivityAt": now}
        await self._sessions.update_one({"sessionId": session_id}, update)

    async def raise_high_water(self, stored_up_to: dict[str, int], now: datetime) -> None:
        """`lastSeq` of many sessions in one round trip (never lowered)."""
        if not stored_up_to:
            return
        await self._sessions.bulk_write(
            [
                UpdateOne({"sessionId": sid}, {"$max": {"lastSeq": seq, "lastActivityAt": now}})
                for sid, seq in stored_up_to.items()
            ],
            ordered=False,
        )
