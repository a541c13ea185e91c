"""Per-connection message limits: a token bucket for rate (the core's), a sliding count for invalid messages.

Both take the current monotonic time from their caller, so they are pure and tests advance time.
"""

from __future__ import annotations

from collections import deque

from server.sessions.limits import TokenBucket

__all__ = ["StrikeCounter", "TokenBucket"]


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
