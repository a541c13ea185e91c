"""The per-session event log: one document per event, never an array in the session."""

from __future__ import annotations

from typing import Any

import pymongo
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from storage.errors import DUPLICATE_KEY
from storage.models import EventDoc, EventSource

INSERT_SLICE = 50
LONG_SECONDS = 10.0


class EventRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], long_seconds: float = LONG_SECONDS) -> None:
        self._collection = collection
        # Reads and writes of many events (a replay page, a 500-event upload) get this budget, not the
        # client's per-operation timeout: under load they are slow, not down.
        self._long = long_seconds

    async def insert_many(self, events: list[EventDoc]) -> set[int]:
        """Insert every event; returns the indexes of those rejected as duplicates.

        Large batches go in slices of INSERT_SLICE, one write after the other, so one
        client's 500-event upload never holds the store for a whole batch while another
        session's message waits. Any failure other than a duplicate key is raised: the
        caller must not ack (a retry finds the slices already written as duplicates).
        """
        rejected: set[int] = set()
        for start in range(0, len(events), INSERT_SLICE):
            documents = [e.to_document() for e in events[start : start + INSERT_SLICE]]
            try:
                with pymongo.timeout(self._long):
                    await self._collection.insert_many(documents, ordered=False)
            except BulkWriteError as error:
                write_errors = error.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in write_errors) or error.details.get("writeConcernErrors"):
                    raise
                rejected.update(start + int(e["index"]) for e in write_errors)
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

    async def events_after(
        self,
        session_id: str,
        after_seq: int = 0,
        limit: int | None = None,
        source: EventSource | None = None,
        types: list[str] | None = None,
    ) -> list[EventDoc]:
        """The session's events with seq > `after_seq`, ascending."""
        query: dict[str, Any] = {"sessionId": session_id, "seq": {"$gt": after_seq}}
        if source is not None:
            query["source"] = source.value
        if types is not None:
            query["type"] = {"$in": types}
        cursor = self._collection.find(query).sort("seq", 1)
        if limit is not None:
            cursor = cursor.limit(limit)
        with pymongo.timeout(self._long):
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
            {"sessionId": session_id, "seq": seq}, {"$set": {"notApplied": {"code": code, "message": message}}}
        )
