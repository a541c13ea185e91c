"""POST/GET /api/applications: recruiters create, candidates read only their own."""

from __future__ import annotations

import httpx

from tests.support import auth, create_application, unique, user_token


async def test_recruiter_creates_and_candidate_reads(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=4, categories=["technical"], difficulty="senior")
    assert application["id"].startswith("app_")
    assert application["interview"]["questionCount"] == 4
    response = await client.get(
        f"/api/applications/{application['id']}", headers=auth(user_token(application["candidateId"]))
    )
    assert response.status_code == 200
    assert response.json()["jobTitle"] == "Backend Engineer"


async def test_candidates_cannot_create(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/applications",
        json={"candidateId": "c", "candidateName": "C", "jobTitle": "J"},
        headers=auth(user_token("c")),
    )
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"


async def test_other_candidates_get_404(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    response = await client.get(f"/api/applications/{application['id']}", headers=auth(user_token(unique("cand"))))
    assert response.status_code == 404 and response.json()["code"] == "INVALID_APPLICATION"


async def test_explicit_id_and_duplicate(client: httpx.AsyncClient) -> None:
    headers = auth(user_token("r", "admin"))
    body = {"id": unique("app"), "candidateId": "c", "candidateName": "C", "jobTitle": "J"}
    assert (await client.post("/api/applications", json=body, headers=headers)).status_code == 201
    again = await client.post("/api/applications", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "APPLICATION_EXISTS"


async def test_invalid_settings_are_rejected(client: httpx.AsyncClient) -> None:
    headers = auth(user_token("r", "recruiter"))
    for interview in (
        {"questionCount": 0},
        {"questionCount": 21},
        {"categories": ["astrology"]},
        {"difficulty": "guru"},
    ):
        body = {"candidateId": "c", "candidateName": "C", "jobTitle": "J", "interview": interview}
        response = await client.post("/api/applications", json=body, headers=headers)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", interview


async def test_an_application_time_limit_replaces_every_questions_own(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=3, time_limit_seconds=15)
    assert application["interview"]["timeLimitSeconds"] == 15
    candidate = auth(user_token(application["candidateId"]))
    pack = await client.get(
        "/api/interview/offline-pack", params={"applicationId": application["id"]}, headers=candidate
    )
    assert [q["timeLimitSeconds"] for q in pack.json()["questions"]] == [15, 15, 15]
    started = await client.post(
        "/api/interview/start-session", json={"applicationId": application["id"]}, headers=candidate
    )
    assert started.json()["currentQuestion"]["timeLimitSeconds"] == 15
    too_short = await client.post(
        "/api/applications",
        json={"candidateId": "c", "candidateName": "C", "jobTitle": "J", "interview": {"timeLimitSeconds": 5}},
        headers=auth(user_token("recruiter_1", "recruiter")),
    )
    assert too_short.status_code == 400 and too_short.json()["code"] == "VALIDATION_ERROR"
