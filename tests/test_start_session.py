"""POST /api/interview/start-session over real HTTP against the wire-protocol store."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from pymongo import AsyncMongoClient

from tests.support import ServerProcess, auth, create_application, start_session, unique, user_token


async def test_creates_session_and_returns_token(client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=3)
    response = await start_session(client, application, metadata={"deviceType": "mobile", "networkQuality": "good"})
    assert response.status_code == 201, response.text
    body = response.json()
    uuid.UUID(body["sessionId"], version=4)
    assert body["resumed"] is False
    assert body["expiresAt"].endswith("Z")
    assert body["application"] == {
        "id": application["id"],
        "jobTitle": "Backend Engineer",
        "candidateName": "Test Candidate",
    }
    assert body["currentQuestion"]["number"] == 1 and body["currentQuestion"]["total"] == 3


async def test_session_record_and_started_event_are_stored(client: httpx.AsyncClient, server: ServerProcess) -> None:
    application = await create_application(client)
    body = (await start_session(client, application, metadata={"deviceType": "tablet"})).json()
    mongo = AsyncMongoClient(server.env.get("MONGODB_URL") or server.mongodb_url, tz_aware=True)
    try:
        db = mongo[server.env["MONGODB_DB"]]
        session = await db.interviewSessions.find_one({"sessionId": body["sessionId"]})
        assert session["status"] == "in_progress"
        assert session["candidateId"] == application["candidateId"]
        assert session["metadata"]["deviceType"] == "tablet"
        assert session["metadata"]["ipAddress"] == "127.0.0.1"
        assert session["startedAt"] is not None and session["createdAt"] is not None
        events = await db.sessionEvents.find({"sessionId": body["sessionId"]}).sort("seq", 1).to_list()
        assert [e["type"] for e in events] == ["session.started", "question"]
        assert [e["seq"] for e in events] == [1, 2]
    finally:
        await mongo.close()


async def test_second_start_resumes_same_session(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    first = (await start_session(client, application)).json()
    second = await start_session(client, application)
    assert second.status_code == 200
    assert second.json()["sessionId"] == first["sessionId"]
    assert second.json()["resumed"] is True
    assert second.json()["token"] != first["token"]


async def test_twenty_concurrent_starts_make_one_session(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    responses = await asyncio.gather(*(start_session(client, application) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["sessionId"] for r in responses}) == 1


async def test_client_session_id_is_an_idempotency_key(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    key = str(uuid.uuid4())
    first = await start_session(client, application, clientSessionId=key)
    again = await start_session(client, application, clientSessionId=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["sessionId"] == first.json()["sessionId"]


async def test_missing_application_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/interview/start-session", json={}, headers=auth(user_token("c1")))
    assert response.status_code == 400
    assert response.json()["code"] == "MISSING_FIELD"
    assert set(response.json()) == {"error", "code", "details"}


async def test_malformed_inputs_are_validation_errors(client: httpx.AsyncClient) -> None:
    headers = auth(user_token("c1"))
    bad_bodies = [
        {"applicationId": 123},
        {"applicationId": {"$ne": None}},
        {"applicationId": "x" * 500},
        {"applicationId": "app_1", "metadata": {"deviceType": "fridge"}},
        {"applicationId": "app_1", "clientSessionId": "not-a-uuid"},
        {"applicationId": "app_1", "unexpected": True},
    ]
    for body in bad_bodies:
        response = await client.post("/api/interview/start-session", json=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR", body
    response = await client.post("/api/interview/start-session", content=b"{nope", headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_JSON"


async def test_unknown_and_foreign_applications_are_the_same_404(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    stranger = auth(user_token(unique("cand")))
    foreign = await client.post(
        "/api/interview/start-session", json={"applicationId": application["id"]}, headers=stranger
    )
    missing = await client.post("/api/interview/start-session", json={"applicationId": "app_missing"}, headers=stranger)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["code"] == "INVALID_APPLICATION"


async def test_unauthorized_without_valid_user_token(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    session = (await start_session(client, application)).json()
    attempts = [
        {},
        auth("garbage"),
        auth(user_token(application["candidateId"], ttl=-120)),
        auth(user_token(application["candidateId"], secret="another-secret-another-secret-another")),
        auth(session["token"]),  # a session token is not a user token
    ]
    for headers in attempts:
        response = await client.post(
            "/api/interview/start-session", json={"applicationId": application["id"]}, headers=headers
        )
        assert response.status_code == 401, headers
        assert response.json()["code"] == "UNAUTHORIZED"


async def test_unknown_route_and_method_use_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    wrong_method = await client.get("/api/interview/start-session")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_concurrent_starts_of_many_applications_each_get_their_own_answer(client: httpx.AsyncClient) -> None:
    """Starts decided in one batch: a stranger's, a retry's and a new one's answers never mix."""
    applications = [await create_application(client) for _ in range(8)]
    key = str(uuid.uuid4())
    first = await start_session(client, applications[0], clientSessionId=key)
    stranger = {"id": applications[1]["id"], "candidateId": unique("cand")}
    starts = [start_session(client, a) for a in applications[2:]]
    starts += [start_session(client, applications[0], clientSessionId=key), start_session(client, stranger)]
    responses = await asyncio.gather(*starts)
    *new, retry, refused = responses
    assert [r.status_code for r in new] == [201] * 6
    assert len({r.json()["sessionId"] for r in new}) == 6
    assert retry.status_code == 200 and retry.json()["sessionId"] == first.json()["sessionId"]
    assert refused.status_code == 404 and refused.json()["code"] == "INVALID_APPLICATION"
    assert (await start_session(client, applications[1])).status_code == 201  # the stranger took nothing
