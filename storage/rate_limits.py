"""A sliding-window rate limiter kept in MongoDB, so limits hold across server processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from storage.errors import DUPLICATE_KEY

# A key whose document changed between the read and the write (the same key hit at that
# instant by another process) is refused for this long; the caller's client retries.
CONFLICT_RETRY_SECONDS = 1


RateWindows = dict[str, list[datetime]]  # key -> times of its recent allowed hits, as stored


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    """One document per key holding the times of its last `limit` allowed hits.

    A batch of keys costs two round trips: one read of their documents, then one bulk
    write in which each allowed key's document is replaced only if it is still the one
    read (compare and set on the `hits` array, or on its absence). A key another process
    hit in between fails its write with a duplicate key (the conditional upsert tries to
    insert) and is refused for a second, so no more than `limit` hits are ever allowed
    in a window. Denied hits are not recorded, so retrying does not extend the wait.
    Every filter starts with `_id` equality: the store answers each from its `_id` index.
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    async def read(self, keys: list[str]) -> RateWindows:
        """The keys' windows as stored now: the first half of `hit_many`, to run beside other reads."""
        if not keys:
            return {}
        return {d["_id"]: d.get("hits", []) async for d in self._collection.find({"_id": {"$in": keys}})}

    async def hit_many(
        self, keys: list[str], limit: int, window_seconds: int, read: RateWindows | None = None
    ) -> dict[str, RateDecision]:
        """Record a hit for each key that has room in its window; every key's decision.

        `read`: the windows from an earlier `read` of (at least) these keys, saving its round trip.
        """
        if not keys:
            return {}
        stored = await self.read(keys) if read is None else read
        now = datetime.now(UTC)
        window = timedelta(seconds=window_seconds)
        decisions: dict[str, RateDecision] = {}
        writes: list[str] = []
        operations: list[UpdateOne] = []
        for key in keys:
            recent = [h for h in stored.get(key, []) if h > now - window]
            if len(recent) >= limit:
                retry_after = (recent[-limit] + window - now).total_seconds()
                decisions[key] = RateDecision(False, max(1, int(retry_after + 0.999)))
                continue
            unchanged = {"hits": stored[key]} if key in stored else {"hits": {"$exists": False}}
            update = {"$set": {"hits": [*recent, now][-limit:], "expiresAt": now + window}}
            operations.append(UpdateOne({"_id": key, **unchanged}, update, upsert=True))
            writes.append(key)
            decisions[key] = RateDecision(True)
        if operations:
            try:
                await self._collection.bulk_write(operations, ordered=False)
            except BulkWriteError as error:
                errors = error.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors) or error.details.get("writeConcernErrors"):
                    raise
                for write_error in errors:
                    decisions[writes[int(write_error["index"])]] = RateDecision(False, CONFLICT_RETRY_SECONDS)
        return decisions
