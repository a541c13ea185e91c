"""The event log over HTTP: paged reads and the idempotent batch upload, against the real store."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_sentry
from tests.session_support import (
    RECRUITER,
    Started,
    all_events,
    client_event,
    iso,
    named_event,
    new_session,
    now_iso,
    transcript_event,
)
from tests.support import ServerProcess, auth, store_of, tuned_server, unique, user_token
from tests.test_sentry import EnvelopeSink

# The local Sentry stand-in of test_sentry, shared rather than copied.
sentry_sink = test_sentry.sentry_sink


async def upload(client: httpx.AsyncClient, started: Started, events: list[dict[str, Any]]) -> httpx.Response:
    return await client.post(started.url("/events"), json={"events": events}, headers=started.bearer)


def mixed_events(count: int, question_id: str) -> list[dict[str, Any]]:
    """Transcripts and named events, the bulk of what an offline client uploads."""
    events = []
    for i in range(count):
        if i % 3 == 0:
            events.append(named_event("tab.hidden", index=i))
        else:
            events.append(transcript_event(f"line {i}", questionId=question_id))
    return events


# ----- idempotency ----------------------------------------------------------------


async def test_same_200_events_three_times_in_shuffled_overlapping_batches(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    started = await new_session(client)
    events = mixed_events(200, started.question["id"])
    rng = random.Random(7)
    batches: list[list[dict[str, Any]]] = []
    for _ in range(3):
        order = events[:]
        rng.shuffle(order)
        cut_a, cut_b = sorted(rng.sample(range(20, 180), 2))
        batches += [order[:cut_a], order[cut_a:cut_b], order[cut_b:]]
    # Overlap within the round too: every batch also re-sends a few events of another.
    batches = [batch + rng.sample(events, 10) for batch in batches]
    responses = await asyncio.gather(*(upload(client, started, batch) for batch in batches))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert sum(b["accepted"] for b in bodies) == 200
    assert sum(b["accepted"] + b["duplicates"] for b in bodies) == sum(len(b) for b in batches)
    assert all(b["rejected"] == [] for b in bodies)

    logged = [e for e in await all_events(client, started) if e["source"] == "client"]
    assert sorted(e["clientEventId"] for e in logged) == sorted(e["id"] for e in events)
    seqs = [e["seq"] for e in logged]
    assert seqs == sorted(seqs) and len(set(seqs)) == 200
    assert [e for e in await all_events(client, started) if e["source"] == "client"] == logged  # one order
    async with store_of(server) as db:
        assert await db.sessionEvents.count_documents({"sessionId": started.session_id, "source": "client"}) == 200
    session = (await client.get(started.url(), headers=started.candidate)).json()
    assert session["lastSeq"] == max(b["lastSeq"] for b in bodies) >= max(seqs)


async def test_repeated_id_within_one_batch_is_stored_once(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    event = transcript_event("hello")
    response = await upload(client, started, [event, event, {**event, "id": event["id"].upper()}])
    assert response.json() == {"accepted": 1, "duplicates": 2, "lastSeq": 3, "rejected": []}


async def test_response_last_seq_is_the_high_water_mark(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    first = await upload(client, started, mixed_events(5, started.question["id"]))
    assert first.json()["lastSeq"] == 2 + 5
    again = await upload(client, started, [])
    assert again.status_code == 400  # an empty batch is a client bug, not a no-op


async def test_event_fields_are_returned_as_stored(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    # A time in the past with milliseconds (a ts after its receipt is stored as the receipt time).
    happened = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=250_000)
    event = transcript_event("hello there", ts=iso(happened), questionId=started.question["id"])
    await upload(client, started, [event])
    logged = (await all_events(client, started))[-1]
    assert logged == {
        "seq": 3,
        "type": "transcript",
        "ts": happened.strftime("%Y-%m-%dT%H:%M:%S.250000Z"),
        "source": "client",
        "payload": {
            "text": "hello there",
            "final": True,
            "startMs": 0,
            "endMs": 1000,
            "questionId": started.question["id"],
        },
        "clientEventId": event["id"],
    }


# ----- effects on the question flow --------------------------------------------------


async def test_uploaded_answer_advances_once(client: httpx.AsyncClient) -> None:
    started = await new_session(client, question_count=3)
    submit = client_event("answer.submit", {"questionId": started.question["id"], "text": "offline answer"})
    for _ in range(2):
        response = await upload(client, started, [submit])
        assert response.status_code == 200
    session = (await client.get(started.url(), headers=started.candidate)).json()
    assert session["currentQuestionNumber"] == 2
    recorded = [e for e in await all_events(client, started) if e["type"] == "answer.recorded"]
    assert [e["payload"]["answerId"] for e in recorded] == [submit["id"]]


# ----- validation and limits ----------------------------------------------------------


async def test_type_outside_the_allow_list_is_refused_alone(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    batch = [transcript_event("fine"), client_event("session.completed", {}), transcript_event("also fine")]
    response = await upload(client, started, batch)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    [refused] = body["refused"]
    assert refused["code"] == "EVENT_TYPE_NOT_ALLOWED" and refused["field"] == "type"
    assert refused["index"] == 1 and refused["id"] == batch[1]["id"]
    assert [e["type"] for e in await all_events(client, started)] == ["session.started", "question"] + [
        "transcript"
    ] * 2


async def test_a_batch_of_nothing_but_a_type_outside_the_allow_list_is_refused(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    bad = client_event("session.completed", {})
    response = await upload(client, started, [bad])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "EVENT_TYPE_NOT_ALLOWED"
    assert body["details"]["index"] == 0 and body["details"]["id"] == bad["id"]
    assert "transcript" in body["details"]["errors"]["allowed"]
    assert [e["type"] for e in await all_events(client, started)] == ["session.started", "question"]


async def test_payloads_are_validated(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    bad_payloads = [
        ("transcript", {"text": "x", "startMs": 10, "endMs": 5}),
        ("transcript", {"text": "x", "startMs": 0, "endMs": 5, "extra": True}),
        ("answer.submit", {"text": "no question id"}),
        ("event", {"name": "Not A Name"}),
        ("answer.start", {"questionId": {"$gt": ""}}),
    ]
    for type_, payload in bad_payloads:
        response = await upload(client, started, [client_event(type_, payload)])
        assert response.status_code == 400, (type_, payload)
        assert response.json()["code"] == "VALIDATION_ERROR", (type_, payload)
    assert (await client.get(started.url(), headers=started.candidate)).json()["lastSeq"] == 2


async def test_envelopes_are_validated(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    good = transcript_event("x")
    bad_events = [
        {**good, "id": "not-a-uuid"},
        {**good, "ts": "2024-01-01T10:00:00"},  # no time zone
        {**good, "ts": "yesterday"},
        {**good, "payload": ["not", "an", "object"]},
        {**good, "type": "t" * 65},
        {**good, "unexpected": 1},
    ]
    for event in bad_events:
        response = await upload(client, started, [event])
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", event
    missing = await client.post(started.url("/events"), json={}, headers=started.bearer)
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELD"


async def test_more_than_500_events_are_refused(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await upload(client, started, [named_event("tick") for _ in range(501)])
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    exactly = await upload(client, started, [named_event("tick") for _ in range(500)])
    assert exactly.status_code == 200 and exactly.json()["accepted"] == 500


async def test_body_over_one_mebibyte_is_refused(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    # 80 events of ~14 KB each: every payload is legal, the request is not.
    events = [transcript_event("y" * 14_000) for _ in range(80)]
    assert len(json.dumps({"events": events})) > 1024 * 1024
    response = await upload(client, started, events)
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert (await client.get(started.url(), headers=started.candidate)).json()["lastSeq"] == 2


async def test_oversized_payload_is_refused(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    response = await upload(client, started, [named_event("big", blob="z" * 17_000)])
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"


# ----- late uploads for ended sessions ---------------------------------------------------


async def test_completed_session_takes_only_events_stamped_before_its_end(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    early = transcript_event("said before the end", ts=now_iso(-5))
    stored_before = transcript_event("already uploaded", ts=now_iso(-4))
    await upload(client, started, [stored_before])
    completed = (await client.post(started.url("/complete"), headers=started.candidate)).json()
    late = transcript_event("after the end", ts=now_iso(120))
    response = await upload(client, started, [early, late, stored_before])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, [late["id"]])
    texts = [e["payload"].get("text") for e in await all_events(client, started) if e["source"] == "client"]
    assert texts == ["already uploaded", "said before the end"]
    # Late events are kept but change nothing: the session stays as it ended.
    after = (await client.get(started.url(), headers=started.candidate)).json()
    assert after["status"] == "completed" and after["completedAt"] == completed["completedAt"]


async def test_completed_session_refuses_a_batch_with_nothing_acceptable(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    await client.post(started.url("/complete"), headers=started.candidate)
    response = await upload(client, started, [transcript_event("later", ts=now_iso(120))])
    assert response.status_code == 400 and response.json()["code"] == "SESSION_ALREADY_COMPLETED"


async def test_retry_of_stored_events_after_completion_is_duplicates(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    # Stamped ahead of the server clock (a skewed client), then retried after the end.
    skewed = transcript_event("from a fast clock", ts=now_iso(300))
    await upload(client, started, [skewed])
    await client.post(started.url("/complete"), headers=started.candidate)
    response = await upload(client, started, [skewed])
    assert response.status_code == 200
    assert response.json()["duplicates"] == 1 and response.json()["rejected"] == []


@pytest.fixture(scope="module")
def no_grace_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("nograce"), late_upload_grace_seconds="0") as process:
        yield process


async def test_after_the_grace_window_everything_is_refused(no_grace_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=no_grace_server.base_url, timeout=15) as http:
        started = await new_session(http)
        await http.post(started.url("/complete"), headers=started.candidate)
        response = await upload(http, started, [transcript_event("said during", ts=now_iso(-10))])
        assert response.status_code == 400 and response.json()["code"] == "SESSION_ALREADY_COMPLETED"


# ----- paged reading ------------------------------------------------------------------


async def test_events_page_by_after_seq(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    await upload(client, started, mixed_events(10, started.question["id"]))
    first = (await client.get(started.url("/events"), params={"limit": 5}, headers=started.bearer)).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5]
    assert first["hasMore"] is True and first["nextAfterSeq"] == 5 and first["lastSeq"] == 12
    rest = (
        await client.get(started.url("/events"), params={"afterSeq": 5, "limit": 100}, headers=started.bearer)
    ).json()
    assert [e["seq"] for e in rest["events"]] == list(range(6, 13))
    assert rest["hasMore"] is False and rest["nextAfterSeq"] == 12
    empty = (await client.get(started.url("/events"), params={"afterSeq": 12}, headers=started.bearer)).json()
    assert empty["events"] == [] and empty["nextAfterSeq"] == 12 and empty["hasMore"] is False


async def test_event_query_is_validated(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    for params in ({"limit": 0}, {"limit": 1001}, {"afterSeq": -1}, {"limit": "many"}, {"order": "desc"}):
        response = await client.get(started.url("/events"), params=params, headers=started.bearer)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR", params


async def test_recruiter_reads_the_log_but_cannot_upload(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    read = await client.get(started.url("/events"), headers=RECRUITER)
    assert read.status_code == 200 and len(read.json()["events"]) == 2
    write = await client.post(started.url("/events"), json={"events": [transcript_event("x")]}, headers=RECRUITER)
    assert write.status_code == 404 and write.json()["code"] == "SESSION_NOT_FOUND"
    stranger = auth(user_token(unique("cand")))
    assert (await client.get(started.url("/events"), headers=stranger)).status_code == 404


# ----- telemetry ----------------------------------------------------------------------


async def test_interview_session_events_reach_sentry_tagged(
    mongodb_url: str, tmp_path: Path, sentry_sink: tuple[str, EnvelopeSink]
) -> None:
    dsn, sink = sentry_sink
    with tuned_server(mongodb_url, tmp_path, sentry_dsn=dsn, sentry_traces_sample_rate="1.0") as sentry_server:
        async with httpx.AsyncClient(base_url=sentry_server.base_url, timeout=15) as http:
            started = await new_session(http)
            offline = named_event("interview.session.offline_mode", reason="network")
            response = await upload(http, started, [offline, named_event("tab.hidden")])
            assert response.status_code == 200
            message = sink.wait_for(
                lambda item: (
                    (item.get("logentry") or {}).get("message") == "interview.session.offline_mode"
                    or item.get("message") == "interview.session.offline_mode"
                )
            )
            transaction = sink.wait_for(
                lambda item: (
                    item.get("type") == "transaction"
                    and (item.get("tags") or {}).get("session_id") == started.session_id
                    and "/events" in str(item.get("transaction", ""))
                )
            )
    assert message is not None, "the offline-mode event did not reach Sentry"
    assert message["tags"]["session_id"] == started.session_id
    assert message["tags"]["application_id"] == started.application["id"]
    assert message["contexts"]["client_event"]["clientEventId"] == offline["id"]
    assert message["contexts"]["client_event"]["reason"] == "network"
    assert transaction is not None, "the upload request was not tagged with its session"
    assert started.token not in json.dumps(sink.items)
