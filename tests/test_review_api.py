"""What the review page reads: list filters by date and score, signed recording links, integrity in details."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from server.sessions import RecordingLinks
from storage import SessionStatus
from tests.clock import ManualClock
from tests.session_support import RECRUITER, Started, client_event, named_event, new_session, now_iso
from tests.support import SESSION_SECRET, ServerProcess, auth, store_of, unique, user_token
from tests.test_analytics import past_session

LIST = "/api/interview/sessions"


async def listed(client: httpx.AsyncClient, headers: dict[str, str] = RECRUITER, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [s["applicationId"] for s in response.json()["sessions"]]


async def with_recording(client: httpx.AsyncClient, audio: bytes = b"RIFF" + os.urandom(4000)) -> Started:
    started = await new_session(client)
    headers = {**started.candidate, "Content-Type": "audio/wav"}
    uploaded = await client.post(started.url("/recording"), content=audio, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    return started


async def link_of(client: httpx.AsyncClient, started: Started, headers: dict[str, str] = RECRUITER) -> dict[str, Any]:
    response = await client.post(started.url("/recording-link"), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def sig_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["sig"][0]


# ----- the list's filters -----------------------------------------------------------------------


async def test_the_list_filters_by_start_date_and_score(client: httpx.AsyncClient, server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    documents = [
        past_session(f"2022-06-01T10:0{minute}:00", SessionStatus.COMPLETED, ["technical"], 1, 60.0, score=score)
        for minute, score in enumerate((20.0, 50.0, 80.0))
    ]
    documents.append(past_session("2022-06-03T10:00:00", SessionStatus.COMPLETED, ["technical"], 1, 60.0))
    for index, document in enumerate(documents):
        document["applicationId"] = f"app_{tag}_{index}"
    async with store_of(server) as db:
        await db.interviewSessions.insert_many(documents)
    day = {"from": "2022-06-01", "to": "2022-06-03"}
    assert await listed(client, **day) == [f"app_{tag}_3", f"app_{tag}_2", f"app_{tag}_1", f"app_{tag}_0"]
    assert await listed(client, **{"from": "2022-06-01", "to": "2022-06-02"}) == [
        f"app_{tag}_2",
        f"app_{tag}_1",
        f"app_{tag}_0",
    ]
    assert await listed(client, **day, minScore=50) == [f"app_{tag}_2", f"app_{tag}_1"]
    assert await listed(client, **day, minScore="20", maxScore="50") == [f"app_{tag}_1", f"app_{tag}_0"]
    assert await listed(client, **day, maxScore=0) == []  # an unscored session never matches a score bound
    assert await listed(client, **day, applicationId=f"app_{tag}_1", status="completed") == [f"app_{tag}_1"]
    # Paging keeps the filters.
    first = (await client.get(LIST, params={**day, "limit": 2}, headers=RECRUITER)).json()
    rest = await listed(client, **day, limit=2, cursor=first["nextCursor"])
    assert [s["applicationId"] for s in first["sessions"]] + rest == await listed(client, **day)


async def test_list_filters_are_validated(client: httpx.AsyncClient) -> None:
    for params in (
        {"minScore": "high"},
        {"minScore": "-1"},
        {"maxScore": "101"},
        {"maxScore": "nan"},
        {"minScore": "60", "maxScore": "40"},
        {"from": "yesterday"},
        {"from": "2022-06-01T10:00:00"},  # no time zone
        {"from": "2022-06-05", "to": "2022-06-01"},
    ):
        response = await client.get(LIST, params=params, headers=RECRUITER)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", params


async def test_score_filters_are_refused_to_candidates(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for headers in (started.candidate, started.bearer):
        response = await client.get(LIST, params={"minScore": 50}, headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"
    # The date filter is theirs to use.
    assert await listed(client, started.candidate, **{"from": now_iso(-3600)}) == [started.application["id"]]


# ----- integrity signals in the details -------------------------------------------------------


async def test_details_carry_integrity_signals_for_staff_only(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=2)
    assert started.question is not None
    question_id = started.question["id"]
    events = [
        named_event("tab.hidden", ts=now_iso(-0.5)),
        named_event("tab.visible", ts=now_iso(-0.25)),
        named_event("answer.paste", chars=42, questionId=question_id),
    ]
    stored = await client.post(started.url("/events"), json={"events": events}, headers=started.bearer)
    assert stored.status_code == 200 and stored.json()["accepted"] == 3, stored.text
    staff = (await client.get(started.url("/details"), headers=RECRUITER)).json()
    first = staff["questions"][0]
    assert (first["integrity"]["tabHiddenCount"], first["integrity"]["pasteCount"]) == (1, 1)
    assert first["integrity"]["pastedChars"] == 42
    assert [e["name"] for e in first["events"]] == ["tab.hidden", "tab.visible", "answer.paste"]
    assert staff["integrity"]["tabHiddenCount"] == 1 and staff["integrity"]["readingWordsPerMinute"] == 240
    own = (await client.get(started.url("/details"), headers=started.candidate)).json()
    assert own["integrity"] is None and own["questions"][0]["integrity"] is None


async def test_a_paste_without_its_length_is_refused(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    bad = client_event("event", {"name": "answer.paste", "payload": {"chars": "many"}})
    response = await client.post(started.url("/events"), json={"events": [bad]}, headers=started.bearer)
    assert response.status_code == 400, response.text  # the only event of the batch: the batch is refused
    [refused] = response.json()["details"]["refused"]
    assert (refused["code"], refused["field"]) == ("VALIDATION_ERROR", "payload.payload.chars")


# ----- signed recording links -------------------------------------------------------------------


async def test_a_link_serves_that_recording_with_ranges(client: httpx.AsyncClient) -> None:
    audio = b"RIFF" + os.urandom(20_000)
    started = await with_recording(client, audio)
    link = await link_of(client, started)
    assert link["url"].startswith(f"/api/interview/recordings/{started.session_id}?sig=")
    expires_at = datetime.fromisoformat(link["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < expires_at - datetime.now(UTC) <= timedelta(minutes=5)
    whole = await client.get(link["url"])  # no Authorization: the link is the credential
    assert whole.status_code == 200 and whole.content == audio
    assert whole.headers["content-type"].startswith("audio/wav")
    assert "no-store" in whole.headers["cache-control"]
    part = await client.get(link["url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == audio[10:20]


async def test_a_link_is_scoped_to_one_session(client: httpx.AsyncClient) -> None:
    first, second = await with_recording(client), await with_recording(client)
    sig = sig_of((await link_of(client, first))["url"])
    other = await client.get(f"/api/interview/recordings/{second.session_id}", params={"sig": sig})
    assert other.status_code == 401 and other.json()["code"] == "UNAUTHORIZED"
    # Nor do other tokens stand in for a link: a session token, a user token, a tampered link.
    for fake in (first.token, user_token("recruiter_1", "recruiter"), sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")):
        response = await client.get(f"/api/interview/recordings/{first.session_id}", params={"sig": fake})
        assert response.status_code == 401, fake
    missing = await client.get(f"/api/interview/recordings/{first.session_id}")
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELD"


async def test_an_expired_link_is_refused(client: httpx.AsyncClient) -> None:
    started = await with_recording(client)
    # A link the server signed six minutes ago (the same key, an earlier clock): no sleeping needed.
    past = RecordingLinks(SESSION_SECRET, clock=ManualClock(datetime.now(UTC) - timedelta(minutes=6)))
    old = past.issue(started.session_id)
    response = await client.get(f"/api/interview/recordings/{started.session_id}", params={"sig": old.token})
    assert response.status_code == 401 and "expired" in response.json()["error"]
    fresh = RecordingLinks(SESSION_SECRET).issue(started.session_id)
    ok = await client.get(f"/api/interview/recordings/{started.session_id}", params={"sig": fresh.token})
    assert ok.status_code == 200


async def test_links_need_a_reader_and_a_recording(client: httpx.AsyncClient) -> None:
    started = await with_recording(client)
    stranger = await client.post(started.url("/recording-link"), headers=auth(user_token(unique("cand"))))
    assert stranger.status_code == 404 and stranger.json()["code"] == "SESSION_NOT_FOUND"
    anonymous = await client.post(started.url("/recording-link"))
    assert anonymous.status_code == 401
    no_recording = await client.post((await new_session(client)).url("/recording-link"), headers=RECRUITER)
    assert no_recording.status_code == 404 and no_recording.json()["code"] == "NOT_FOUND"


async def test_the_access_log_never_prints_a_signature(client: httpx.AsyncClient, server: ServerProcess) -> None:
    started = await with_recording(client)
    url = (await link_of(client, started))["url"]
    assert (await client.get(url)).status_code == 200
    log = server.log()
    assert sig_of(url) not in log
    assert f"/api/interview/recordings/{started.session_id}?sig=[redacted]" in log
