"""The session core: state machine, question flow, event log and live hub, shared by every edge.

Nothing here knows HTTP, WebSockets or MongoDB: edges call `SessionService`,
errors are `DomainError`s with a code, and repositories (storage/) do the storing.
"""

from server.sessions.analytics import AnalyticsReport, CategoryCount, DailyPoint
from server.sessions.clock import SYSTEM_CLOCK, Clock, SystemClock
from server.sessions.commands import ApplyPolicy, Command
from server.sessions.deletion import SessionDeletion, may_delete
from server.sessions.errors import (
    DomainError,
    ErrorCode,
    forbidden,
    invalid_application,
    missing_field,
    payload_too_large,
    rate_limited,
    session_closed,
    session_not_found,
    storage_unavailable,
    unauthorized,
    validation_error,
)
from server.sessions.event_log import AppendResult, LiveSession, NewClientEvent
from server.sessions.event_types import COMMAND_TYPES, STATE_EVENT_TYPES, TRANSCRIPT_TYPES, EventType
from server.sessions.hub import SessionHub
from server.sessions.ingest import IngestOutcome, KnownSession, PendingIngest
from server.sessions.integrity import (
    INTEGRITY_EVENT_NAMES,
    FastAnswer,
    IntegritySignals,
    SessionIntegrity,
    integrity_signals,
    reading_seconds,
)
from server.sessions.observer import TRACED_CLIENT_EVENTS, NoObserver, SessionObserver
from server.sessions.payloads import (
    CLIENT_EVENT_TYPES,
    MAX_EVENT_AGE,
    MAX_PAYLOAD_CHARS,
    MAX_TEXT_CHARS,
    NAMED_EVENT_PAYLOADS,
    AnswerStartPayload,
    AnswerSubmitPayload,
    NamedEventPayload,
    PastePayload,
    QuestionId,
    QuestionNextPayload,
    SessionControlPayload,
    TranscriptPayload,
    client_event_time,
    client_event_type,
    stored_client_payload,
    validate_client_payload,
)
from server.sessions.principals import Principal, Role, SessionPrincipal, UserPrincipal
from server.sessions.reading import LinkState, LinkStatus, OfflinePack, SessionQuery
from server.sessions.recording_links import LINK_TTL_SECONDS, RecordingLink, RecordingLinks
from server.sessions.recordings import LiveRecording, LiveSegment, SessionRecordings, StoredAudio, recording_exists
from server.sessions.review import NamedEventReview, QuestionReview, ReviewActivity, build_review
from server.sessions.service import AnswerOutcome, ServiceConfig, SessionService
from server.sessions.start_batch import StartOutcome
from server.sessions.starting import StartLimit
from server.sessions.states import ALLOWED, TRANSITION_EVENT, check_transition
from server.sessions.storable import (
    INT64_MAX,
    MAX_DEPTH,
    MAX_JSON_DEPTH,
    Unstorable,
    json_depth,
    nests_deeper_than,
    unstorable,
)
from server.sessions.tokens import IssuedToken, SessionTokens
from server.sessions.validation import printable, validation_details
from server.sessions.views import QuestionView
from storage import StorageError, StorageUnreachable, is_unreachable

__all__ = [
    "ALLOWED",
    "CLIENT_EVENT_TYPES",
    "COMMAND_TYPES",
    "INT64_MAX",
    "INTEGRITY_EVENT_NAMES",
    "LINK_TTL_SECONDS",
    "MAX_DEPTH",
    "MAX_EVENT_AGE",
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_CHARS",
    "MAX_TEXT_CHARS",
    "NAMED_EVENT_PAYLOADS",
    "STATE_EVENT_TYPES",
    "SYSTEM_CLOCK",
    "TRACED_CLIENT_EVENTS",
    "TRANSCRIPT_TYPES",
    "TRANSITION_EVENT",
    "AnalyticsReport",
    "AnswerOutcome",
    "AnswerStartPayload",
    "AnswerSubmitPayload",
    "AppendResult",
    "ApplyPolicy",
    "CategoryCount",
    "Clock",
    "Command",
    "DailyPoint",
    "DomainError",
    "ErrorCode",
    "EventType",
    "FastAnswer",
    "IngestOutcome",
    "IntegritySignals",
    "IssuedToken",
    "KnownSession",
    "LinkState",
    "LinkStatus",
    "LiveRecording",
    "LiveSegment",
    "LiveSession",
    "NamedEventPayload",
    "NamedEventReview",
    "NewClientEvent",
    "NoObserver",
    "OfflinePack",
    "PastePayload",
    "PendingIngest",
    "Principal",
    "QuestionId",
    "QuestionNextPayload",
    "QuestionReview",
    "QuestionView",
    "RecordingLink",
    "RecordingLinks",
    "ReviewActivity",
    "Role",
    "ServiceConfig",
    "SessionControlPayload",
    "SessionDeletion",
    "SessionHub",
    "SessionIntegrity",
    "SessionObserver",
    "SessionPrincipal",
    "SessionQuery",
    "SessionRecordings",
    "SessionService",
    "SessionTokens",
    "StartLimit",
    "StartOutcome",
    "StorageError",
    "StorageUnreachable",
    "StoredAudio",
    "SystemClock",
    "TranscriptPayload",
    "Unstorable",
    "UserPrincipal",
    "build_review",
    "check_transition",
    "client_event_time",
    "client_event_type",
    "forbidden",
    "integrity_signals",
    "invalid_application",
    "is_unreachable",
    "json_depth",
    "may_delete",
    "missing_field",
    "nests_deeper_than",
    "payload_too_large",
    "printable",
    "rate_limited",
    "reading_seconds",
    "recording_exists",
    "session_closed",
    "session_not_found",
    "storage_unavailable",
    "stored_client_payload",
    "unauthorized",
    "unstorable",
    "validate_client_payload",
    "validation_details",
    "validation_error",
]
