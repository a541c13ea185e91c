"""What the core tells the outside world about (tracing, metrics); the composition root plugs one in."""

from __future__ import annotations

from typing import Protocol

from storage import EventDoc, SessionDoc

# Client events that the browser reports for tracing (seed EP5-S18's analytics events).
TRACED_CLIENT_EVENTS = frozenset(
    {"interview.session.started", "interview.session.api_failed", "interview.session.offline_mode"}
)


class SessionObserver(Protocol):
    """Notified after the fact; must not block and must not raise."""

    def session_started(self, session: SessionDoc) -> None:
        """A new session was created (not a resume)."""
        ...

    def client_events_stored(self, session_id: str, application_id: str, events: list[EventDoc]) -> None:
        """Client events were stored for the first time (retries are not repeated here)."""
        ...


class NoObserver:
    """The default: nobody is listening."""

    def session_started(self, session: SessionDoc) -> None:
        return

    def client_events_stored(self, session_id: str, application_id: str, events: list[EventDoc]) -> None:
        return
