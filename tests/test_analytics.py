"""GET /api/interview/analytics: the $facet aggregation run by the real store, over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from storage.models import Difficulty, QuestionCategory, QuestionSnapshot, SessionDoc, SessionStatus
from tests.session_support import ADMIN, RECRUITER, new_session
from tests.support import ServerProcess, auth, store_of, user_token


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def past_session(
    started: str,
    status: SessionStatus,
    categories: list[str],
    asked: int,
    duration: float | None = None,
    score: float | None = None,
) -> dict[str, Any]:
    """A session document as the server stores it, started in the past (before this API existed)."""
    started_at = at(started)
    questions = [
        QuestionSnapshot(
            id=f"q-{i}",
            number=i + 1,
            text="A question",
            category=QuestionCategory(category),
            difficulty=Difficulty.MID,
            time_limit_seconds=60,
        )
        for i, category in enumerate(categories)
    ]
    ended = status in (SessionStatus.COMPLETED, SessionStatus.ABANDONED)
    return SessionDoc(
        session_id=str(uuid.uuid4()),
        application_id=f"app_hist_{uuid.uuid4().hex[:8]}",
        candidate_id=f"cand_hist_{uuid.uuid4().hex[:8]}",
        status=status,
        started_at=started_at,
        completed_at=started_at + timedelta(seconds=duration or 0) if ended else None,
        duration=duration,
        final_score=score,
        questions=questions,
        current_question_number=asked,
        asked_question_number=asked,
        created_at=started_at,
        updated_at=started_at,
    ).to_document()


HISTORY = [
    past_session("2020-03-01T09:00:00", SessionStatus.COMPLETED, ["technical", "behavioral", "technical"], 3, 100.0),
    past_session("2020-03-01T23:59:59.500", SessionStatus.COMPLETED, ["technical", "situational"], 2, 200.0),
    past_session("2020-03-02T10:00:00", SessionStatus.ABANDONED, ["behavioral", "technical", "cultural"], 1, 50.0),
    past_session("2020-03-03T12:00:00", SessionStatus.IN_PROGRESS, ["cultural"], 1),
    # Just outside the window on either side.
    past_session("2020-02-29T23:59:59.999", SessionStatus.COMPLETED, ["technical"], 1, 10.0),
    past_session("2020-03-04T00:00:00", SessionStatus.COMPLETED, ["technical"], 1, 10.0),
]


@pytest.fixture(scope="module")
async def history(server: ServerProcess) -> None:
    async with store_of(server) as db:
        await db.interviewSessions.insert_many([dict(d) for d in HISTORY])


async def report(client: httpx.AsyncClient, headers: dict[str, str] = RECRUITER, **params: str) -> dict[str, Any]:
    response = await client.get("/api/interview/analytics", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_figures_for_a_past_window(client: httpx.AsyncClient, history: None) -> None:
    body = await report(client, **{"from": "2020-03-01", "to": "2020-03-03"})
    assert body["from"] == "2020-03-01T00:00:00Z" and body["to"] == "2020-03-04T00:00:00Z"
    assert body["totalSessions"] == 4
    assert body["completedSessions"] == 2
    assert body["completionRate"] == 0.5
    assert body["averageDurationSeconds"] == 150.0
    assert body["sessionsByStatus"] == {"in_progress": 1, "paused": 0, "completed": 2, "abandoned": 1, "error": 0}
    assert body["questionCategories"] == [
        {"category": "technical", "count": 3},
        {"category": "behavioral", "count": 2},
        {"category": "cultural", "count": 1},
        {"category": "situational", "count": 1},
    ]
    assert body["daily"] == [
        {"date": "2020-03-01", "total": 2, "completed": 2, "averageDurationSeconds": 150.0},
        {"date": "2020-03-02", "total": 1, "completed": 0, "averageDurationSeconds": None},
        {"date": "2020-03-03", "total": 1, "completed": 0, "averageDurationSeconds": None},
    ]


SCORED = [
    past_session("2021-05-03T09:00:00", SessionStatus.COMPLETED, ["technical"], 1, 60.0, score=score)
    for score in (0.0, 9.99, 10.0, 55.5, 100.0)
]


async def test_score_distribution_lists_every_bucket(client: httpx.AsyncClient, server: ServerProcess) -> None:
    async with store_of(server) as db:
        await db.interviewSessions.insert_many([dict(d) for d in SCORED])
    body = await report(client, **{"from": "2021-05-01", "to": "2021-05-31"})
    assert (body["scoredSessions"], body["averageScore"]) == (5, 35.098)
    counts = {bucket["from"]: bucket["count"] for bucket in body["scoreDistribution"]}
    assert [(b["from"], b["to"]) for b in body["scoreDistribution"]] == [(n, n + 10) for n in range(0, 100, 10)]
    assert counts == {0: 2, 10: 1, 20: 0, 30: 0, 40: 0, 50: 1, 60: 0, 70: 0, 80: 0, 90: 1}  # 100 is in the last
    empty = await report(client, **{"from": "2019-01-01", "to": "2019-01-31"})
    assert empty["scoredSessions"] == 0 and empty["averageScore"] is None
    assert {b["count"] for b in empty["scoreDistribution"]} == {0}


async def test_datetime_bounds_are_from_inclusive_to_exclusive(client: httpx.AsyncClient, history: None) -> None:
    body = await report(client, **{"from": "2020-03-01T09:00:00Z", "to": "2020-03-02T10:00:00Z"})
    assert body["totalSessions"] == 2
    assert [d["date"] for d in body["daily"]] == ["2020-03-01"]


async def test_empty_window_has_zero_figures(client: httpx.AsyncClient, history: None) -> None:
    body = await report(client, **{"from": "2019-01-01", "to": "2019-01-31"})
    assert body["totalSessions"] == 0 and body["completionRate"] == 0
    assert body["averageDurationSeconds"] is None
    assert body["questionCategories"] == [] and body["daily"] == []
    assert set(body["sessionsByStatus"].values()) == {0}


async def test_live_sessions_are_counted(client: httpx.AsyncClient) -> None:
    before = await report(client)
    first = await new_session(client, question_count=2)
    await new_session(client, question_count=2)
    await client.post(first.url("/complete"), headers=first.candidate)
    after = await report(client, headers=ADMIN)
    assert after["totalSessions"] == before["totalSessions"] + 2
    assert after["completedSessions"] == before["completedSessions"] + 1
    assert after["sessionsByStatus"]["in_progress"] == before["sessionsByStatus"]["in_progress"] + 1
    asked = sum(c["count"] for c in after["questionCategories"]) - sum(c["count"] for c in before["questionCategories"])
    assert asked == 2  # the first question of each session
    started_on = (await client.get(first.url(), headers=first.candidate)).json()["startedAt"][:10]
    assert after["daily"][-1]["date"] == started_on


async def test_default_window_is_the_last_thirty_days(client: httpx.AsyncClient) -> None:
    body = await report(client)
    start = datetime.fromisoformat(body["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["to"].replace("Z", "+00:00"))
    assert end - start == timedelta(days=30)


async def test_candidates_are_forbidden(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/interview/analytics", headers=auth(user_token("cand_someone")))
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"


async def test_session_tokens_and_anonymous_callers_are_unauthorized(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for headers in (started.bearer, {}):
        response = await client.get("/api/interview/analytics", headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


async def test_window_is_validated(client: httpx.AsyncClient) -> None:
    for params in (
        {"from": "2020-03-05", "to": "2020-03-01"},
        {"from": "2020-01-01", "to": "2021-06-01"},
        {"from": "last week"},
        {"from": "2020-03-01T10:00:00"},  # no time zone
        {"until": "2020-03-01"},
    ):
        response = await client.get("/api/interview/analytics", params=params, headers=RECRUITER)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", params
