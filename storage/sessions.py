"""Interview sessions: atomic, conditional updates only (no read-modify-write)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from storage.models import ACTIVE_STATUSES, SessionDoc, SessionStatus


class SessionRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def insert(self, session: SessionDoc) -> None:
        """Insert; raises DuplicateKeyError when the application already has an active session."""
        await self._collection.insert_one(session.to_document())

    async def get(self, session_id: str) -> SessionDoc | None:
        document = await self._collection.find_one({"sessionId": session_id})
        return SessionDoc.model_validate(document) if document else None

    async def find_active(self, application_id: str) -> SessionDoc | None:
        document = await self._collection.find_one(
            {"applicationId": application_id, "status": {"$in": [s.value for s in ACTIVE_STATUSES]}}
        )
        return SessionDoc.model_validate(document) if document else None

    async def find_by_client_session(self, application_id: str, client_session_id: str) -> SessionDoc | None:
        document = await self._collection.find_one(
            {"applicationId": application_id, "clientSessionId": client_session_id}
        )
        return SessionDoc.model_validate(document) if document else None

    async def update_if(self, session_id: str, condition: dict[str, Any], update: dict[str, Any]) -> SessionDoc | None:
        """Apply `update` only when the session matches `condition`; None when it did not."""
        document = await self._collection.find_one_and_update(
            {"sessionId": session_id, **condition}, update, return_document=ReturnDocument.AFTER
        )
        return SessionDoc.model_validate(document) if document else None

    async def allocate_seq(self, session_id: str, count: int, now: datetime) -> int:
        """Reserve `count` consecutive event seqs; returns the last one reserved."""
        document = await self._collection.find_one_and_update(
            {"sessionId": session_id},
            {"$inc": {"lastSeq": count}, "$set": {"lastActivityAt": now}},
            projection={"lastSeq": 1},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise LookupError(session_id)
        return int(document["lastSeq"])

    async def list(self, query: dict[str, Any], limit: int, before: tuple[datetime, str] | None) -> list[SessionDoc]:
        """Newest first; `before` is the (startedAt, sessionId) of the previous page's last item."""
        if before is not None:
            started_at, session_id = before
            query = {
                **query,
                "$or": [
                    {"startedAt": {"$lt": started_at}},
                    {"startedAt": started_at, "sessionId": {"$lt": session_id}},
                ],
            }
        cursor = self._collection.find(query).sort([("startedAt", DESCENDING), ("sessionId", DESCENDING)])
        return [SessionDoc.model_validate(d) async for d in cursor.limit(limit)]

    async def find_stale(self, statuses: list[SessionStatus], idle_before: datetime, limit: int) -> list[str]:
        """Active sessions with no connection and no activity since `idle_before`."""
        cursor = self._collection.find(
            {
                "status": {"$in": [s.value for s in statuses]},
                "lastActivityAt": {"$lt": idle_before},
                "$or": [{"connectedUntil": None}, {"connectedUntil": {"$lt": idle_before}}],
            },
            {"sessionId": 1},
        ).limit(limit)
        return [d["sessionId"] async for d in cursor]

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = await self._collection.aggregate(pipeline)
        return await cursor.to_list()
