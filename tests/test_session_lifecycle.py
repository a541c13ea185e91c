"""Pause, resume, complete, answers, token refresh and access rules, over real HTTP and the real store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from server.sessions import SessionService
from storage import Database
from tests.session_support import (
    ADMIN,
    RECRUITER,
    Started,
    all_events,
    new_session,
    now_iso,
    transcript_event,
)
from tests.support import ServerProcess, auth, start_session, store_of, tuned_server, unique, user_token

TRANSITION_EVENTS = {"session.paused", "session.resumed", "session.completed", "session.abandoned", "session.error"}


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def answer(
    client: httpx.AsyncClient, started: Started, question_id: str, answer_id: str | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "id": answer_id or str(uuid.uuid4()),
        "questionId": question_id,
        "text": "An answer",
        "startedAt": now_iso(-30),
        "endedAt": now_iso(),
        **extra,
    }
    return await client.post(started.url("/answers"), json=body, headers=started.candidate)


# ----- transitions --------------------------------------------------------------


async def test_pause_and_resume(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    paused = await client.post(started.url("/pause"), headers=started.candidate)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["currentQuestion"] == started.question  # still the question to come back to
    resumed = await client.post(started.url("/resume"), headers=started.bearer)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "in_progress"
    assert resumed.json()["currentQuestion"]["id"] == started.question["id"]
    types = [e["type"] for e in await all_events(client, started)]
    assert types == ["session.started", "question", "session.paused", "session.resumed"]


async def test_complete_sets_end_and_closes_the_application(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.post(started.url("/complete"), headers=started.candidate)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert parse(body["completedAt"]) >= parse(body["startedAt"])
    assert body["duration"] >= 0
    application = await client.get(f"/api/applications/{started.application['id']}", headers=started.candidate)
    assert application.json()["status"] == "completed"
    again = await start_session(client, started.application)
    assert again.status_code == 400 and again.json()["code"] == "ALREADY_COMPLETED"
    completed = [e for e in await all_events(client, started) if e["type"] == "session.completed"]
    assert len(completed) == 1
    assert completed[0]["payload"]["from"] == "in_progress"
    assert completed[0]["payload"]["summary"]["questionsTotal"] == body["questionCount"]


async def test_duration_excludes_paused_time(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    assert (await client.post(started.url("/pause"), headers=started.candidate)).status_code == 200
    paused_for = 0.6
    await asyncio.sleep(paused_for)  # the pause must be long enough to show in the arithmetic below
    assert (await client.post(started.url("/resume"), headers=started.candidate)).status_code == 200
    body = (await client.post(started.url("/complete"), headers=started.candidate)).json()
    wall = (parse(body["completedAt"]) - parse(body["startedAt"])).total_seconds()
    # Times are stored with millisecond precision, hence the 2 ms allowance.
    assert wall - body["duration"] >= paused_for - 0.002
    assert body["duration"] > 0


@pytest.mark.parametrize("action", ["pause", "resume", "complete"])
async def test_completed_session_refuses_every_transition(client: httpx.AsyncClient, action: str) -> None:
    started = await new_session(client)
    assert (await client.post(started.url("/complete"), headers=started.candidate)).status_code == 200
    response = await client.post(started.url(f"/{action}"), headers=started.candidate)
    assert response.status_code == 400
    assert response.json()["code"] == "SESSION_ALREADY_COMPLETED"
    assert set(response.json()) == {"error", "code", "details"}


async def test_resume_of_running_session_is_invalid(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.post(started.url("/resume"), headers=started.candidate)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_TRANSITION"
    assert response.json()["details"] == {"from": "in_progress", "to": "in_progress"}


async def test_pause_of_paused_session_is_invalid(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    await client.post(started.url("/pause"), headers=started.candidate)
    response = await client.post(started.url("/pause"), headers=started.candidate)
    assert response.status_code == 400
    assert response.json()["details"] == {"from": "paused", "to": "paused"}


async def test_expected_status_is_a_precondition(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    await client.post(started.url("/pause"), headers=started.candidate)
    stale = await client.post(
        started.url("/complete"), json={"expectedStatus": "in_progress"}, headers=started.candidate
    )
    assert stale.status_code == 400
    assert stale.json()["code"] == "INVALID_TRANSITION"
    assert stale.json()["details"] == {"from": "paused", "to": "completed", "expected": "in_progress"}
    fresh = await client.post(started.url("/complete"), json={"expectedStatus": "paused"}, headers=started.candidate)
    assert fresh.status_code == 200 and fresh.json()["status"] == "completed"


async def test_transition_body_is_validated(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for body in ({"expectedStatus": "sleeping"}, {"unexpected": 1}):
        response = await client.post(started.url("/pause"), json=body, headers=started.candidate)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", body
    broken = await client.post(started.url("/pause"), content=b"{", headers=started.candidate)
    assert broken.status_code == 400 and broken.json()["code"] == "INVALID_JSON"
    assert (await client.get(started.url(), headers=started.candidate)).json()["status"] == "in_progress"


async def test_concurrent_complete_and_pause_exactly_one_wins(client: httpx.AsyncClient) -> None:
    sessions = [await new_session(client) for _ in range(4)]
    precondition = {"expectedStatus": "in_progress"}

    async def race(started: Started) -> tuple[httpx.Response, httpx.Response]:
        complete, pause = await asyncio.gather(
            client.post(started.url("/complete"), json=precondition, headers=started.candidate),
            client.post(started.url("/pause"), json=precondition, headers=started.bearer),
        )
        return complete, pause

    results = await asyncio.gather(*(race(s) for s in sessions))
    for started, (complete, pause) in zip(sessions, results, strict=True):
        assert sorted([complete.status_code, pause.status_code]) == [200, 400]
        winner, loser = (complete, pause) if complete.status_code == 200 else (pause, complete)
        expected_code = "SESSION_ALREADY_COMPLETED" if winner is complete else "INVALID_TRANSITION"
        assert loser.json()["code"] == expected_code
        final = (await client.get(started.url(), headers=started.candidate)).json()
        assert final["status"] == winner.json()["status"]
        transitions = [e for e in await all_events(client, started) if e["type"] in TRANSITION_EVENTS]
        assert len(transitions) == 1


async def test_concurrent_transitions_never_both_leave_the_same_status(client: httpx.AsyncClient) -> None:
    sessions = [await new_session(client) for _ in range(4)]
    for started in sessions:
        responses = await asyncio.gather(
            client.post(started.url("/complete"), headers=started.candidate),
            client.post(started.url("/pause"), headers=started.candidate),
            client.post(started.url("/pause"), headers=started.bearer),
        )
        assert all(r.status_code in (200, 400) for r in responses)
        transitions = [e for e in await all_events(client, started) if e["type"] in TRANSITION_EVENTS]
        assert len(transitions) == sum(r.status_code == 200 for r in responses)
        assert sum(e["payload"]["from"] == "in_progress" for e in transitions) == 1
        final = (await client.get(started.url(), headers=started.candidate)).json()
        assert final["status"] == transitions[-1]["payload"]["status"]


# ----- answers -------------------------------------------------------------------


async def test_answer_advances_to_the_next_question(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    response = await answer(client, started, started.question["id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert body["nextQuestion"]["number"] == 2
    assert body["session"]["currentQuestionNumber"] == 2
    types = [e["type"] for e in await all_events(client, started)]
    assert types[-3:] == ["answer.submit", "answer.recorded", "question"]


async def test_answer_is_idempotent_by_id(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    answer_id = str(uuid.uuid4())
    first = await answer(client, started, started.question["id"], answer_id)
    again = await answer(client, started, started.question["id"], answer_id.upper())
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["seq"] == first.json()["seq"]
    assert again.json()["session"]["currentQuestionNumber"] == 2
    submitted = [e for e in await all_events(client, started) if e["type"] == "answer.submit"]
    assert len(submitted) == 1


async def test_last_answer_completes_and_its_retry_is_still_a_duplicate(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=2)
    first = await answer(client, started, started.question["id"])
    last_id = str(uuid.uuid4())
    last = await answer(client, started, first.json()["nextQuestion"]["id"], last_id)
    assert last.status_code == 201
    assert last.json()["nextQuestion"] is None
    assert last.json()["session"]["status"] == "completed"
    retry = await answer(client, started, first.json()["nextQuestion"]["id"], last_id)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    completed = [e for e in await all_events(client, started) if e["type"] == "session.completed"]
    assert completed[0]["payload"]["reason"] == "all_questions_answered"
    assert completed[0]["payload"]["summary"]["questionsAnswered"] == 2


async def test_answer_to_another_question_is_a_mismatch(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    response = await answer(client, started, "q-not-asked")
    assert response.status_code == 400
    assert response.json()["code"] == "QUESTION_MISMATCH"
    assert response.json()["details"]["currentQuestionId"] == started.question["id"]


@pytest.mark.parametrize(
    ("action", "code", "details"),
    [("pause", "SESSION_NOT_ACTIVE", {"status": "paused"}), ("complete", "SESSION_ALREADY_COMPLETED", None)],
)
async def test_answer_needs_a_running_session(
    client: httpx.AsyncClient, action: str, code: str, details: dict[str, str] | None
) -> None:
    started = await new_session(client)
    await client.post(started.url(f"/{action}"), headers=started.candidate)
    response = await answer(client, started, started.question["id"])
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["details"] == details


async def test_answer_body_is_validated(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    qid = started.question["id"]
    bad = [
        {"id": "not-a-uuid", "questionId": qid, "startedAt": now_iso(-5), "endedAt": now_iso()},
        {"id": str(uuid.uuid4()), "questionId": qid, "startedAt": now_iso(), "endedAt": now_iso(-5)},
        {"id": str(uuid.uuid4()), "questionId": qid, "startedAt": "2024-01-01T10:00:00", "endedAt": now_iso()},
        {"id": str(uuid.uuid4()), "questionId": {"$ne": 1}, "startedAt": now_iso(-5), "endedAt": now_iso()},
        {
            "id": str(uuid.uuid4()),
            "questionId": qid,
            "text": "x" * 20_001,
            "startedAt": now_iso(-5),
            "endedAt": now_iso(),
        },
    ]
    for body in bad:
        response = await client.post(started.url("/answers"), json=body, headers=started.candidate)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", body
    missing = await client.post(started.url("/answers"), json={"questionId": qid}, headers=started.candidate)
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELD"
    assert (await client.get(started.url(), headers=started.candidate)).json()["currentQuestionNumber"] == 1


# ----- a completed session is read-only and keeps everything ----------------------


async def test_completed_session_preserves_every_event_and_answer(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    uploaded = [transcript_event(f"line {i}", questionId=started.question["id"]) for i in range(5)]
    batch = await client.post(started.url("/events"), json={"events": uploaded}, headers=started.bearer)
    assert batch.json()["accepted"] == 5
    answered = await answer(client, started, started.question["id"])
    assert answered.status_code == 201
    before = await all_events(client, started)
    assert (await client.post(started.url("/complete"), headers=started.candidate)).status_code == 200
    after = await all_events(client, started)
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["session.completed"]
    details = (await client.get(started.url("/details"), headers=started.candidate)).json()
    first = details["questions"][0]
    assert [a["answerId"] for a in first["answers"]] == [answered.json()["answerId"]]
    assert [t["text"] for t in first["transcripts"]] == [f"line {i}" for i in range(5)]
    late = await client.post(
        started.url("/events"), json={"events": [transcript_event("too late", now_iso(60))]}, headers=started.bearer
    )
    assert late.status_code == 400 and late.json()["code"] == "SESSION_ALREADY_COMPLETED"
    assert await all_events(client, started) == after


# ----- access: 404 for anyone else ----------------------------------------------------


async def test_strangers_get_the_same_404_as_for_a_missing_session(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    stranger = auth(user_token(unique("cand")))
    missing_url = f"/api/interview/sessions/{uuid.uuid4()}"
    for suffix, method in [("", "GET"), ("/details", "GET"), ("/events", "GET"), ("/pause", "POST")]:
        foreign = await client.request(method, started.url(suffix), headers=stranger)
        missing = await client.request(method, missing_url + suffix, headers=started.candidate)
        assert foreign.status_code == missing.status_code == 404, suffix
        assert foreign.json() == missing.json()
        assert foreign.json()["code"] == "SESSION_NOT_FOUND"


async def test_session_token_opens_only_its_own_session(client: httpx.AsyncClient) -> None:
    mine = await new_session(client)
    other = await new_session(client)
    response = await client.get(other.url(), headers=mine.bearer)
    assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND"
    assert (await client.post(other.url("/pause"), headers=mine.bearer)).status_code == 404
    assert (await client.get(mine.url(), headers=mine.bearer)).status_code == 200


async def test_malformed_session_id_is_not_found(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for session_id in ("nope", "x" * 300, "%24ne"):
        response = await client.get(f"/api/interview/sessions/{session_id}", headers=started.candidate)
        assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND"


async def test_recruiter_reads_but_cannot_act(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    read = await client.get(started.url(), headers=RECRUITER)
    assert read.status_code == 200 and read.json()["sessionId"] == started.session_id
    for action in ("/pause", "/complete", "/token"):
        response = await client.post(started.url(action), headers=RECRUITER)
        assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND", action
    uploaded = await client.post(started.url("/events"), json={"events": [transcript_event("hi")]}, headers=RECRUITER)
    assert uploaded.status_code == 404
    assert (await client.get(started.url(), headers=started.candidate)).json()["status"] == "in_progress"


async def test_admin_may_act(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.post(started.url("/pause"), headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "paused"


async def test_requests_without_valid_token_are_unauthorized(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for headers in ({}, auth("garbage"), auth(user_token(started.application["candidateId"], ttl=-120))):
        response = await client.post(started.url("/pause"), headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


# ----- token refresh -------------------------------------------------------------------


async def test_token_refresh_gives_a_working_session_token(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for headers in (started.candidate, started.bearer):
        response = await client.post(started.url("/token"), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["sessionId"] == started.session_id
        assert body["token"] != started.token
        assert response.headers["cache-control"] == "no-store"
        fresh = await client.get(started.url(), headers=auth(body["token"]))
        assert fresh.status_code == 200


async def test_token_refresh_refused_for_a_completed_session(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    await client.post(started.url("/complete"), headers=started.candidate)
    response = await client.post(started.url("/token"), headers=started.candidate)
    assert response.status_code == 400 and response.json()["code"] == "SESSION_ALREADY_COMPLETED"


# ----- server-side terminal states: abandoned and error -------------------------------


@pytest.fixture(scope="module")
def quick_abandon_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that abandons idle sessions after 5 s, sweeping every second."""
    data_dir = tmp_path_factory.mktemp("abandon")
    with tuned_server(mongodb_url, data_dir, session_abandon_after_seconds="5", abandon_sweep_seconds="1") as process:
        yield process


async def test_idle_session_is_abandoned_by_the_server(quick_abandon_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=quick_abandon_server.base_url, timeout=15) as http:
        started = await new_session(http)
        status = "in_progress"
        for _ in range(300):  # the sweeper runs every second; allow it plenty of rounds
            status = (await http.get(started.url(), headers=started.candidate)).json()["status"]
            if status != "in_progress":
                break
            await asyncio.sleep(0.2)
        assert status == "abandoned"
        events = await all_events(http, started)
        assert events[-1]["type"] == "session.abandoned"
        assert events[-1]["payload"]["reason"] == "inactive"
        response = await http.post(started.url("/complete"), headers=started.candidate)
        assert response.status_code == 400
        assert response.json()["details"] == {"from": "abandoned", "to": "completed"}
        refresh = await http.post(started.url("/token"), headers=started.candidate)
        assert refresh.status_code == 400 and refresh.json()["code"] == "SESSION_NOT_ACTIVE"


@pytest.fixture
async def service(server: ServerProcess) -> AsyncIterator[SessionService]:
    """The session core in this process, on the server's own database (as a second server would be)."""
    database = Database(server.mongodb_url, server.env["MONGODB_DB"])
    try:
        yield SessionService(database.repositories())
    finally:
        await database.close()


async def test_server_failure_moves_session_to_error(
    client: httpx.AsyncClient, service: SessionService, server: ServerProcess
) -> None:
    started = await new_session(client)
    await service.fail(started.session_id, reason="transcriber crashed")
    body = (await client.get(started.url(), headers=started.candidate)).json()
    assert body["status"] == "error" and body["completedAt"] is not None
    response = await client.post(started.url("/resume"), headers=started.candidate)
    assert response.status_code == 400 and response.json()["details"] == {"from": "error", "to": "in_progress"}
    late = await client.post(
        started.url("/events"), json={"events": [transcript_event("after", now_iso(60))]}, headers=started.bearer
    )
    assert late.status_code == 400 and late.json()["code"] == "SESSION_NOT_ACTIVE"
    async with store_of(server) as db:
        stored = await db.sessionEvents.find_one({"sessionId": started.session_id, "type": "session.error"})
    assert stored is not None and stored["payload"]["reason"] == "transcriber crashed"
