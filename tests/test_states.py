"""The session state machine, as pure functions (no store, no server)."""

from __future__ import annotations

import itertools

import pytest

from server.http.errors import status_of
from server.sessions import DomainError, ErrorCode
from server.sessions.states import (
    ALLOWED,
    TRANSITION_EVENT,
    check_transition,
    sources_for,
    transition_error,
)
from storage.models import ACTIVE_STATUSES, TERMINAL_STATUSES, SessionStatus

S = SessionStatus

# The issue's table, written out independently of the module under test.
LEGAL = {
    (S.IN_PROGRESS, S.PAUSED),
    (S.PAUSED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.PAUSED, S.COMPLETED),
    (S.IN_PROGRESS, S.ABANDONED),
    (S.PAUSED, S.ABANDONED),
    (S.IN_PROGRESS, S.ERROR),
    (S.PAUSED, S.ERROR),
}
ALL_PAIRS = list(itertools.product(SessionStatus, SessionStatus))


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_moves_pass(current: SessionStatus, target: SessionStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_every_other_move_is_refused(current: SessionStatus, target: SessionStatus) -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(current, target)
    assert status_of(caught.value) == 400


def test_allowed_table_matches_the_issue() -> None:
    assert {(c, t) for c, targets in ALLOWED.items() for t in targets} == LEGAL


@pytest.mark.parametrize("terminal", TERMINAL_STATUSES)
def test_terminal_statuses_have_no_way_out(terminal: SessionStatus) -> None:
    assert ALLOWED[terminal] == frozenset()


@pytest.mark.parametrize("target", list(SessionStatus))
def test_completed_session_answers_already_completed(target: SessionStatus) -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(S.COMPLETED, target)
    assert caught.value.code == ErrorCode.SESSION_ALREADY_COMPLETED


def test_illegal_move_names_from_and_to() -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(S.PAUSED, S.PAUSED)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    assert caught.value.details == {"from": "paused", "to": "paused"}


def test_abandoned_session_cannot_be_completed() -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(S.ABANDONED, S.COMPLETED)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    assert caught.value.details == {"from": "abandoned", "to": "completed"}


def test_unmet_precondition_echoes_the_expected_status() -> None:
    error = transition_error(S.PAUSED, S.COMPLETED, expected=S.IN_PROGRESS)
    assert error.code == ErrorCode.INVALID_TRANSITION
    assert error.details == {"from": "paused", "to": "completed", "expected": "in_progress"}


def test_unmet_precondition_on_a_completed_session_is_already_completed() -> None:
    error = transition_error(S.COMPLETED, S.PAUSED, expected=S.IN_PROGRESS)
    assert error.code == ErrorCode.SESSION_ALREADY_COMPLETED


def test_every_reachable_status_appends_its_event() -> None:
    reachable = {t for targets in ALLOWED.values() for t in targets}
    assert set(TRANSITION_EVENT) == reachable
    assert TRANSITION_EVENT[S.PAUSED] == "session.paused"
    assert TRANSITION_EVENT[S.IN_PROGRESS] == "session.resumed"
    assert TRANSITION_EVENT[S.COMPLETED] == "session.completed"
    assert TRANSITION_EVENT[S.ABANDONED] == "session.abandoned"


def test_terminal_statuses_are_reached_from_active_ones_only() -> None:
    for terminal in TERMINAL_STATUSES:
        assert sorted(sources_for(terminal)) == sorted(ACTIVE_STATUSES)
