"""In-process fan-out of a session's new server events to its live connection."""

from __future__ import annotations

import logging
from collections.abc import Callable

from storage import EventDoc

logger = logging.getLogger(__name__)

Listener = Callable[[EventDoc], None]


class SessionHub:
    """Maps a session id to the listener of its live connection (at most one).

    Listeners must not block: they only enqueue. Events reach them in seq order
    because the event log publishes while it holds the session's append lock.
    A deployment with several processes delivers events from other processes on
    the next reconnect (replay), never loses them.
    """

    def __init__(self) -> None:
        self._listeners: dict[str, Listener] = {}

    def subscribe(self, session_id: str, listener: Listener) -> Callable[[], None]:
        self._listeners[session_id] = listener

        def unsubscribe() -> None:
            if self._listeners.get(session_id) is listener:
                del self._listeners[session_id]

        return unsubscribe

    def publish(self, event: EventDoc) -> None:
        listener = self._listeners.get(event.session_id)
        if listener is None:
            return
        try:
            listener(event)
        except Exception:  # a broken listener must never fail the write that was already stored
            logger.exception("session listener failed", extra={"session_id": event.session_id})

    def is_connected(self, session_id: str) -> bool:
        return session_id in self._listeners
