"""Per-connection message limits: a token bucket for rate (the core's), a sliding count for invalid messages.

Both take the current monotonic time from their caller, so they are pure and tests advance time.
"""

from __future__ import annotations

from server.sessions.limits import TokenBucket

__all__ = ["StrikeCounter", "TokenBucket"]


class StrikeCounter:
    """Counts offences in a sliding window; `add` says when the limit is reached."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        # A short list (at most `limit` recent times), not a deque: every connection holds one.
        self._times: list[float] = []

    def add(self, now: float) -> bool:
        self._times = [t for t in self._times if t >= now - self.window][-self.limit :]
        self._times.append(now)
        return len(self._times) >= self.limit
