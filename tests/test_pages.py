"""The candidate page, the /client/ files and the offline pack, over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from tests.support import ServerProcess, auth, create_application, start_session, unique, user_token

CLIENT_FILES = {
    "api.js": "text/javascript; charset=utf-8",
    "interview-client.js": "text/javascript; charset=utf-8",
    "channel.js": "text/javascript; charset=utf-8",
    "uploader.js": "text/javascript; charset=utf-8",
    "offline-store.js": "text/javascript; charset=utf-8",
    "fallback-questions.js": "text/javascript; charset=utf-8",
    "local-recorder.js": "text/javascript; charset=utf-8",
    "candidate.js": "text/javascript; charset=utf-8",
    "service-worker.js": "text/javascript; charset=utf-8",
    "candidate.css": "text/css; charset=utf-8",
    "candidate.html": "text/html; charset=utf-8",
}


async def test_candidate_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/interview/app_anything")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/client/candidate.js">' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_malformed_application_id_is_not_a_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/interview/" + "x" * 200)
    assert response.status_code == 404
    assert response.json()["code"] == "INVALID_APPLICATION"


async def test_client_files_have_their_content_types(client: httpx.AsyncClient) -> None:
    for name, content_type in CLIENT_FILES.items():
        response = await client.get(f"/client/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == content_type, name
        assert response.headers["cache-control"] == "no-cache", name
        assert response.headers["etag"].startswith('"'), name
        assert response.content, name


async def test_etag_revalidation_answers_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/client/interview-client.js")
    again = await client.get("/client/interview-client.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    changed = await client.get("/client/interview-client.js", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == first.content


async def test_head_gives_headers_without_body(client: httpx.AsyncClient) -> None:
    get = await client.get("/client/candidate.css")
    head = await client.head("/client/candidate.css")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))


async def test_service_worker_may_control_the_interview_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/client/service-worker.js")
    assert response.headers["service-worker-allowed"] == "/interview/"


async def test_nothing_outside_the_client_files_is_served(client: httpx.AsyncClient) -> None:
    attempts = [
        "/client/..%2Fserver%2Fapp.py",
        "/client/%2e%2e/server/app.py",
        "/client/..%5Cserver%5Capp.py",
        "/client/__init__.py",
        "/client/.hidden.js",
        "/client/Candidate.JS",
        "/client/missing.js",
        "/client/candidate.js%00.png",
        "/client/",
    ]
    for path in attempts:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == {"error", "code", "details"}, path


async def test_offline_pack_holds_the_questions_the_server_will_ask(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    application = await create_application(client, question_count=4)
    headers = auth(user_token(application["candidateId"]))
    pack = await client.get("/api/interview/offline-pack", params={"applicationId": application["id"]}, headers=headers)
    assert pack.status_code == 200, pack.text
    body = pack.json()
    assert body["application"] == {
        "id": application["id"],
        "jobTitle": "Backend Engineer",
        "candidateName": "Test Candidate",
    }
    assert body["applicationStatus"] == "open"
    assert body["interview"] == {"mode": "voice", "record": False, "questionCount": 4}
    assert [q["number"] for q in body["questions"]] == [1, 2, 3, 4]
    assert all("expectedAnswerPoints" not in q for q in body["questions"])
    assert pack.headers["cache-control"] == "private, no-store"

    started = (await start_session(client, application)).json()
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.mongodb_url, tz_aware=True)
    try:
        session = await mongo[server.env["MONGODB_DB"]].interviewSessions.find_one({"sessionId": started["sessionId"]})
    finally:
        await mongo.close()
    assert session is not None
    assert [q["id"] for q in body["questions"]] == [q["id"] for q in session["questions"]]  # type: ignore[union-attr]
    assert started["currentQuestion"]["id"] == body["questions"][0]["id"]
    again = await client.get(
        "/api/interview/offline-pack", params={"applicationId": application["id"]}, headers=headers
    )
    assert again.json()["questions"] == body["questions"]


async def test_offline_pack_is_for_the_owner_only(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    params = {"applicationId": application["id"]}
    for token in (user_token(unique("cand")), user_token("recruiter_1", "recruiter")):
        response = await client.get("/api/interview/offline-pack", params=params, headers=auth(token))
        assert response.status_code == 404
        assert response.json()["code"] == "INVALID_APPLICATION"
    missing = await client.get(
        "/api/interview/offline-pack", params={"applicationId": "app_missing"}, headers=auth(user_token("c1"))
    )
    assert missing.status_code == 404 and missing.json()["code"] == "INVALID_APPLICATION"


async def test_offline_pack_needs_a_user_token(client: httpx.AsyncClient) -> None:
    application = await create_application(client)
    session = (await start_session(client, application)).json()
    params = {"applicationId": application["id"]}
    for headers in ({}, auth("garbage"), auth(session["token"])):
        response = await client.get("/api/interview/offline-pack", params=params, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"


async def test_offline_pack_validates_its_query(client: httpx.AsyncClient) -> None:
    headers = auth(user_token("c1"))
    missing = await client.get("/api/interview/offline-pack", headers=headers)
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELD"
    for query in (
        "applicationId=%24ne",
        "applicationId=" + "x" * 300,
        "applicationId=a&applicationId=b",
        "applicationId=a&extra=1",
    ):
        response = await client.get(f"/api/interview/offline-pack?{query}", headers=headers)
        assert response.status_code == 400, query
        assert response.json()["code"] == "VALIDATION_ERROR", query


async def test_pages_and_pack_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "get" in paths["/api/interview/offline-pack"]
    assert "get" in paths["/interview/{applicationId}"]
    assert "get" in paths["/client/{path}"]


def test_offline_shell_lists_every_module_the_page_imports() -> None:
    """A module missing from the cached shell would break a reload while the server is down."""
    client_dir = Path(__file__).resolve().parent.parent / "client"
    shell_source = (client_dir / "candidate.js").read_text()
    shell = set(re.findall(r'"/client/([a-z0-9-]+\.(?:js|css))"', shell_source))
    # Every module the candidate page reaches (the review page has no offline copy).
    imported = {"candidate.js", "candidate.css"}
    pending = ["candidate.js"]
    while pending:
        found = re.findall(r'from "\./([a-z0-9-]+\.js)"', (client_dir / pending.pop()).read_text())
        pending += [name for name in found if name not in imported]
        imported.update(found)
    assert "integrity.js" in imported
    assert imported <= shell, imported - shell
