"""Tombstones of deleted sessions (collection `sessionTombstones`).

A deletion writes its tombstone (state `deleting`) before it removes anything and
marks it `deleted` when all is gone; whoever finds a tombstone still `deleting`
(a crash mid-way) finishes the deletion. Tombstones are kept: they say who deleted
which session and when, and they hold no personal data but ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from storage.models import TombstoneDoc, TombstoneState


class TombstoneRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    @property
    def collection_name(self) -> str:
        return self._collection.name

    async def begin(self, tombstone: TombstoneDoc) -> bool:
        """Write the tombstone of a deletion about to start; False when the session has one already."""
        try:
            await self._collection.insert_one(tombstone.to_document())
        except DuplicateKeyError:
            return False
        return True

    async def get(self, session_id: str) -> TombstoneDoc | None:
        document = await self._collection.find_one({"sessionId": session_id})
        return TombstoneDoc.model_validate(document) if document else None

    async def mark_deleted(self, session_id: str, now: datetime) -> None:
        """Everything of the session is gone."""
        await self._collection.update_one(
            {"sessionId": session_id, "state": TombstoneState.DELETING.value},
            {"$set": {"state": TombstoneState.DELETED.value, "finishedAt": now}},
        )

    async def to_finish(self, finished_since: datetime, limit: int) -> list[TombstoneDoc]:
        """Deletions still `deleting` (a crash mid-way), and those finished since `finished_since`.

        The recent ones are swept once more: an event a live connection stored while its
        session was being deleted is removed too.
        """
        cursor = self._collection.find(
            {
                "$or": [
                    {"state": TombstoneState.DELETING.value},
                    {"state": TombstoneState.DELETED.value, "finishedAt": {"$gte": finished_since}},
                ]
            }
        )
        # "deleting" sorts after "deleted": descending, the unfinished ones come first whatever the limit.
        cursor = cursor.sort("state", DESCENDING).limit(limit)
        return [TombstoneDoc.model_validate(d) async for d in cursor]
