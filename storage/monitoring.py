"""Counting the store's round trips (PyMongo command monitoring), for /healthz and the benchmarks."""

from __future__ import annotations

from collections import Counter

from pymongo import monitoring

# Driver housekeeping, not work the server asked for.
_HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "killCursors"})


class CommandCounter(monitoring.CommandListener):
    """Commands sent to the store, by name (a getMore is a round trip too)."""

    def __init__(self) -> None:
        self.by_name: Counter[str] = Counter()
        self.micros_by_name: Counter[str] = Counter()  # time from send to answer, summed

    @property
    def total(self) -> int:
        return sum(self.by_name.values())

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HOUSEKEEPING:
            self.by_name[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._timed(event.command_name, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._timed(event.command_name, event.duration_micros)

    def _timed(self, name: str, micros: int) -> None:
        if name not in _HOUSEKEEPING:
            self.micros_by_name[name] += micros

    @property
    def millis_by_name(self) -> dict[str, int]:
        return {name: micros // 1000 for name, micros in self.micros_by_name.items()}
