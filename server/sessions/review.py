"""A session's answers and transcripts grouped by question, derived from its event log. Pure."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from pydantic import Field

from server.sessions.event_types import TRANSCRIPT_TYPES, EventType
from server.sessions.integrity import IntegritySignals, integrity_signals
from storage import CamelModel, EventDoc, QuestionSnapshot, SessionDoc

# The event types a review reads; everything else only counts in the summary.
REVIEW_EVENT_TYPES: list[str] = [
    EventType.QUESTION,
    EventType.ANSWER_SUBMIT,
    EventType.ANSWER_RECORDED,
    EventType.TRANSCRIPT,
    EventType.TRANSCRIPT_FINAL,
    EventType.EVENT,
]


class AnswerReview(CamelModel):
    answer_id: str | None
    seq: int
    submitted_at: datetime
    text: str | None = Field(default=None, description="What was typed")
    started_at: datetime | None = None
    ended_at: datetime | None = None
    recorded: bool = Field(description="The server counted it as the answer to the question it was asking")
    spoken_text: str | None = Field(default=None, description="What was said: the question's transcript lines")
    answer_text: str | None = Field(default=None, description="The answer as recorded: typed, then spoken")


class TranscriptReview(CamelModel):
    seq: int
    ts: datetime
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
    final: bool
    source: str = Field(description="`client` (browser recogniser) or `server` (server-side transcription)")


class NamedEventReview(CamelModel):
    """A named client event (`tab.hidden`, `answer.paste`, `recording.consent`...) as the timeline shows it."""

    seq: int
    ts: datetime
    name: str
    payload: dict[str, Any] = Field(default_factory=dict)


class ReviewActivity(CamelModel):
    answers: list[AnswerReview] = Field(default_factory=list)
    transcripts: list[TranscriptReview] = Field(default_factory=list)
    events: list[NamedEventReview] = Field(default_factory=list)


class QuestionReview(QuestionSnapshot):
    """A question as asked in the session, with what the candidate said and submitted."""

    expected_answer_points: list[str] | None = Field(default=None, description="Staff only")  # type: ignore[assignment]
    asked: bool
    answers: list[AnswerReview] = Field(default_factory=list)
    transcripts: list[TranscriptReview] = Field(default_factory=list)
    events: list[NamedEventReview] = Field(default_factory=list)
    integrity: IntegritySignals | None = Field(
        default=None, description="Staff only: facts about how the question was taken, not verdicts"
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _answer(event: EventDoc, recorded: dict[str, dict[str, Any]]) -> AnswerReview:
    payload = event.payload
    as_recorded = recorded.get(event.client_event_id or "")
    return AnswerReview(
        answer_id=event.client_event_id,
        seq=event.seq,
        submitted_at=event.ts,
        text=payload.get("text") or None,
        started_at=payload.get("startedAt"),
        ended_at=payload.get("endedAt"),
        recorded=as_recorded is not None,
        spoken_text=as_recorded.get("spokenText") if as_recorded else None,
        answer_text=as_recorded.get("text") if as_recorded else None,
    )


def _transcript(event: EventDoc) -> TranscriptReview:
    payload = event.payload
    return TranscriptReview(
        seq=event.seq,
        ts=event.ts,
        text=str(payload.get("text", "")),
        start_ms=_int_or_none(payload.get("startMs")),
        end_ms=_int_or_none(payload.get("endMs")),
        final=event.type == EventType.TRANSCRIPT_FINAL or bool(payload.get("final", True)),
        source=event.source.value,
    )


def _named(event: EventDoc) -> NamedEventReview:
    inner = event.payload.get("payload")
    return NamedEventReview(
        seq=event.seq,
        ts=event.ts,
        name=str(event.payload.get("name", "")),
        payload=inner if isinstance(inner, dict) else {},
    )


def _asked_at(events: list[EventDoc]) -> tuple[list[datetime], list[str]]:
    """When each question was asked (ascending), from the server's `question` events."""
    asked = sorted((e.ts, str(e.payload.get("id", ""))) for e in events if e.type == EventType.QUESTION)
    return [ts for ts, _ in asked], [question_id for _, question_id in asked]


def build_review(
    session: SessionDoc, events: list[EventDoc], *, include_expected: bool
) -> tuple[list[QuestionReview], ReviewActivity]:
    """Group `events` (ascending seq) by question of `session`.

    Answers belong to the question their payload names. A transcript without a
    `questionId` belongs to the question being asked at its `ts` (the latest
    `question` event at or before it; the first question if it is earlier than
    all of them). By `ts`, not by seq, so late uploads from an offline client
    land where they were said. Named client events belong to the question their
    payload names, else to the one being asked at their `ts`, like transcripts.
    Anything naming no question of the session lands in the second, "unassigned"
    result. `include_expected` is the staff view: expected answer points and each
    question's integrity signals (server/sessions/integrity.py).
    """
    reviews = {
        q.id: QuestionReview(
            **q.model_dump(exclude={"expected_answer_points"}),
            expected_answer_points=list(q.expected_answer_points) if include_expected else None,
            asked=q.number <= session.asked_question_number,
        )
        for q in session.questions
    }
    unassigned = ReviewActivity()
    recorded = {
        str(e.payload.get("answerId")): e.payload
        for e in events
        if e.type == EventType.ANSWER_RECORDED and e.payload.get("answerId")
    }
    asked_times, asked_ids = _asked_at(events)
    if include_expected:  # the staff view
        for question_id, signals in integrity_signals(session, events)[0].items():
            reviews[question_id].integrity = signals

    def owner(named: Any, ts: datetime) -> QuestionReview | None:
        """The question an item names, else the one being asked at `ts`."""
        if not named and asked_ids:
            named = asked_ids[max(0, bisect.bisect_right(asked_times, ts) - 1)]
        return reviews.get(str(named or ""))

    for event in events:
        if event.type == EventType.ANSWER_SUBMIT:
            question = reviews.get(str(event.payload.get("questionId", "")))
            (question or unassigned).answers.append(_answer(event, recorded))
        elif event.type in TRANSCRIPT_TYPES:
            (owner(event.payload.get("questionId"), event.ts) or unassigned).transcripts.append(_transcript(event))
        elif event.type == EventType.EVENT:
            inner = event.payload.get("payload")
            named = inner.get("questionId") if isinstance(inner, dict) else None
            (owner(named, event.ts) or unassigned).events.append(_named(event))
    return sorted(reviews.values(), key=lambda r: r.number), unassigned
