"""A sliding-window rate limiter kept in MongoDB, so limits hold across server processes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    """Each hit is a document; a hit is allowed while the window holds at most `limit` hits.

    Hits are recorded before counting, so concurrent requests can only over-count
    (deny a little early), never let more than `limit` through. Denied hits are
    removed again so retrying does not extend the penalty.
    """

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = datetime.now(UTC)
        window_start = now - timedelta(seconds=window_seconds)
        hit_id = uuid.uuid4().hex
        await self._collection.insert_one(
            {"_id": hit_id, "key": key, "at": now, "expiresAt": now + timedelta(seconds=window_seconds)}
        )
        cursor = self._collection.find({"key": key, "at": {"$gt": window_start}}, {"at": 1}).sort("at", 1)
        hits = [doc async for doc in cursor]
        position = next((i for i, doc in enumerate(hits) if doc["_id"] == hit_id), len(hits))
        if position < limit:
            return RateDecision(True)
        await self._collection.delete_one({"_id": hit_id})
        oldest = hits[max(0, position - limit)]["at"]
        retry_after = (oldest + timedelta(seconds=window_seconds) - now).total_seconds()
        return RateDecision(False, max(1, int(retry_after + 0.999)))
