"""Per-client limits kept in this process: token buckets, and slots held at once, by key.

Keys name a client (a user, a session, an address). Everything is pure: callers pass the
monotonic time, so tests move it instead of sleeping. The limits are per process; see
docs/security.md for what that means with several processes.
"""

from __future__ import annotations

from collections import Counter


class TokenBucket:
    """`rate` units per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._updated) * self.rate)
        self._updated = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens; False (nothing spent) when there are not enough."""
        self._refill(now)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def charge(self, now: float, cost: float) -> None:
        """Spend `cost` tokens even if that leaves a debt (for what was counted only afterwards)."""
        self._refill(now)
        self._tokens -= cost

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.burst - 1

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are there (as of the last refill)."""
        return max(0.0, (min(cost, self.burst) - self._tokens) / self.rate)

    def retry_after_ms(self) -> int:
        return max(1, int(self.retry_after() * 1000))


class KeyedBuckets:
    """One TokenBucket per key, made on first use; buckets that are full again are forgotten."""

    def __init__(self, rate: float, burst: float, *, prune_above: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._prune_above = prune_above

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._prune_above:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.full(now)}
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """0 when `cost` was spent; otherwise the seconds to wait (nothing spent). A cost over the burst waits
        for a full bucket."""
        bucket = self._bucket(key, now)
        if bucket.take(now, min(cost, self.burst)):
            return 0.0
        return bucket.retry_after(cost)

    def charge(self, key: str, now: float, cost: float) -> None:
        self._bucket(key, now).charge(now, cost)

    def __len__(self) -> int:
        return len(self._buckets)


class KeyedSlots:
    """At most `limit` members hold a slot per key at once, and `total` in all.

    A member that holds a slot (the same session reconnecting, say) takes no second one:
    its holds are counted, and the slot is given back with the last of them.
    """

    def __init__(self, limit: int, total: int | None = None) -> None:
        self.limit = limit
        self.total = total
        self._members: dict[str, Counter[object]] = {}
        self._count = 0

    def acquire(self, key: str, member: object) -> bool:
        held = self._members.setdefault(key, Counter())
        if member not in held:
            if len(held) >= self.limit or (self.total is not None and self._count >= self.total):
                if not held:
                    del self._members[key]
                return False
            self._count += 1
        held[member] += 1
        return True

    def release(self, key: str, member: object) -> None:
        held = self._members.get(key)
        if held is None or member not in held:
            return
        held[member] -= 1
        if held[member] <= 0:
            del held[member]
            self._count -= 1
            if not held:
                del self._members[key]

    def held(self, key: str) -> int:
        return len(self._members.get(key, ()))

    def __len__(self) -> int:
        return self._count
