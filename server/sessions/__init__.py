"""The session core: state machine, question flow and event log, shared by HTTP and WebSocket."""

from server.sessions.client_events import CLIENT_EVENT_TYPES, MAX_PAYLOAD_BYTES, validate_client_payload
from server.sessions.event_log import AppendResult, EventLog, NewClientEvent
from server.sessions.hub import SessionHub
from server.sessions.questions import select_questions
from server.sessions.service import IngestOutcome, SessionService, StartOutcome, question_payload, utcnow
from server.sessions.states import ALLOWED, TRANSITION_EVENT, check_transition

__all__ = [
    "ALLOWED",
    "CLIENT_EVENT_TYPES",
    "MAX_PAYLOAD_BYTES",
    "TRANSITION_EVENT",
    "AppendResult",
    "EventLog",
    "IngestOutcome",
    "NewClientEvent",
    "SessionHub",
    "SessionService",
    "StartOutcome",
    "check_transition",
    "question_payload",
    "select_questions",
    "utcnow",
    "validate_client_payload",
]
