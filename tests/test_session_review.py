"""Reading sessions: the list with filters and cursors, one session, and its review details."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from tests.session_support import (
    RECRUITER,
    Started,
    client_event,
    new_session,
    now_iso,
    transcript_event,
)
from tests.support import auth, unique, user_token

PUBLIC_FIELDS = {
    "sessionId",
    "applicationId",
    "candidateId",
    "status",
    "startedAt",
    "completedAt",
    "duration",
    "finalScore",
    "scoreBreakdown",
    "metadata",
    "currentQuestionNumber",
    "questionCount",
    "currentQuestion",
    "lastSeq",
    "createdAt",
    "updatedAt",
}


async def list_sessions(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get("/api/interview/sessions", params=params, headers=headers)


async def candidate_with_sessions(client: httpx.AsyncClient, count: int) -> tuple[str, list[Started]]:
    """One candidate with `count` applications, each with a started session (oldest first)."""
    candidate_id = unique("cand")
    return candidate_id, [await new_session(client, candidate_id, question_count=2) for _ in range(count)]


# ----- one session ---------------------------------------------------------------------


async def test_session_json_has_exactly_the_public_fields(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.get(started.url(), headers=started.candidate)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["sessionId"] == started.session_id
    assert body["applicationId"] == started.application["id"]
    assert body["candidateId"] == started.application["candidateId"]
    assert (body["status"], body["lastSeq"], body["currentQuestionNumber"]) == ("in_progress", 2, 1)
    assert body["currentQuestion"] == started.question
    assert body["metadata"]["ipAddress"] == "127.0.0.1"


async def test_session_token_reads_its_session(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.get(started.url(), headers=started.bearer)
    assert response.status_code == 200 and response.json()["sessionId"] == started.session_id


# ----- the list ---------------------------------------------------------------------------


async def test_list_is_newest_first_and_only_the_callers(client: httpx.AsyncClient) -> None:
    candidate_id, sessions = await candidate_with_sessions(client, 3)
    await new_session(client)  # someone else's
    response = await list_sessions(client, auth(user_token(candidate_id)))
    assert response.status_code == 200
    body = response.json()
    assert [s["sessionId"] for s in body["sessions"]] == [s.session_id for s in reversed(sessions)]
    assert body["nextCursor"] is None
    assert all(set(s) == PUBLIC_FIELDS for s in body["sessions"])


async def test_cursor_pagination_walks_every_session_once(client: httpx.AsyncClient) -> None:
    candidate_id, sessions = await candidate_with_sessions(client, 5)
    headers = auth(user_token(candidate_id))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await list_sessions(client, headers, **params)).json()
        pages += 1
        assert len(body["sessions"]) <= 2
        seen += [s["sessionId"] for s in body["sessions"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == [s.session_id for s in reversed(sessions)]
    assert pages == 3


async def test_status_filters(client: httpx.AsyncClient) -> None:
    candidate_id, (running, paused, completed) = await candidate_with_sessions(client, 3)
    await client.post(paused.url("/pause"), headers=paused.candidate)
    await client.post(completed.url("/complete"), headers=completed.candidate)
    headers = auth(user_token(candidate_id))

    async def ids(status: str) -> set[str]:
        response = await list_sessions(client, headers, status=status)
        assert response.status_code == 200
        return {s["sessionId"] for s in response.json()["sessions"]}

    assert await ids("active") == {running.session_id, paused.session_id}
    assert await ids("paused") == {paused.session_id}
    assert await ids("completed") == {completed.session_id}
    assert await ids("abandoned") == set()


async def test_application_filter(client: httpx.AsyncClient) -> None:
    candidate_id, sessions = await candidate_with_sessions(client, 2)
    body = (
        await list_sessions(client, auth(user_token(candidate_id)), applicationId=sessions[0].application["id"])
    ).json()
    assert [s["sessionId"] for s in body["sessions"]] == [sessions[0].session_id]


async def test_recruiter_lists_any_candidates_sessions(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    body = (await list_sessions(client, RECRUITER, applicationId=started.application["id"])).json()
    assert [s["sessionId"] for s in body["sessions"]] == [started.session_id]


async def test_candidate_cannot_list_anothers_application(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    stranger = auth(user_token(unique("cand")))
    body = (await list_sessions(client, stranger, applicationId=started.application["id"])).json()
    assert body["sessions"] == []


async def test_session_token_lists_only_its_session(client: httpx.AsyncClient) -> None:
    _, (_, second) = await candidate_with_sessions(client, 2)
    body = (await list_sessions(client, second.bearer)).json()
    assert [s["sessionId"] for s in body["sessions"]] == [second.session_id]


async def test_list_parameters_are_validated(client: httpx.AsyncClient) -> None:
    headers = auth(user_token(unique("cand")))
    forged = base64.urlsafe_b64encode(b'["2024-01-01T00:00:00+00:00", {"$gt": ""}]').decode()
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"status": "sleeping"},
        {"cursor": "!!!"},
        {"cursor": forged},
        {"applicationId": "$where"},
        {"sort": "asc"},
    ):
        response = await list_sessions(client, headers, **params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "VALIDATION_ERROR", params


async def test_list_limit_defaults_to_twenty(client: httpx.AsyncClient) -> None:
    candidate_id, _ = await candidate_with_sessions(client, 21)
    body = (await list_sessions(client, auth(user_token(candidate_id)))).json()
    assert len(body["sessions"]) == 20 and body["nextCursor"] is not None


# ----- details -------------------------------------------------------------------------------


async def test_details_group_answers_and_transcripts_by_question(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    q1 = started.question["id"]
    events = [
        transcript_event("tagged for q1", questionId=q1),
        transcript_event("untagged while q1 was asked"),
        transcript_event("names a question not in this session", questionId="q-elsewhere"),
        client_event("answer.submit", {"questionId": q1, "text": "my answer", "startedAt": now_iso(-20)}),
    ]
    await client.post(started.url("/events"), json={"events": events}, headers=started.bearer)
    later = transcript_event("untagged while q2 was asked")
    await client.post(started.url("/events"), json={"events": [later]}, headers=started.bearer)

    response = await client.get(started.url("/details"), headers=started.candidate)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session"]["sessionId"] == started.session_id
    first, second, third = body["questions"]
    assert [q["number"] for q in body["questions"]] == [1, 2, 3]
    assert [t["text"] for t in first["transcripts"]] == ["tagged for q1", "untagged while q1 was asked"]
    assert [a["text"] for a in first["answers"]] == ["my answer"]
    assert first["answers"][0]["answerId"] == events[3]["id"] and first["answers"][0]["recorded"] is True
    assert [t["text"] for t in second["transcripts"]] == ["untagged while q2 was asked"]
    assert (first["asked"], second["asked"], third["asked"]) == (True, True, False)
    assert [t["text"] for t in body["unassigned"]["transcripts"]] == ["names a question not in this session"]
    assert body["events"]["byType"]["transcript"] == 4
    assert body["events"]["total"] == body["events"]["lastSeq"] == body["session"]["lastSeq"]
    assert body["truncated"] is False


async def test_late_untagged_transcript_lands_on_the_question_asked_at_its_time(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=2)
    said_during_q1 = transcript_event("said offline during q1", ts=now_iso())
    answer = client_event("answer.submit", {"questionId": started.question["id"], "text": "done"})
    await client.post(started.url("/events"), json={"events": [answer]}, headers=started.bearer)
    await client.post(started.url("/complete"), headers=started.candidate)
    # Uploaded after q2 was asked and the session ended, yet stamped while q1 was on screen.
    uploaded = await client.post(started.url("/events"), json={"events": [said_during_q1]}, headers=started.bearer)
    assert uploaded.json()["accepted"] == 1
    first, second = (await client.get(started.url("/details"), headers=started.candidate)).json()["questions"]
    assert [t["text"] for t in first["transcripts"]] == ["said offline during q1"]
    assert second["transcripts"] == []


async def test_details_keep_expected_points_for_staff_only(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    own = (await client.get(started.url("/details"), headers=started.candidate)).json()
    assert all(q["expectedAnswerPoints"] is None for q in own["questions"])
    staff = (await client.get(started.url("/details"), headers=RECRUITER)).json()
    assert all(q["expectedAnswerPoints"] for q in staff["questions"])


async def test_details_of_a_missing_session(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await client.get(f"/api/interview/sessions/{uuid.uuid4()}/details", headers=started.candidate)
    assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND"
