"""A sliding-window rate limiter kept in MongoDB, so limits hold across server processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError


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

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = datetime.now(UTC)
        window = timedelta(seconds=window_seconds)
        room_left = {"$or": [{f"hits.{limit - 1}": {"$exists": False}}, {"hits.0": {"$lte": now - window}}]}
        try:
            await self._collection.update_one(
                {"_id": key, **room_left},
                {"$push": {"hits": {"$each": [now], "$slice": -limit}}, "$set": {"expiresAt": now + window}},
                upsert=True,
            )
            return RateDecision(True)
        except DuplicateKeyError:
            # The key exists but has no room: the upsert tried to insert a second document.
            document = await self._collection.find_one({"_id": key}, {"hits": 1})
        hits = sorted((document or {}).get("hits", []))
        oldest = hits[-limit] if len(hits) >= limit else now
        retry_after = (oldest + window - now).total_seconds()
        return RateDecision(False, max(1, int(retry_after + 0.999)))
