"""A clock tests move by hand, so time limits, leases and grace periods need no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Starts at `start` (default: now) and moves only when told.

    The default start is a whole millisecond, the precision MongoDB stores dates with,
    so times read back from the store compare equal to the clock's.
    """

    def __init__(self, start: datetime | None = None) -> None:
        now = datetime.now(UTC)
        self._now = start or now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
