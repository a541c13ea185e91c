"""An event on its way to the store (`Draft`), and what became of it (`Written`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import EventDoc, EventSource


@dataclass(frozen=True)
class Draft:
    """An event waiting for its seq."""

    session_id: str
    type: str
    ts: datetime
    payload: dict[str, Any]
    source: EventSource
    client_event_id: str | None = None
    # A command stored pending (`applyPending`) until its caller applied it: a crash in between
    # leaves it for the next caller to apply.
    apply_pending: bool = False

    def document(self, seq: int, received_at: datetime) -> EventDoc:
        return EventDoc(
            session_id=self.session_id,
            seq=seq,
            type=self.type,
            ts=self.ts,
            payload=self.payload,
            source=self.source,
            client_event_id=self.client_event_id,
            received_at=received_at,
            apply_pending=self.session_id if self.apply_pending else None,
        )


@dataclass(frozen=True)
class Written:
    """A stored draft: its seq, and its document (None when the client event id was stored before)."""

    seq: int
    event: EventDoc | None
