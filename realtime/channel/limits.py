"""Per-connection message limits: a token bucket for rate, a sliding count for invalid messages.

Both take the current monotonic time from their caller, so they are pure and tests advance time.
"""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """`rate` messages per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._updated) * self.rate)
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token; False when the bucket is empty."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.burst - 1

    def retry_after_ms(self) -> int:
        return max(1, int((1 - self._tokens) / self.rate * 1000))


class StrikeCounter:
    """Counts offences in a sliding window; `add` says when the limit is reached."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._times: deque[float] = deque()

    def add(self, now: float) -> bool:
        self._times.append(now)
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()
        return len(self._times) >= self.limit
