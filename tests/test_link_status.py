"""GET /api/interview/link-status: what a candidate's link leads to, read before the setup screen."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import auth, create_application, start_session, unique, user_token


async def link_status(
    client: httpx.AsyncClient, application: dict[str, Any], token: str | None = None
) -> httpx.Response:
    return await client.get(
        "/api/interview/link-status",
        params={"applicationId": application["id"]},
        headers=auth(token or user_token(application["candidateId"])),
    )


async def test_an_unknown_or_someone_elses_application_is_not_found(client: httpx.AsyncClient) -> None:
    missing = {"id": unique("app_missing"), "candidateId": unique("cand")}
    response = await link_status(client, missing)
    assert response.status_code == 200
    assert response.json() == {"status": "not_found", "application": None, "interview": None, "progress": None}
    theirs = await create_application(client)
    assert (await link_status(client, theirs, user_token(unique("cand")))).json()["status"] == "not_found"


async def test_an_application_not_started_is_open(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=2, mode="text")
    body = (await link_status(client, application)).json()
    assert body["status"] == "open"
    assert body["application"] == {
        "id": application["id"],
        "jobTitle": "Backend Engineer",
        "candidateName": "Test Candidate",
    }
    assert body["interview"] == {"mode": "text", "record": False, "questionCount": 2}
    assert body["progress"] is None


async def test_an_active_session_is_in_progress_with_its_question(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=3)
    started = (await start_session(client, application)).json()
    first = started["currentQuestion"]
    answered = await client.post(
        f"/api/interview/sessions/{started['sessionId']}/answers",
        json={
            "id": str(uuid.uuid4()),
            "questionId": first["id"],
            "text": "One.",
            "startedAt": "2026-01-01T10:00:00Z",
            "endedAt": "2026-01-01T10:01:00Z",
        },
        headers=auth(started["token"]),
    )
    assert answered.status_code == 201, answered.text
    body = (await link_status(client, application)).json()
    assert body["status"] == "in_progress"
    assert body["progress"] == {"status": "in_progress", "questionNumber": 2, "questionCount": 3}
    await client.post(f"/api/interview/sessions/{started['sessionId']}/pause", headers=auth(started["token"]))
    assert (await link_status(client, application)).json()["progress"]["status"] == "paused"


async def test_a_submitted_interview_is_completed(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=1)
    started = (await start_session(client, application)).json()
    done = await client.post(f"/api/interview/sessions/{started['sessionId']}/complete", headers=auth(started["token"]))
    assert done.status_code == 200
    body = (await link_status(client, application)).json()
    assert body["status"] == "completed" and body["progress"] is None


async def test_an_expired_token_and_a_garbage_token_are_told_apart(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    expired = await link_status(client, application, user_token(application["candidateId"], ttl=-120))
    assert expired.status_code == 401
    assert expired.json()["code"] == "UNAUTHORIZED" and expired.json()["details"] == {"reason": "expired"}
    garbage = await link_status(client, application, "not-a-token")
    assert garbage.status_code == 401 and garbage.json()["details"] == {"reason": "invalid"}
    forged = await link_status(client, application, user_token(application["candidateId"], secret="x" * 40))
    assert forged.status_code == 401 and forged.json()["details"] == {"reason": "invalid"}
