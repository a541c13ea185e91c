"""The per-session event log: one document per event, never an array in the session."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from storage.errors import DUPLICATE_KEY
from storage.models import EventDoc, EventSource


class EventRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    async def insert_many(self, events: list[EventDoc]) -> set[int]:
        """Insert every event; returns the indexes of those rejected as duplicates.

        Any failure other than a duplicate key is raised: the caller must not ack it.
        """
        if not events:
            return set()
        try:
            await self._collection.insert_many([e.to_document() for e in events], ordered=False)
        except BulkWriteError as error:
            write_errors = error.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in write_errors) or error.details.get("writeConcernErrors"):
                raise
            return {int(e["index"]) for e in write_errors}
        return set()

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
        return [EventDoc.model_validate(d) async for d in cursor]

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
        cursor = self._collection.find({"applyPending": session_id}).sort("seq", 1)
        return [EventDoc.model_validate(d) async for d in cursor]
