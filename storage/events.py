"""The per-session event log: one document per event, never an array in the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pymongo
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from storage.errors import DUPLICATE_KEY
from storage.models import EventDoc, EventSource
from storage.seq_counter import SeqRange

INSERT_SLICE = 50
LONG_SECONDS = 10.0


@dataclass
class Rejected:
    """Indexes of an insert's documents the unique indexes refused."""

    known_client_ids: set[int] = field(default_factory=set)  # (sessionId, clientEventId) already stored
    taken_seqs: set[int] = field(default_factory=set)  # (sessionId, seq) already stored

    def __bool__(self) -> bool:
        return bool(self.known_client_ids or self.taken_seqs)


class EventRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], long_seconds: float = LONG_SECONDS) -> None:
        self._collection = collection
        # Reads and writes of many events (a replay page, a 500-event upload) get this budget, not the
        # client's per-operation timeout: under load they are slow, not down.
        self._long = long_seconds

    async def insert_many(self, events: list[EventDoc], slice_size: int | None = INSERT_SLICE) -> Rejected:
        """Insert every event; returns those the unique indexes refused.

        Large batches go in slices of INSERT_SLICE, one write after the other, so one
        client's 500-event upload never holds the store for a whole batch while another
        session's message waits (the group writer, whose batch is everyone's, passes
        `slice_size=None`: one round trip). Any failure other than a duplicate key is
        raised: the caller must not ack (a retry finds the slices already written as
        duplicates).
        """
        rejected = Rejected()
        size = slice_size or len(events) or 1
        for start in range(0, len(events), size):
            documents = [e.to_document() for e in events[start : start + size]]
            try:
                with pymongo.timeout(self._long):
                    await self._collection.insert_many(documents, ordered=False)
            except BulkWriteError as error:
                write_errors = error.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in write_errors) or error.details.get("writeConcernErrors"):
                    raise
                for write_error in write_errors:
                    index = start + int(write_error["index"])
                    if "seq" in (write_error.get("keyPattern") or {}):
                        rejected.taken_seqs.add(index)
                    else:
                        rejected.known_client_ids.add(index)
        return rejected

    async def known_client_ids(self, session_id: str, client_event_ids: list[str]) -> dict[str, int]:
        """The seq of each of these client event ids that is already stored."""
        if not client_event_ids:
            return {}
        cursor = self._collection.find(
            {"sessionId": session_id, "clientEventId": {"$in": client_event_ids}},
            {"clientEventId": 1, "seq": 1},
        )
        return {d["clientEventId"]: int(d["seq"]) async for d in cursor}

    async def known_client_ids_of(self, wanted: dict[str, list[str]]) -> dict[tuple[str, str], int]:
        """`known_client_ids` for many sessions in one round trip, keyed by (session id, client event id).

        One `$in` per field, not an `$or` of per-session clauses: the embedded store scans the
        collection for any filter with a top-level operator (122 ms at 7,500 events against
        2.5 ms, growing with the log). The cross product can match a wanted id of another
        session; those pairs are dropped here.
        """
        if not wanted:
            return {}
        ids = list({client_id for client_ids in wanted.values() for client_id in client_ids})
        cursor = self._collection.find(
            {"sessionId": {"$in": list(wanted)}, "clientEventId": {"$in": ids}},
            {"sessionId": 1, "clientEventId": 1, "seq": 1},
        )
        pairs = {(session_id, client_id) for session_id, client_ids in wanted.items() for client_id in client_ids}
        found = {(d["sessionId"], d["clientEventId"]): int(d["seq"]) async for d in cursor}
        return {pair: seq for pair, seq in found.items() if pair in pairs}

    async def has_type(self, session_id: str, type_: str) -> bool:
        """Whether the session has an event of this type (served by the `(sessionId, seq)` index)."""
        return await self._collection.find_one({"sessionId": session_id, "type": type_}, {"_id": 1}) is not None

    async def highest_seq(self, session_id: str) -> int:
        document = await self._collection.find_one({"sessionId": session_id}, {"seq": 1}, sort=[("seq", -1)])
        return int(document["seq"]) if document else 0

    async def events_after(
        self,
        session_id: str,
        after_seq: int = 0,
        limit: int | None = None,
        source: EventSource | None = None,
        types: list[str] | None = None,
    ) -> list[EventDoc]:
        """The session's events with seq > `after_seq` (of this source, of these types), ascending.

        Only `sessionId` and `seq` go to the store: SecantusDB uses an index only when it holds
        every field of the filter, so with `source` in it a replay scanned the whole collection.
        The other conditions are applied here, reading past the session's other events.
        """
        query: dict[str, Any] = {"sessionId": session_id, "seq": {"$gt": after_seq}}
        wanted_types = None if types is None else set(types)
        filtered = source is not None or wanted_types is not None
        cursor = self._collection.find(query).sort("seq", 1)
        if limit is not None:
            cursor = cursor.batch_size(limit) if filtered else cursor.limit(limit)
        events: list[EventDoc] = []
        with pymongo.timeout(self._long):
            try:
                async for document in cursor:
                    if source is not None and document.get("source") != source.value:
                        continue
                    if wanted_types is not None and document.get("type") not in wanted_types:
                        continue
                    events.append(EventDoc.model_validate(document))
                    if limit is not None and len(events) >= limit:
                        break
            finally:
                await cursor.close()  # a page cut short leaves no cursor open on the store
        return events

    async def server_events_in(self, session_id: str, seqs: SeqRange) -> list[EventDoc]:
        """The session's server events with a seq in `seqs`, ascending."""
        query = {"sessionId": session_id, "seq": {"$gte": seqs.first, "$lte": seqs.last}}
        cursor = self._collection.find(query).sort("seq", 1)
        with pymongo.timeout(self._long):
            return [EventDoc.model_validate(d) async for d in cursor if d.get("source") == EventSource.SERVER.value]

    async def transcripts_of(self, session_id: str, question_id: str, types: list[str]) -> list[EventDoc]:
        """The transcript events filed under one question, in seq order."""
        cursor = self._collection.find(
            {"sessionId": session_id, "type": {"$in": types}, "payload.questionId": question_id}
        ).sort("seq", 1)
        return [EventDoc.model_validate(d) async for d in cursor]

    async def latest_named_event(self, session_id: str, name: str) -> EventDoc | None:
        """The most recent client `event` with this name (e.g. `recording.consent`)."""
        document = await self._collection.find_one(
            {"sessionId": session_id, "source": EventSource.CLIENT.value, "type": "event", "payload.name": name},
            sort=[("seq", -1)],
        )
        return EventDoc.model_validate(document) if document else None

    async def count_by_type(self, session_id: str) -> dict[str, int]:
        with pymongo.timeout(self._long):
            cursor = await self._collection.aggregate(
                [{"$match": {"sessionId": session_id}}, {"$group": {"_id": "$type", "n": {"$sum": 1}}}]
            )
            return {d["_id"]: int(d["n"]) async for d in cursor}

    async def mark_not_applied(self, session_id: str, seq: int, code: str, message: str) -> None:
        """Record on a stored client command why it changed nothing (replayed too late, wrong question...)."""
        await self._collection.update_one(
            {"sessionId": session_id, "seq": seq},
            {"$set": {"notApplied": {"code": code, "message": message}}, "$unset": {"applyPending": ""}},
        )

    async def mark_applied(self, session_id: str, seq: int) -> None:
        """A stored client command has been applied: it is no longer pending."""
        await self._collection.update_one({"sessionId": session_id, "seq": seq}, {"$unset": {"applyPending": ""}})

    async def pending_commands(self, session_id: str) -> list[EventDoc]:
        """The session's stored client commands not yet applied or refused, in seq order."""
        # Only indexed fields go to the store (see events_after): the session's seqs and marks, then
        # the pending ones (rare: a crash between storing a command and applying it) in full.
        marks = self._collection.find(
            {"sessionId": session_id, "seq": {"$gt": 0}}, {"_id": 0, "seq": 1, "applyPending": 1}
        )
        seqs = [d["seq"] async for d in marks if d.get("applyPending") == session_id]
        if not seqs:
            return []
        cursor = self._collection.find({"sessionId": session_id, "seq": {"$in": seqs}}).sort("seq", 1)
        return [EventDoc.model_validate(d) async for d in cursor]

    async def delete_for_sessions(self, session_ids: list[str]) -> int:
        """Remove every event of these sessions (deletion on request or by retention)."""
        if not session_ids:
            return 0
        with pymongo.timeout(self._long):
            result = await self._collection.delete_many({"sessionId": {"$in": session_ids}})
        return result.deleted_count
