"""Scores through the real server: filled in the background on completion, staff-only, recomputable on demand."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from server.sessions.scoring import SCORER_VERSION
from storage import Database, ScoreBreakdown, SessionDoc, SessionScores, SessionStatus, ensure_indexes
from tests.session_support import ADMIN, RECRUITER, Started, new_session, now_iso, transcript_event
from tests.support import tuned_server

DEADLINE_SECONDS = 30.0


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll `check` until it returns something truthy; fail after the deadline (no timing is asserted)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.2)


async def details(client: httpx.AsyncClient, started: Started, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(started.url("/details"), headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def answer(client: httpx.AsyncClient, started: Started, question_id: str, text: str) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "questionId": question_id, "text": text, "startedAt": now_iso(-60)}
    response = await client.post(
        started.url("/answers"), json={**body, "endedAt": now_iso()}, headers=started.candidate
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def completed_interview(client: httpx.AsyncClient) -> tuple[Started, list[dict[str, Any]]]:
    """Two questions: the first answered with its expected points (spoken and typed), the second not at all."""
    started = await new_session(client, question_count=2)
    questions = (await details(client, started, RECRUITER))["questions"]
    first, second = questions
    points = first["expectedAnswerPoints"]
    spoken = [transcript_event(p, startMs=i * 5000, endMs=i * 5000 + 4000) for i, p in enumerate(points[:2])]
    stored = await client.post(started.url("/events"), json={"events": spoken}, headers=started.bearer)
    assert stored.status_code == 200, stored.text
    await answer(client, started, first["id"], " ".join(points[2:]) + " For example, because it depends.")
    last = await answer(client, started, second["id"], "Sorry, I don't know.")
    assert last["session"]["status"] == "completed"
    return started, questions


async def scored_session(client: httpx.AsyncClient, started: Started) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(started.url(), headers=RECRUITER)).json()
        return body if body["finalScore"] is not None else None

    session: dict[str, Any] = await eventually(check, "the session's finalScore")
    return session


async def stored_scores(client: httpx.AsyncClient, started: Started) -> dict[str, Any]:
    """The scores once the background run stored them."""
    await scored_session(client, started)
    scores: dict[str, Any] = (await details(client, started, RECRUITER))["scores"]
    return scores


async def upload_late_line(client: httpx.AsyncClient, started: Started, question_id: str, text: str) -> None:
    """A transcript line an offline client uploads after the end, stamped just before it."""
    completed_at = datetime.fromisoformat((await scored_session(client, started))["completedAt"].replace("Z", "+00:00"))
    line = transcript_event(text, ts=(completed_at - timedelta(milliseconds=1)).isoformat(), questionId=question_id)
    uploaded = await client.post(started.url("/events"), json={"events": [line]}, headers=started.bearer)
    assert uploaded.status_code == 200 and uploaded.json()["accepted"] == 1, uploaded.text


# ----- completion fills the scores --------------------------------------------------------------


async def test_completing_a_session_fills_final_score_and_breakdown(client: httpx.AsyncClient) -> None:
    started, questions = await completed_interview(client)
    session = await scored_session(client, started)
    assert 0 < session["finalScore"] <= 100
    assert set(session["scoreBreakdown"]) == {"clarity", "correctness", "depth"}

    scores = (await details(client, started, RECRUITER))["scores"]
    assert scores["scorerVersion"] == SCORER_VERSION and scores["method"] == "embedding"
    assert scores["finalScore"] == session["finalScore"] and "human reviewer" in scores["notice"]
    first, second = scores["questions"]
    assert [first["questionId"], second["questionId"]] == [q["id"] for q in questions]
    assert first["answered"] and first["source"] == "typed+spoken"
    assert sum(p["covered"] for p in first["points"]) >= 3
    assert all(p["matchedTerms"] for p in first["points"] if p["covered"])
    assert first["correctness"]["reasons"][0]["text"].startswith("Covers")
    assert not second["answered"] and second["finalScore"] == 0
    assert first["finalScore"] > second["finalScore"]


async def test_the_candidate_sees_no_scores_and_no_expected_points(client: httpx.AsyncClient) -> None:
    started, _ = await completed_interview(client)
    await scored_session(client, started)
    for headers in (started.candidate, started.bearer):
        own = (await client.get(started.url(), headers=headers)).json()
        assert (own["finalScore"], own["scoreBreakdown"]) == (None, None)
        body = await details(client, started, headers)
        assert body["scores"] is None and body["session"]["finalScore"] is None
        assert all(q["expectedAnswerPoints"] is None for q in body["questions"])
    listed = (await client.get("/api/interview/sessions", headers=started.candidate)).json()["sessions"]
    assert [s["finalScore"] for s in listed] == [None]
    params = {"applicationId": started.application["id"]}
    for_staff = (await client.get("/api/interview/sessions", params=params, headers=RECRUITER)).json()["sessions"]
    assert [s["finalScore"] is not None and s["scoreBreakdown"] is not None for s in for_staff] == [True]


# ----- on demand ---------------------------------------------------------------------------------


def without_time(scores: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in scores.items() if key != "scoredAt"}


async def test_staff_rescore_on_demand_with_the_same_result(client: httpx.AsyncClient) -> None:
    started, _ = await completed_interview(client)
    stored = await stored_scores(client, started)
    response = await client.post(started.url("/score"), headers=ADMIN)
    assert response.status_code == 200, response.text
    again = response.json()
    assert without_time(again) == without_time(stored)
    assert (await details(client, started, RECRUITER))["scores"] == again


async def test_a_late_transcript_is_scored_on_demand(client: httpx.AsyncClient) -> None:
    started, questions = await completed_interview(client)
    before = await stored_scores(client, started)
    await upload_late_line(
        client, started, questions[1]["id"], "I would also add monitoring and alerts to the service."
    )
    response = await client.post(started.url("/score"), headers=RECRUITER)
    assert response.status_code == 200, response.text
    rescored = response.json()
    assert rescored["basedOnSeq"] > before["basedOnSeq"]
    assert rescored["questions"][1]["words"] > before["questions"][1]["words"]


async def test_only_staff_may_score_and_only_ended_sessions(client: httpx.AsyncClient) -> None:
    running = await new_session(client)
    candidate = await client.post(running.url("/score"), headers=running.candidate)
    assert (candidate.status_code, candidate.json()["code"]) == (403, "FORBIDDEN")
    session_token = await client.post(running.url("/score"), headers=running.bearer)  # not a user token at all
    assert (session_token.status_code, session_token.json()["code"]) == (401, "UNAUTHORIZED")
    not_ended = await client.post(running.url("/score"), headers=RECRUITER)
    assert (not_ended.status_code, not_ended.json()["code"]) == (400, "SESSION_NOT_ENDED")
    missing = await client.post(f"/api/interview/sessions/{uuid.uuid4()}/score", headers=RECRUITER)
    assert missing.status_code == 404


# ----- the sweep, and the stored scores ------------------------------------------------------------


async def test_the_sweep_rescores_a_session_with_events_since_it_was_scored(mongodb_url: str, tmp_path: Path) -> None:
    with tuned_server(mongodb_url, tmp_path, score_sweep_seconds="1") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as client:
            started, questions = await completed_interview(client)
            first = await stored_scores(client, started)
            await upload_late_line(client, started, questions[1]["id"], "And I would write a postmortem.")

            async def rescored() -> dict[str, Any] | None:
                scores: dict[str, Any] = (await details(client, started, RECRUITER))["scores"]
                return scores if scores["basedOnSeq"] > first["basedOnSeq"] else None

            assert (await eventually(rescored, "the sweep"))["scorerVersion"] == SCORER_VERSION


def scores_at(seq: int, final: float) -> SessionScores:
    now = datetime.now(UTC)
    breakdown = ScoreBreakdown(clarity=final, correctness=final, depth=final)
    return SessionScores(
        scorer_version=SCORER_VERSION,
        method="lexical",
        scored_at=now,
        based_on_seq=seq,
        final_score=final,
        breakdown=breakdown,
        questions=[],
        notice="test",
    )


async def test_scores_from_an_older_log_never_replace_newer_ones(mongodb_url: str) -> None:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    try:
        await ensure_indexes(database)
        sessions = database.repositories().sessions
        now = datetime.now(UTC)
        session = SessionDoc(
            session_id=str(uuid.uuid4()),
            application_id="app",
            candidate_id="cand",
            status=SessionStatus.COMPLETED,
            started_at=now,
            last_seq=7,
            completed_at=now,
            created_at=now,
            updated_at=now,
        )
        long_ago = session.model_copy(update={"session_id": str(uuid.uuid4()), "completed_at": now - timedelta(days=3)})
        assert await sessions.insert(session) and await sessions.insert(long_ago)
        since = now - timedelta(days=2)
        assert await sessions.find_unscored(SessionStatus.COMPLETED, since, 10) == [session.session_id]
        assert await sessions.set_scores(session.session_id, scores_at(7, 80.0))
        assert not await sessions.set_scores(session.session_id, scores_at(5, 10.0))
        assert await sessions.set_scores(session.session_id, scores_at(7, 81.0))  # recomputed from the same log
        stored = await sessions.get(session.session_id)
        assert stored is not None and stored.scores is not None
        assert (stored.final_score, stored.scores.based_on_seq) == (81.0, 7)
        assert stored.score_breakdown == ScoreBreakdown(clarity=81.0, correctness=81.0, depth=81.0)
        assert await sessions.find_unscored(SessionStatus.COMPLETED, since, 10) == []
    finally:
        await database.close()
