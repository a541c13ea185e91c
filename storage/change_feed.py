"""One change stream per process: what other processes stored that this one's live connections need.

It carries four kinds of change, in the store's commit order: a server event
was stored (`EventStored`), a session's live connection was claimed
(`ConnectionClaimed`, so an older connection elsewhere retires), a session's
seq counter moved (`SeqsReserved`, listing the other writers' pending seqs), and a
session is being deleted (`SessionDeleted`: its tombstone was written).
It is the fast path only: a connection's replay from the store is what makes
delivery complete, so a stream that has to start afresh loses nothing for good.
The resume token is kept, so a stream reopened after an error misses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from storage.models import EventDoc, EventSource
from storage.seq_counter import SeqRange, pending_ranges

logger = logging.getLogger(__name__)

RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
# The resume point is gone (ChangeStreamHistoryLost, InvalidResumeToken...): start from now.
RESUME_LOST = {260, 280, 286}
NOT_A_REPLICA_SET = 40573
# After a getMore that brought nothing. A real mongod answers so only after maxAwaitTimeMS (1 s);
# the embedded store does at every write, which would double the store round trips of the write path.
IDLE_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class EventStored:
    event: EventDoc


@dataclass(frozen=True)
class ConnectionClaimed:
    session_id: str
    connection_id: str
    epoch: int


@dataclass(frozen=True)
class SeqsReserved:
    session_id: str
    pending: list[SeqRange]


@dataclass(frozen=True)
class SessionDeleted:
    session_id: str


Change = EventStored | ConnectionClaimed | SeqsReserved | SessionDeleted
OnChange = Callable[[Change], None]
Wants = Callable[[str], bool]  # whether this process holds the session (anything else is skipped unread)


def _pipeline(events: str, sessions: str, tombstones: str) -> list[dict[str, Any]]:
    return [
        {
            "$match": {
                "$or": [
                    {"ns.coll": events, "operationType": "insert", "fullDocument.source": EventSource.SERVER.value},
                    {"ns.coll": tombstones, "operationType": "insert"},
                    {
                        "ns.coll": sessions,
                        "operationType": "update",
                        "$or": [
                            {"updateDescription.updatedFields.connectionEpoch": {"$exists": True}},
                            {"updateDescription.updatedFields.seqReserved": {"$exists": True}},
                        ],
                    },
                ]
            }
        },
        {
            "$project": {
                "ns": 1,
                "operationType": 1,
                "fullDocument": 1,
                "updateDescription.updatedFields.connectionEpoch": 1,
            }
        },
    ]


def parse_change(change: dict[str, Any], events: str, wants: Wants, tombstones: str = "") -> Change | None:
    """The change as one of ours; None when unwanted or unexpected (logged, never raised)."""
    document = change.get("fullDocument") or {}
    if not wants(str(document.get("sessionId"))):
        return None
    try:
        collection = change.get("ns", {}).get("coll")
        if collection == events:
            return EventStored(EventDoc.model_validate(document))
        if tombstones and collection == tombstones:
            return SessionDeleted(str(document["sessionId"]))
        session_id = str(document["sessionId"])
        updated = (change.get("updateDescription") or {}).get("updatedFields") or {}
        if "connectionEpoch" in updated:
            connection = document.get("connection") or {}
            return ConnectionClaimed(session_id, str(connection.get("id")), int(document.get("connectionEpoch") or 0))
        return SeqsReserved(session_id, pending_ranges(document.get("pendingSeqs")))
    except (KeyError, TypeError, ValueError) as error:
        logger.warning("unreadable change ignored: %s", error)
        return None


class ChangeFeed:
    """Watches the database on its own client (so a busy pool never delays it) until cancelled."""

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        events: str,
        sessions: str,
        on_change: OnChange,
        wants: Wants,
        tombstones: str = "sessionTombstones",
    ) -> None:
        self._database = database
        self._events = events
        self._sessions = sessions
        self._tombstones = tombstones
        self._on_change = on_change
        self._wants = wants
        self._token: Any = None
        self.opened = asyncio.Event()
        self.changes = 0

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._watch()
            except OperationFailure as error:
                if error.code == NOT_A_REPLICA_SET:
                    logger.warning(
                        "change streams need a replica set: with several processes, events written by another "
                        "process reach a live connection at its next reconnect"
                    )
                    return
                if error.code in RESUME_LOST:
                    logger.warning("change stream could not resume (%s); starting from now", error.code)
                    self._token = None
            except PyMongoError as error:
                logger.warning("change stream failed (%s); reopening", type(error).__name__)
            failures = 1 if self.opened.is_set() else failures + 1
            self.opened.clear()
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    async def _watch(self) -> None:
        pipeline = _pipeline(self._events, self._sessions, self._tombstones)
        async with await self._database.watch(
            pipeline, full_document="updateLookup", resume_after=self._token
        ) as stream:
            self.opened.set()
            while stream.alive:  # an invalidated stream ends here and is reopened
                change = await stream.try_next()
                self._token = stream.resume_token
                if change is None:
                    # An empty answer: on SecantusDB it comes at every write, even one the pipeline
                    # filters out (each group commit), so pause before asking again.
                    await asyncio.sleep(IDLE_PAUSE_SECONDS)
                    continue
                parsed = parse_change(change, self._events, self._wants, self._tombstones)
                if parsed is None:
                    continue
                self.changes += 1
                try:
                    self._on_change(parsed)
                except Exception:  # a consumer's bug must not stop the stream
                    logger.exception("change consumer failed")
