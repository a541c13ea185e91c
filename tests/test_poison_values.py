"""Values the store cannot hold, over real HTTP: one bad item never fails its batch, and nothing answers 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.session_support import (
    RECRUITER,
    Started,
    all_events,
    client_event,
    named_event,
    new_session,
    now_iso,
    transcript_event,
)
from tests.support import ServerProcess, auth, store_of, user_token

# What failed under attack: each one beside good transcripts in one batch.
POISON: dict[str, tuple[dict[str, Any], str]] = {
    "integer past int64 (JavaScript's 1e19)": (named_event("n", big=10**19), "payload.payload.big"),
    "integer past int64 in a typed field": (
        client_event("transcript", {"text": "x", "startMs": 0, "endMs": 10**19}),
        "payload.endMs",
    ),
    "NUL in a key": (named_event("k", **{"a\x00b": 1}), "payload.payload.a\x00b"),
    "operator key": (named_event("k", where={"$gt": ""}), "payload.payload.where.$gt"),
    "dotted key": (named_event("k", **{"a.b": 1}), "payload.payload.a.b"),
    "nested 40 deep": (named_event("k", deep=json.loads('{"a":' * 40 + "1" + "}" * 40)), "payload.payload.deep"),
    "NaN": (named_event("k", value=float("nan")), "payload.payload.value"),
    "Infinity": (named_event("k", value=float("inf")), "payload.payload.value"),
    "lone surrogate": (transcript_event("half a pair \ud83d"), "payload.text"),
    "ts before year 1 in UTC": (transcript_event("old", ts="0001-01-01T00:00:00+05:00"), "ts"),
    "malformed envelope": ({"id": "x"}, "id"),
}


async def post_raw(client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    """POST JSON as a careless client would write it: NaN and lone surrogates included."""
    content = json.dumps(body, allow_nan=True)
    return await client.post(url, content=content, headers={**headers, "Content-Type": "application/json"})


async def upload(client: httpx.AsyncClient, started: Started, events: list[dict[str, Any]]) -> httpx.Response:
    return await post_raw(client, started.url("/events"), {"events": events}, started.bearer)


@pytest.mark.parametrize("kind", list(POISON))
async def test_one_poison_item_is_refused_with_its_index_and_the_others_stored(
    client: httpx.AsyncClient, kind: str
) -> None:
    started = await new_session(client)
    poison, field = POISON[kind]
    batch = [transcript_event(f"line {i}") for i in range(4)]
    batch.insert(2, poison)
    response = await upload(client, started, batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (4, 0)
    [refused] = body["refused"]
    assert refused["index"] == 2 and refused["id"] == poison["id"] and refused["field"].startswith(field)
    assert refused["code"] == "VALIDATION_ERROR" and refused["message"]
    texts = [e["payload"]["text"] for e in await all_events(client, started) if e["source"] == "client"]
    assert texts == [f"line {i}" for i in range(4)]
    again = await upload(client, started, batch)  # a retry: the good ones are duplicates, the bad one still refused
    assert (again.json()["duplicates"], [r["index"] for r in again.json()["refused"]]) == (4, [2])


async def test_a_batch_of_only_poison_is_refused_in_the_documented_shape(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    events = [named_event("k", value=float("nan")), named_event("k", big=10**19)]
    response = await upload(client, started, events)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == "VALIDATION_ERROR"
    assert body["details"]["index"] == 0 and body["details"]["id"] == events[0]["id"]
    assert [r["index"] for r in body["details"]["refused"]] == [0, 1]


async def test_far_future_ts_is_stored_as_the_receipt_time(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    before = datetime.now(UTC)
    events = [transcript_event("from year 9999", ts="9999-12-31T23:59:59-12:00"), transcript_event("on time")]
    response = await upload(client, started, events)
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    stored = (await all_events(client, started))[-2]
    assert stored["payload"]["text"] == "from year 9999"
    assert before <= datetime.fromisoformat(stored["ts"]) <= datetime.now(UTC)


@pytest.mark.parametrize("text", ["a" * 20_000, "Ж" * 20_000, "😀" * 20_000], ids=["ascii", "cyrillic", "emoji"])
async def test_full_length_answers_are_stored_whole(
    client: httpx.AsyncClient, server: ServerProcess, text: str
) -> None:
    started = await new_session(client, question_count=2)
    question = started.question["id"]
    answered = await client.post(
        started.url("/answers"),
        json={"id": client_event("x", {})["id"], "questionId": question, "text": text, **_times()},
        headers=started.candidate,
    )
    assert answered.status_code == 201, answered.text[:300]
    uploaded = await upload(client, started, [transcript_event(text), named_event("long", note=text[:10_000])])
    assert uploaded.status_code == 200 and uploaded.json()["accepted"] == 2, uploaded.text[:300]
    async with store_of(server) as db:
        cursor = db.sessionEvents.find({"sessionId": started.session_id, "source": "client"}).sort("seq", 1)
        stored = [e["payload"] async for e in cursor]
    assert stored[0]["text"] == text and stored[1]["text"] == text
    assert stored[2]["payload"]["note"] == text[:10_000]


def _times() -> dict[str, str]:
    return {"startedAt": now_iso(-60), "endedAt": now_iso()}


async def test_values_that_used_to_answer_500_answer_400(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    requests: list[tuple[str, str, Any, dict[str, str]]] = [
        ("GET", started.url("/events?afterSeq=9223372036854775808"), None, started.bearer),
        ("GET", "/api/interview/analytics?to=9999-12-31", None, RECRUITER),
        ("GET", "/api/interview/analytics?to=0001-01-05T00:00:00Z", None, RECRUITER),
        ("GET", "/api/interview/analytics?from=9999-12-31T23:00:00-12:00", None, RECRUITER),
        ("POST", started.url("/events"), "[" * 1000 + "]" * 1000, started.bearer),
        ("POST", started.url("/events"), '{"events": ' + "[" * 1000 + "]" * 1000 + "}", started.bearer),
        ("POST", "/api/applications", {"candidateId": "c1", "candidateName": "x\udc00", "jobTitle": "t"}, RECRUITER),
        (
            "POST",
            "/api/interview/start-session",
            {"applicationId": started.application["id"], "metadata": {"userAgent": "\ud800"}},
            auth(user_token(started.application["candidateId"])),
        ),
        (
            "POST",
            started.url("/answers"),
            {"id": client_event("x", {})["id"], "questionId": started.question["id"], "text": "\ud800", **_times()},
            started.candidate,
        ),
    ]
    for method, url, body, headers in requests:
        if body is None:
            response = await client.request(method, url, headers=headers)
        elif isinstance(body, str):
            response = await client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
        else:
            response = await post_raw(client, url, body, headers)
        assert response.status_code == 400, (url, response.status_code, response.text[:300])
        assert response.json()["code"] == "VALIDATION_ERROR", (url, response.text[:300])
