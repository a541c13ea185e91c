"""Per-connection message limits: a token bucket for rate, a sliding count for invalid messages."""

from __future__ import annotations

import time
from collections import deque


class TokenBucket:
    """`rate` messages per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.burst - 1

    def retry_after_ms(self) -> int:
        return max(1, int((1 - self._tokens) / self.rate * 1000))


class StrikeCounter:
    """Counts offences in a sliding window; `add` says when the limit is reached."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._times: deque[float] = deque()

    def add(self) -> bool:
        now = time.monotonic()
        self._times.append(now)
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()
        return len(self._times) >= self.limit
