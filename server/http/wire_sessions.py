"""HTTP bodies of the session lifecycle and review API (camelCase on the wire)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from server.http.wire import QuestionOut
from server.sessions import (
    INT64_MAX,
    MAX_TEXT_CHARS,
    AnalyticsReport,
    QuestionId,
    QuestionReview,
    ReviewActivity,
    SessionIntegrity,
)
from server.sessions.wire_types import CanonicalUuid, RequestModel, ResourceId
from storage import (
    CamelModel,
    EventDoc,
    EventSource,
    ScoreBreakdown,
    SessionDoc,
    SessionMetadata,
    SessionScores,
    SessionStatus,
)

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENTS_PAGE = 1000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# `active` (in_progress or paused) or one status.
StatusFilter = Annotated[str, StringConstraints(pattern=r"^(active|in_progress|paused|completed|abandoned|error)$")]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class SessionOut(CamelModel):
    """A session as every endpoint returns it; internal bookkeeping fields never leave the server.

    `finalScore` and `scoreBreakdown` are shown to staff only (null for the candidate).
    """

    session_id: str
    application_id: str
    candidate_id: str
    status: SessionStatus
    started_at: datetime
    completed_at: datetime | None = None
    duration: float | None = None
    final_score: float | None = None
    score_breakdown: ScoreBreakdown | None = None
    metadata: SessionMetadata
    current_question_number: int
    question_count: int
    current_question: QuestionOut | None = None
    last_seq: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: SessionDoc, *, staff: bool = False) -> SessionOut:
        question = session.current_question() if session.is_active else None
        total = len(session.questions)
        stored = session.model_dump(include=_STORED_FIELDS if staff else _STORED_FIELDS - _STAFF_FIELDS)
        current = QuestionOut.of(question, total) if question else None
        return cls(**stored, question_count=total, current_question=current)


# The fields SessionOut copies from the stored document as they are.
_STORED_FIELDS = set(SessionOut.model_fields) - {"question_count", "current_question"}
# Scores assist the reviewers; the candidate does not see them.
_STAFF_FIELDS = {"final_score", "score_breakdown"}


class WindowQuery(RequestModel):
    """`from` is inclusive, `to` exclusive; a plain date means midnight UTC (a `to` date includes that day)."""

    from_: AwareDatetime | date | None = Field(default=None, alias="from")
    to: AwareDatetime | date | None = None

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        # pydantic would also read a number as a Unix time: the documented forms are ISO 8601 only.
        if isinstance(value, str) and not _ISO_DATE.match(value):
            raise ValueError("must be an ISO 8601 date or date-time")
        return value


class SessionListQuery(WindowQuery):
    """Filters combine (all must hold); `from`/`to` bound `startedAt`; score bounds are inclusive, staff only."""

    status: StatusFilter | None = None
    application_id: ResourceId | None = None
    min_score: Score | None = Field(default=None, description="Staff only: finalScore >= minScore (scored sessions)")
    max_score: Score | None = Field(default=None, description="Staff only: finalScore <= maxScore (scored sessions)")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SessionListQuery:
        if self.min_score is not None and self.max_score is not None and self.min_score > self.max_score:
            raise ValueError("minScore must not be above maxScore")
        return self


class SessionListResponse(CamelModel):
    sessions: list[SessionOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class TransitionRequest(RequestModel):
    """Optional body of pause/resume/complete: act only if the session is still in this status."""

    expected_status: SessionStatus | None = None


class EventOut(CamelModel):
    seq: int
    type: str
    ts: datetime
    source: EventSource
    payload: dict[str, Any]
    client_event_id: str | None = None

    @classmethod
    def of(cls, event: EventDoc) -> EventOut:
        return cls.model_validate(event.model_dump())


class EventsQuery(RequestModel):
    after_seq: int = Field(default=0, ge=0, le=INT64_MAX)
    limit: int = Field(default=100, ge=1, le=MAX_EVENTS_PAGE)


class EventsPage(CamelModel):
    events: list[EventOut]
    next_after_seq: int = Field(description="Pass as `afterSeq` to continue (or to poll for new events)")
    has_more: bool
    last_seq: int = Field(description="The session's event-log high-water mark")


class ClientEventIn(RequestModel):
    id: CanonicalUuid
    type: EventType
    ts: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)


class EventBatchRequest(RequestModel):
    events: list[ClientEventIn] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class EventBatchEnvelope(RequestModel):
    """What the upload reads first; each item is then validated on its own as a `ClientEventIn`."""

    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class NotApplied(CamelModel):
    id: str
    code: str
    message: str


class RefusedEvent(CamelModel):
    """One uploaded event refused for good (not stored): resending it cannot help."""

    index: int = Field(description="Its position in the uploaded `events`")
    id: str | None = Field(description="Its `id`, when it had a usable one")
    code: str
    message: str
    field: str | None = Field(description="The offending field, e.g. `ts` or `payload.text`")


class EventBatchResponse(CamelModel):
    accepted: int
    duplicates: int
    last_seq: int
    rejected: list[str] = Field(description="Ids refused as too late for a session that has ended")
    not_applied: list[NotApplied] = Field(
        default_factory=list,
        description="Stored commands that changed nothing (replayed too late, another question...), with the reason;"
        " omitted when empty",
    )
    refused: list[RefusedEvent] = Field(
        default_factory=list,
        description="Events refused for good (invalid, or holding what the store cannot keep), each with its index;"
        " the others were stored. Omitted when empty",
    )


class AnswerRequest(RequestModel):
    id: CanonicalUuid
    question_id: QuestionId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> AnswerRequest:
        if self.ended_at < self.started_at:
            raise ValueError("endedAt must not be before startedAt")
        return self


class AnswerResponse(CamelModel):
    answer_id: str
    question_id: str
    duplicate: bool
    seq: int
    next_question: QuestionOut | None = None
    session: SessionOut


class SessionTokenResponse(CamelModel):
    session_id: str
    token: str
    expires_at: datetime


class EventSummary(CamelModel):
    total: int
    by_type: dict[str, int]
    last_seq: int


class SessionDetails(CamelModel):
    session: SessionOut
    questions: list[QuestionReview]
    unassigned: ReviewActivity = Field(description="Answers and transcripts that name no question of the session")
    events: EventSummary
    truncated: bool = Field(description="True when the session has more answers/transcripts than one response holds")
    scores: SessionScores | None = Field(
        default=None,
        description="Staff only: scores by question with their explanations (null until scored, and for the"
        " candidate); they assist a human reviewer",
    )
    integrity: SessionIntegrity | None = Field(
        default=None,
        description="Staff only: the session's integrity signals (facts, not verdicts; per question in `questions`)",
    )


class AnalyticsQuery(WindowQuery):
    """`from` is inclusive, `to` exclusive; a plain date means midnight UTC (a `to` date includes that day)."""


class RecordingLinkResponse(CamelModel):
    url: str = Field(description="Same-origin path of the recording, valid until `expiresAt` (no other auth needed)")
    expires_at: datetime


class RecordingLinkQuery(RequestModel):
    sig: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="The signed token from POST .../recording-link"
    )


__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "AnalyticsQuery",
    "AnalyticsReport",
    "AnswerRequest",
    "AnswerResponse",
    "ClientEventIn",
    "EventBatchEnvelope",
    "EventBatchRequest",
    "EventBatchResponse",
    "EventOut",
    "EventSummary",
    "EventsPage",
    "EventsQuery",
    "RecordingLinkQuery",
    "RecordingLinkResponse",
    "RefusedEvent",
    "SessionDetails",
    "SessionListQuery",
    "SessionListResponse",
    "SessionOut",
    "SessionTokenResponse",
    "TransitionRequest",
    "WindowQuery",
]
