"""Applications: the job applications a candidate can be interviewed for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from storage.models import ApplicationDoc


class ApplicationRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    async def get(self, application_id: str) -> ApplicationDoc | None:
        document = await self._collection.find_one({"_id": application_id})
        return ApplicationDoc.model_validate(document) if document else None

    async def get_many(self, application_ids: list[str]) -> dict[str, ApplicationDoc]:
        """These applications by id, in one read (those that exist)."""
        cursor = self._collection.find({"_id": {"$in": application_ids}})
        return {d["_id"]: ApplicationDoc.model_validate(d) async for d in cursor}

    async def insert(self, application: ApplicationDoc) -> bool:
        """Insert; False when the id is taken."""
        try:
            await self._collection.insert_one(application.to_document())
        except DuplicateKeyError:
            return False
        return True

    async def insert_if_absent(self, application: ApplicationDoc) -> None:
        """Create the application once; an existing one is left as it is."""
        document = application.to_document()
        await self._collection.update_one({"_id": document.pop("_id")}, {"$setOnInsert": document}, upsert=True)

    async def mark_completed(self, application_id: str, now: datetime) -> None:
        await self._collection.update_one({"_id": application_id}, {"$set": {"status": "completed", "updatedAt": now}})
