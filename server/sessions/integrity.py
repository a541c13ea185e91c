"""Integrity signals: facts about how an interview was taken, counted from its stored events. Pure.

They are facts, not verdicts: a hidden tab may be a candidate looking something up or a
child at the door; a paste may be their own notes. A reviewer reads them next to the
answers (docs/review.md). Nothing here decides anything or changes a score.

What is counted, per question and per session:

- **tab hidden**: `tab.hidden` ... `tab.visible` client events (the page's `visibilitychange`);
- **focus lost**: `focus.lost` ... `focus.back` (the window's `blur` / `focus`; switching tabs
  loses focus too, so a hidden tab usually also counts as a focus loss);
- **offline**: `network.offline` ... `network.online` (the browser's own network events);
- **paste**: `answer.paste` events and the characters they pasted (`payload.chars`);
- **fast answers**: an `answer.submit` stamped less than the question's reading time after the
  server's first `question` event for it. Reading time = the question's words at
  READING_WORDS_PER_MINUTE, at least MIN_READING_SECONDS.

A period still open at the end (no closing event) ends at the session's end (`completedAt`,
else the last event read). A period's time is split over the questions being asked while it
lasted (a question is "being asked" from its `question` event to the next one; before the
first, the first); its count goes to the question asked when it began, or the one its
payload names. Times are the events' `ts`: the client's clock for client events, kept by the
server within the bounds of `client_event_time`, the server's for `question` events.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from server.sessions.event_types import EventType
from storage import CamelModel, EventDoc, SessionDoc

READING_WORDS_PER_MINUTE = 240  # an adult's average silent reading speed (Brysbaert, 2019)
MIN_READING_SECONDS = 2.0
# (opening name, closing name) of each kind of period.
PERIODS = {
    "tab_hidden": ("tab.hidden", "tab.visible"),
    "focus_lost": ("focus.lost", "focus.back"),
    "offline": ("network.offline", "network.online"),
}
PASTE_EVENT = "answer.paste"
INTEGRITY_EVENT_NAMES = frozenset({PASTE_EVENT, *(name for pair in PERIODS.values() for name in pair)})


class FastAnswer(CamelModel):
    answer_id: str | None
    question_id: str
    seconds_after_shown: float = Field(description="From the question's first `question` event to the submit")
    reading_seconds: float = Field(description="The time the question takes to read (see docs/review.md)")


class IntegritySignals(CamelModel):
    """Facts about how one question (or the whole session) was taken; they are not verdicts."""

    tab_hidden_count: int = 0
    tab_hidden_seconds: float = 0.0
    focus_lost_count: int = 0
    focus_lost_seconds: float = 0.0
    offline_count: int = 0
    offline_seconds: float = 0.0
    paste_count: int = 0
    pasted_chars: int = 0
    fast_answers: list[FastAnswer] = Field(default_factory=list)


class SessionIntegrity(IntegritySignals):
    """The session's totals, with the reading speed the fast answers were judged at."""

    reading_words_per_minute: int = READING_WORDS_PER_MINUTE
    min_reading_seconds: float = MIN_READING_SECONDS


@dataclass(frozen=True)
class _Asking:
    """Which question was being asked when: `times` ascending, `ids` alongside."""

    times: list[datetime]
    ids: list[str]
    end: datetime

    def at(self, ts: datetime) -> str | None:
        if not self.ids:
            return None
        return self.ids[max(0, bisect.bisect_right(self.times, ts) - 1)]

    def split(self, start: datetime, end: datetime) -> list[tuple[str, float]]:
        """The seconds of [start, end) spent under each question."""
        if not self.ids:
            return []
        shares: list[tuple[str, float]] = []
        first = max(0, bisect.bisect_right(self.times, start) - 1)
        for index in range(first, len(self.ids)):
            window_start = start if index == first else self.times[index]
            window_end = self.times[index + 1] if index + 1 < len(self.ids) else None
            stop = end if window_end is None else min(end, window_end)
            if stop > window_start:
                shares.append((self.ids[index], (stop - window_start).total_seconds()))
            if window_end is None or window_end >= end:
                break
        return shares


def reading_seconds(text: str) -> float:
    """How long `text` takes to read at READING_WORDS_PER_MINUTE (at least MIN_READING_SECONDS)."""
    return max(MIN_READING_SECONDS, len(text.split()) * 60.0 / READING_WORDS_PER_MINUTE)


def _name(event: EventDoc) -> str | None:
    name = event.payload.get("name") if event.type == EventType.EVENT else None
    return name if isinstance(name, str) else None


def _inner(event: EventDoc) -> dict[str, Any]:
    inner = event.payload.get("payload")
    return inner if isinstance(inner, dict) else {}


def _periods(events: list[EventDoc], opening: str, closing: str, end: datetime) -> list[tuple[EventDoc, datetime]]:
    """(opening event, end) of each period; a second opening while open and a stray closing are ignored."""
    periods: list[tuple[EventDoc, datetime]] = []
    started: EventDoc | None = None
    for event in sorted((e for e in events if _name(e) in (opening, closing)), key=lambda e: (e.ts, e.seq)):
        if _name(event) == opening and started is None:
            started = event
        elif _name(event) == closing and started is not None:
            periods.append((started, max(event.ts, started.ts)))
            started = None
    if started is not None:
        periods.append((started, max(end, started.ts)))
    return periods


class _Tally:
    def __init__(self, question_ids: list[str]) -> None:
        self.by_question = {question_id: IntegritySignals() for question_id in question_ids}
        self.total = SessionIntegrity()

    def count(self, question_id: str | None, field: str, amount: float, *, in_total: bool = True) -> None:
        """Add `amount` to the question's `field` (if it is one of the session's) and to the total."""
        for signals in (self.total if in_total else None, self.by_question.get(question_id or "")):
            if signals is not None:
                setattr(signals, field, getattr(signals, field) + amount)


def _question_named(event: EventDoc, known: set[str]) -> str | None:
    named = _inner(event).get("questionId") or event.payload.get("questionId")
    return named if isinstance(named, str) and named in known else None


def integrity_signals(
    session: SessionDoc, events: list[EventDoc]
) -> tuple[dict[str, IntegritySignals], SessionIntegrity]:
    """The signals of each question of `session` (by id) and of the whole session, from `events`."""
    asked = sorted((e.ts, str(e.payload.get("id", ""))) for e in events if e.type == EventType.QUESTION)
    last = max((e.ts for e in events), default=session.started_at)
    asking = _Asking([ts for ts, _ in asked], [qid for _, qid in asked], session.completed_at or last)
    known = {q.id for q in session.questions}
    tally = _Tally([q.id for q in session.questions])
    for kind, (opening, closing) in PERIODS.items():
        for started, ended in _periods(events, opening, closing, asking.end):
            tally.count(_question_named(started, known) or asking.at(started.ts), f"{kind}_count", 1)
            tally.count(None, f"{kind}_seconds", (ended - started.ts).total_seconds())
            for share_id, share in asking.split(started.ts, ended):
                tally.count(share_id, f"{kind}_seconds", share, in_total=False)
    for event in events:
        if _name(event) == PASTE_EVENT:
            pasted_in = _question_named(event, known) or asking.at(event.ts)
            chars = _inner(event).get("chars")
            tally.count(pasted_in, "paste_count", 1)
            if isinstance(chars, int) and not isinstance(chars, bool) and chars > 0:
                tally.count(pasted_in, "pasted_chars", chars)
    first_shown: dict[str, datetime] = {}
    for ts, asked_id in asked:
        first_shown.setdefault(asked_id, ts)
    for fast in _fast_answers(session, events, first_shown):
        tally.total.fast_answers.append(fast)
        tally.by_question[fast.question_id].fast_answers.append(fast)
    for signals in (tally.total, *tally.by_question.values()):
        for kind in PERIODS:
            setattr(signals, f"{kind}_seconds", round(getattr(signals, f"{kind}_seconds"), 3))
    return tally.by_question, tally.total


def _fast_answers(session: SessionDoc, events: list[EventDoc], first_shown: dict[str, datetime]) -> list[FastAnswer]:
    """Answers submitted before their question could be read (`first_shown`: each question's first `question`)."""
    texts = {q.id: q.text for q in session.questions}
    found: list[FastAnswer] = []
    for event in events:
        question_id = event.payload.get("questionId")
        if event.type != EventType.ANSWER_SUBMIT or not isinstance(question_id, str) or question_id not in texts:
            continue
        shown = first_shown.get(question_id)
        if shown is None:
            continue  # never asked by the server (an offline interview): nothing to measure from
        elapsed = (event.ts - shown).total_seconds()
        needed = reading_seconds(texts[question_id])
        if elapsed < needed:
            found.append(
                FastAnswer(
                    answer_id=event.client_event_id,
                    question_id=question_id,
                    seconds_after_shown=round(max(0.0, elapsed), 3),
                    reading_seconds=round(needed, 3),
                )
            )
    return found
