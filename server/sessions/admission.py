"""Which client events an ingest stores: the strict gate and the late-upload rule. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.sessions.commands import Command, refusal
from server.sessions.errors import DomainError, session_closed
from server.sessions.event_log import NewClientEvent
from server.sessions.event_types import COMMAND_TYPES
from storage import SessionDoc


def strict_refusal(session: SessionDoc, events: list[NewClientEvent], known: dict[str, int]) -> DomainError | None:
    """STRICT: the refusal of the first new command that cannot be applied now (nothing is stored then)."""
    for event in events:
        if event.client_event_id in known or event.type not in COMMAND_TYPES:
            continue
        question_id = event.payload.get("questionId")
        command = Command(type=event.type, question_id=question_id if isinstance(question_id, str) else None)
        error = refusal(session, command)
        if error is not None:
            return error
    return None


def late_admission(
    session: SessionDoc, events: list[NewClientEvent], known: dict[str, int], now: datetime, grace: timedelta
) -> tuple[list[NewClientEvent], list[str]]:
    """What an ended session still accepts, and the ids refused as too late.

    Retries of stored events are always answered as duplicates, whatever their ts. New
    events are accepted while the grace window after the end is open, if stamped before
    the end. Raises the session's closed error when nothing is acceptable.
    """
    ended_at = session.completed_at or session.updated_at
    if events and all(e.client_event_id in known for e in events):
        return events, []
    if now > ended_at + grace:
        raise session_closed(session.status)
    acceptable = [e for e in events if e.client_event_id in known or e.ts <= ended_at]
    too_late = (e.client_event_id for e in events if e.client_event_id not in known and e.ts > ended_at)
    if events and not acceptable:
        raise session_closed(session.status)
    return acceptable, list(dict.fromkeys(too_late))
