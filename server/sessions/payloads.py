"""The client event allow-list and payload models, shared by the WebSocket, HTTP and the batch upload.

A client event is stored in the session's event log with `source: "client"`; its
`type` must be one of CLIENT_EVENT_TYPES and its payload must validate against the
model for that type and hold only what the store can keep (server/sessions/storable.py).
Sizes are counted in characters, never in escaped JSON bytes: a `text` holds up to
MAX_TEXT_CHARS characters in any script, and the rest of a payload up to
MAX_PAYLOAD_CHARS characters of JSON. A client's `ts` is kept within a sane window
around its receipt (`client_event_time`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, model_validator

from server.sessions.errors import DomainError, ErrorCode, validation_error
from server.sessions.event_types import EventType
from server.sessions.storable import INT64_MAX, unstorable
from server.sessions.validation import validation_details
from storage import CamelModel

MAX_PAYLOAD_CHARS = 16 * 1024
MAX_TEXT_CHARS = 20_000
# A client event older than this is refused: no session accepts it any more.
MAX_EVENT_AGE = timedelta(days=30)
Milliseconds = Annotated[int, Field(ge=0, le=INT64_MAX)]

QuestionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]
EventName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.\-]{0,63}$")]


class ClientPayload(CamelModel):
    model_config = ConfigDict(extra="forbid")


class TranscriptPayload(ClientPayload):
    """A transcript line from a client-side recogniser."""

    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    final: bool = True
    start_ms: Milliseconds
    end_ms: Milliseconds
    question_id: QuestionId | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TranscriptPayload:
        if self.end_ms < self.start_ms:
            raise ValueError("endMs must not be before startMs")
        return self


class AnswerStartPayload(ClientPayload):
    question_id: QuestionId


class AnswerSubmitPayload(ClientPayload):
    question_id: QuestionId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    timed_out: bool | None = Field(
        default=None, description="The question's time ran out: this is the draft the candidate had so far."
    )


class QuestionNextPayload(ClientPayload):
    question_id: QuestionId | None = None
    timed_out: bool | None = Field(
        default=None, description="The question's time ran out with nothing drafted (logged as `question.timeout`)."
    )


class NamedEventPayload(ClientPayload):
    """A named client event such as `tab.hidden`, `mic.muted`, `network.quality`, `offline.mode`."""

    name: EventName
    payload: dict[str, Any] = Field(default_factory=dict)


class PastePayload(ClientPayload):
    """The inner payload of an `answer.paste` event: what was pasted in the answer box (its length, never the text)."""

    chars: Annotated[int, Field(ge=0, le=INT64_MAX, strict=True)]
    question_id: QuestionId | None = None


# Named events whose inner `payload` has a model (integrity signals, server/sessions/integrity.py);
# every other name keeps a free-form payload.
NAMED_EVENT_PAYLOADS: dict[str, type[ClientPayload]] = {"answer.paste": PastePayload}


class SessionControlPayload(ClientPayload):
    """The candidate pauses, resumes or ends the interview (`session.pause/resume/complete`).

    Stored like every client event, so a resent request is recognised by its id and
    never applied twice; the service then moves the session if the move is legal.
    """

    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


CLIENT_EVENT_TYPES: dict[EventType, type[ClientPayload]] = {
    EventType.TRANSCRIPT: TranscriptPayload,
    EventType.ANSWER_START: AnswerStartPayload,
    EventType.ANSWER_SUBMIT: AnswerSubmitPayload,
    EventType.QUESTION_NEXT: QuestionNextPayload,
    EventType.EVENT: NamedEventPayload,
    EventType.SESSION_PAUSE: SessionControlPayload,
    EventType.SESSION_RESUME: SessionControlPayload,
    EventType.SESSION_COMPLETE: SessionControlPayload,
}


def client_event_type(type_: str) -> EventType:
    """The allow-listed client event type, or EVENT_TYPE_NOT_ALLOWED."""
    try:
        event_type = EventType(type_)
    except ValueError:
        event_type = None
    if event_type is None or event_type not in CLIENT_EVENT_TYPES:
        raise DomainError(
            ErrorCode.EVENT_TYPE_NOT_ALLOWED,
            f"Event type {type_!r} is not allowed",
            {"type": type_, "allowed": sorted(CLIENT_EVENT_TYPES)},
        )
    return event_type


def payload_chars(stored: dict[str, Any]) -> int:
    """The size a payload counts against MAX_PAYLOAD_CHARS: its JSON in characters, `text` aside."""
    rest = {key: value for key, value in stored.items() if key != "text"}
    return len(json.dumps(rest, separators=(",", ":"), ensure_ascii=False))


def validate_client_payload(type_: str, payload: Any) -> dict[str, Any]:
    """The payload as stored (camelCase JSON), or a DomainError saying what is wrong.

    Field paths in the error's details are relative to the payload.
    """
    model = CLIENT_EVENT_TYPES[client_event_type(type_)]
    problem = unstorable(payload)
    if problem is not None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Invalid {type_} payload: {problem.message}",
            [{"field": problem.field, "message": problem.message}],
        )
    try:
        parsed = model.model_validate(payload)
    except ValidationError as error:
        raise DomainError(ErrorCode.VALIDATION_ERROR, f"Invalid {type_} payload", validation_details(error)) from None
    return stored_client_payload(parsed, type_)


def stored_client_payload(parsed: ClientPayload, type_: str, exclude: set[str] | None = None) -> dict[str, Any]:
    """The stored form of a payload its model has validated (a WebSocket message is one: its
    fields are its payload's, checked as the frame was parsed): a named event's inner payload
    checked against its model, the size bounded. Raises DomainError like `validate_client_payload`.
    """
    stored = parsed.to_wire(exclude=exclude, exclude_none=True)
    if isinstance(parsed, NamedEventPayload) and (inner := NAMED_EVENT_PAYLOADS.get(parsed.name)) is not None:
        try:
            stored["payload"] = inner.model_validate(parsed.payload).to_wire(exclude_none=True)
        except ValidationError as error:
            details = [{**d, "field": f"payload.{d['field']}"} for d in validation_details(error)]
            raise DomainError(ErrorCode.VALIDATION_ERROR, f"Invalid {parsed.name} payload", details) from None
    if payload_chars(stored) > MAX_PAYLOAD_CHARS:
        raise DomainError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"{type_} payload is too large",
            {"maxChars": MAX_PAYLOAD_CHARS},
        )
    return stored


def client_event_time(ts: datetime | None, received: datetime) -> datetime:
    """When a client event happened, as it is stored: never after its receipt, never older than MAX_EVENT_AGE.

    An event cannot happen after the server received it, so a later `ts` (a fast
    clock, or year 9999) is stored as the receipt time; without `ts` it is the receipt time.
    """
    if ts is None or ts > received:
        return received
    if ts < received - MAX_EVENT_AGE:
        message = f"ts is more than {MAX_EVENT_AGE.days} days before the server received it"
        raise validation_error([{"field": "ts", "message": message}], message)
    return ts
