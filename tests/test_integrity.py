"""Integrity signals counted from stored events (pure core): facts per question and per session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.sessions import (
    DomainError,
    build_review,
    integrity_signals,
    reading_seconds,
    validate_client_payload,
)
from storage import Difficulty, EventDoc, EventSource, QuestionCategory, QuestionSnapshot, SessionDoc, SessionStatus

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
# 24 words: 6 seconds to read at 240 words per minute.
LONG_TEXT = " ".join(["word"] * 24)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def question(number: int, text: str = LONG_TEXT) -> QuestionSnapshot:
    return QuestionSnapshot(
        id=f"q{number}",
        number=number,
        text=text,
        category=QuestionCategory.TECHNICAL,
        difficulty=Difficulty.MID,
        time_limit_seconds=120,
    )


def session(*, completed_after: float | None = 100.0) -> SessionDoc:
    return SessionDoc(
        session_id="s-1",
        application_id="app-1",
        candidate_id="cand-1",
        status=SessionStatus.COMPLETED if completed_after is not None else SessionStatus.IN_PROGRESS,
        started_at=T0,
        completed_at=at(completed_after) if completed_after is not None else None,
        questions=[question(1), question(2)],
        asked_question_number=2,
        last_seq=99,
        created_at=T0,
        updated_at=T0,
    )


class Log:
    """Events in the order they were stored (seqs ascending)."""

    def __init__(self) -> None:
        self.events: list[EventDoc] = []

    def add(self, type_: str, seconds: float, payload: dict[str, Any], source: EventSource) -> Log:
        seq = len(self.events) + 1
        self.events.append(
            EventDoc(
                session_id="s-1",
                seq=seq,
                type=type_,
                ts=at(seconds),
                payload=payload,
                source=source,
                client_event_id=f"c{seq}" if source == EventSource.CLIENT else None,
            )
        )
        return self

    def asked(self, seconds: float, question_id: str) -> Log:
        return self.add("question", seconds, {"id": question_id}, EventSource.SERVER)

    def named(self, seconds: float, name: str, **payload: Any) -> Log:
        return self.add("event", seconds, {"name": name, "payload": payload}, EventSource.CLIENT)

    def submit(self, seconds: float, question_id: str) -> Log:
        return self.add("answer.submit", seconds, {"questionId": question_id, "text": "an answer"}, EventSource.CLIENT)


def two_questions() -> Log:
    """q1 asked at 0 s, q2 at 50 s."""
    return Log().asked(0, "q1").asked(50, "q2")


def test_hidden_periods_are_counted_and_timed_per_question_and_session() -> None:
    log = two_questions().named(10, "tab.hidden").named(14, "tab.visible").named(60, "tab.hidden")
    log.named(61.5, "tab.visible")
    by_question, total = integrity_signals(session(), log.events)
    assert (by_question["q1"].tab_hidden_count, by_question["q1"].tab_hidden_seconds) == (1, 4.0)
    assert (by_question["q2"].tab_hidden_count, by_question["q2"].tab_hidden_seconds) == (1, 1.5)
    assert (total.tab_hidden_count, total.tab_hidden_seconds) == (2, 5.5)


def test_a_period_across_a_question_change_splits_its_time_and_counts_where_it_began() -> None:
    log = two_questions().named(45, "focus.lost").named(55, "focus.back")
    by_question, total = integrity_signals(session(), log.events)
    assert (by_question["q1"].focus_lost_count, by_question["q1"].focus_lost_seconds) == (1, 5.0)
    assert (by_question["q2"].focus_lost_count, by_question["q2"].focus_lost_seconds) == (0, 5.0)
    assert (total.focus_lost_count, total.focus_lost_seconds) == (1, 10.0)


def test_an_open_period_ends_with_the_session_and_strays_are_ignored() -> None:
    # A closing event with nothing open, a second opening while open: neither changes anything.
    log = two_questions().named(5, "network.online").named(80, "network.offline").named(90, "network.offline")
    _, total = integrity_signals(session(completed_after=100), log.events)
    assert (total.offline_count, total.offline_seconds) == (1, 20.0)


def test_late_uploaded_events_count_by_their_time_not_their_seq() -> None:
    # An offline client uploads its facts after the second question was asked: their ts place them.
    log = two_questions().named(20, "network.offline").named(30, "network.online")
    by_question, _ = integrity_signals(session(), log.events)
    assert by_question["q1"].offline_seconds == 10.0 and by_question["q2"].offline_seconds == 0.0


def test_pastes_count_with_their_length_under_the_question_they_name() -> None:
    log = two_questions().named(10, "answer.paste", chars=120, questionId="q2").named(70, "answer.paste", chars=30)
    log.named(71, "answer.paste")  # an old client's paste without a length still counts as a paste
    by_question, total = integrity_signals(session(), log.events)
    assert (by_question["q2"].paste_count, by_question["q2"].pasted_chars) == (3, 150)
    assert (by_question["q1"].paste_count, total.paste_count, total.pasted_chars) == (0, 3, 150)


def test_answers_faster_than_reading_the_question_are_listed() -> None:
    assert reading_seconds(LONG_TEXT) == 6.0
    assert reading_seconds("Why?") == 2.0  # never below the minimum
    log = two_questions().submit(3, "q1").submit(58, "q2")
    by_question, total = integrity_signals(session(), log.events)
    [fast] = by_question["q1"].fast_answers
    assert (fast.question_id, fast.seconds_after_shown, fast.reading_seconds) == ("q1", 3.0, 6.0)
    assert by_question["q2"].fast_answers == []  # 8 s after it was shown: it could be read
    assert [f.answer_id for f in total.fast_answers] == [fast.answer_id]
    assert (total.reading_words_per_minute, total.min_reading_seconds) == (240, 2.0)


def test_a_question_asked_again_is_timed_from_its_first_showing() -> None:
    log = Log().asked(0, "q1").asked(30, "q1").submit(32, "q1")
    by_question, _ = integrity_signals(session(), log.events)
    assert by_question["q1"].fast_answers == []


def test_no_signals_without_events() -> None:
    by_question, total = integrity_signals(session(), two_questions().events)
    assert set(by_question) == {"q1", "q2"}
    assert total.model_dump(exclude={"reading_words_per_minute", "min_reading_seconds"}) == {
        "tab_hidden_count": 0,
        "tab_hidden_seconds": 0.0,
        "focus_lost_count": 0,
        "focus_lost_seconds": 0.0,
        "offline_count": 0,
        "offline_seconds": 0.0,
        "paste_count": 0,
        "pasted_chars": 0,
        "fast_answers": [],
    }


def test_the_staff_review_carries_each_questions_signals_and_events() -> None:
    log = two_questions().named(10, "tab.hidden").named(12, "tab.visible")
    staff, _ = build_review(session(), log.events, include_expected=True)
    assert staff[0].integrity is not None and staff[0].integrity.tab_hidden_count == 1
    assert [e.name for e in staff[0].events] == ["tab.hidden", "tab.visible"]
    candidate, _ = build_review(session(), log.events, include_expected=False)
    assert candidate[0].integrity is None


def test_paste_payloads_are_validated() -> None:
    stored = validate_client_payload("event", {"name": "answer.paste", "payload": {"chars": 12, "questionId": "q1"}})
    assert stored == {"name": "answer.paste", "payload": {"chars": 12, "questionId": "q1"}}
    for bad in ({"chars": -1}, {"chars": "12"}, {}, {"chars": 3, "text": "the pasted text"}):
        with pytest.raises(DomainError) as refused:
            validate_client_payload("event", {"name": "answer.paste", "payload": bad})
        assert refused.value.code == "VALIDATION_ERROR"
        assert all(d["field"].startswith("payload.") for d in refused.value.details)
    # Other names keep their free-form payloads.
    assert validate_client_payload("event", {"name": "tab.hidden", "payload": {"any": 1}})["payload"] == {"any": 1}
