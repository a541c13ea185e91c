"""A sliding-window rate limiter kept in MongoDB, so limits hold across server processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.errors import DUPLICATE_KEY


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    """One document per key holding the times of its last `limit` allowed hits.

    A hit is allowed when fewer than `limit` hits are recorded or the oldest of
    them has left the window; allowing and recording is one atomic conditional
    upsert, so concurrent requests (in any process) can never let more than
    `limit` through. Denied hits are not recorded, so retrying does not extend
    the wait. The allowed path costs one round trip.
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    async def hit_many(self, keys: list[str], limit: int, window_seconds: int) -> dict[str, RateDecision]:
        """`hit` for many keys in one write (plus one read when some are refused)."""
        if not keys:
            return {}
        now = datetime.now(UTC)
        window = timedelta(seconds=window_seconds)
        room_left = self._room_left(limit, now, window)
        update = self._record(limit, now, window)
        operations = [UpdateOne({"_id": key, **room_left}, update, upsert=True) for key in keys]
        refused: list[str] = []
        try:
            await self._collection.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors) or error.details.get("writeConcernErrors"):
                raise
            refused = [keys[int(e["index"])] for e in errors]
        decisions = dict.fromkeys(keys, RateDecision(True))
        if refused:
            async for document in self._collection.find({"_id": {"$in": refused}}, {"hits": 1}):
                decisions[document["_id"]] = _refusal(document, limit, now, window)
        return decisions

    @staticmethod
    def _room_left(limit: int, now: datetime, window: timedelta) -> dict[str, Any]:
        return {"$or": [{f"hits.{limit - 1}": {"$exists": False}}, {"hits.0": {"$lte": now - window}}]}

    @staticmethod
    def _record(limit: int, now: datetime, window: timedelta) -> dict[str, Any]:
        return {"$push": {"hits": {"$each": [now], "$slice": -limit}}, "$set": {"expiresAt": now + window}}

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = datetime.now(UTC)
        window = timedelta(seconds=window_seconds)
        room_left = self._room_left(limit, now, window)
        try:
            await self._collection.update_one(
                {"_id": key, **room_left},
                self._record(limit, now, window),
                upsert=True,
            )
            return RateDecision(True)
        except DuplicateKeyError:
            # The key exists but has no room: the upsert tried to insert a second document.
            document = await self._collection.find_one({"_id": key}, {"hits": 1})
        return _refusal(document or {}, limit, now, window)


def _refusal(document: dict[str, Any], limit: int, now: datetime, window: timedelta) -> RateDecision:
    """A refused hit, with how long until the oldest recorded hit leaves the window."""
    hits = sorted(document.get("hits", []))
    oldest = hits[-limit] if len(hits) >= limit else now
    retry_after = (oldest + window - now).total_seconds()
    return RateDecision(False, max(1, int(retry_after + 0.999)))
