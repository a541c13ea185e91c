"""Deleting a session on request: everything of it goes, a tombstone says who, a crash never leaves half."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from server.sessions import Role, ServiceConfig, SessionQuery, SessionService, StartLimit, UserPrincipal
from storage import (
    Actor,
    ApplicationDoc,
    Database,
    InterviewSettings,
    SessionMetadata,
    SessionStatus,
    TombstoneDoc,
    ensure_indexes,
    load_packaged_bank,
)
from tests.clock import ManualClock
from tests.session_support import ADMIN, RECRUITER, Started, named_event, new_session
from tests.support import ServerProcess, auth, store_of, unique, user_token
from tests.ws_client import InterviewClient


async def _with_events_and_recording(client: httpx.AsyncClient) -> Started:
    started = await new_session(client)
    events = [named_event("tab.hidden"), named_event("tab.visible")]
    stored = await client.post(started.url("/events"), json={"events": events}, headers=started.bearer)
    assert stored.status_code == 200, stored.text
    headers = {**started.candidate, "Content-Type": "audio/webm"}
    uploaded = await client.post(started.url("/recording"), content=os.urandom(300_000), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    return started


async def _left_of(database: Any, session_id: str) -> dict[str, int]:
    """What the store still holds of a session."""
    return {
        "session": await database.interviewSessions.count_documents({"sessionId": session_id}),
        "events": await database.sessionEvents.count_documents({"sessionId": session_id}),
        "files": await database["recordings.files"].count_documents({"metadata.sessionId": session_id}),
    }


async def test_delete_removes_the_session_its_events_and_its_recording(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    started = await _with_events_and_recording(client)
    async with store_of(server) as database:
        file_ids = await database["recordings.files"].distinct("_id", {"metadata.sessionId": started.session_id})
        assert len(file_ids) == 1 and (await _left_of(database, started.session_id))["events"] > 0

    deleted = await client.delete(started.url(), headers=started.candidate)
    assert deleted.status_code == 204 and deleted.content == b""

    for suffix in ("", "/events", "/recording", "/details"):
        gone = await client.get(started.url(suffix), headers=ADMIN)
        assert gone.status_code == 404 and gone.json()["code"] == "SESSION_NOT_FOUND", suffix
    listed = await client.get("/api/interview/sessions", headers=started.candidate)
    assert started.session_id not in [s["sessionId"] for s in listed.json()["sessions"]]
    again = await client.delete(started.url(), headers=started.candidate)
    assert again.status_code == 404 and again.json()["code"] == "SESSION_NOT_FOUND"

    async with store_of(server) as database:
        assert await _left_of(database, started.session_id) == {"session": 0, "events": 0, "files": 0}
        assert await database["recordings.chunks"].count_documents({"files_id": {"$in": file_ids}}) == 0
        tombstone = await database.sessionTombstones.find_one({"sessionId": started.session_id})
    assert tombstone is not None and tombstone["state"] == "deleted" and tombstone["reason"] == "request"
    assert tombstone["actor"] == {"role": "candidate", "subject": started.application["candidateId"]}
    assert tombstone["finishedAt"] >= tombstone["deletedAt"]


async def test_only_the_candidate_and_admins_may_delete(client: httpx.AsyncClient, server: ServerProcess) -> None:
    started = await new_session(client)
    stranger = auth(user_token(unique("cand")))
    for headers in (stranger, RECRUITER, started.bearer):  # the session token may not either
        refused = await client.delete(started.url(), headers=headers)
        assert refused.status_code == 404 and refused.json()["code"] == "SESSION_NOT_FOUND"
    assert (await client.get(started.url(), headers=started.candidate)).status_code == 200
    assert (await client.delete(started.url(), headers=ADMIN)).status_code == 204
    assert (await client.delete("/api/interview/sessions/not-a-uuid", headers=ADMIN)).status_code == 404
    async with store_of(server) as database:
        tombstone = await database.sessionTombstones.find_one({"sessionId": started.session_id})
    assert tombstone["actor"] == {"role": "admin", "subject": "admin_1"}


async def test_the_live_socket_of_a_deleted_session_is_closed(client: httpx.AsyncClient, server: ServerProcess) -> None:
    started = await new_session(client)
    socket = InterviewClient(server.ws_url, started.token)
    await socket.connect()
    await socket.wait_type("question", number=1)
    assert (await client.delete(started.url(), headers=ADMIN)).status_code == 204
    assert await socket.wait_closed() == 4011
    with pytest.raises(ConnectionRefusedError):  # and it cannot come back
        await socket.connect()


async def test_a_deletion_cut_off_by_a_crash_is_finished_at_start_up(own_server: list[ServerProcess]) -> None:
    first = own_server[0]
    async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http:
        started = await _with_events_and_recording(http)
    first.kill()
    # The crash came after the tombstone and the events, before the session and its recording.
    database = Database(first.mongodb_url, first.env["MONGODB_DB"])
    try:
        repos = database.repositories()
        session = await repos.sessions.get(started.session_id)
        assert session is not None
        tombstone = TombstoneDoc(
            session_id=session.session_id,
            deleted_at=session.updated_at,
            actor=Actor(role="admin", subject="admin_1"),
        )
        assert await repos.tombstones.begin(tombstone)
        assert await repos.events.delete_for_sessions([session.session_id]) > 0
    finally:
        await database.close()

    restarted = ServerProcess(first.mongodb_url, first.data_dir, dict(first.env))
    own_server.append(await asyncio.to_thread(restarted.start))
    async with store_of(restarted) as store:
        async with asyncio.timeout(30):
            while (await store.sessionTombstones.find_one({"sessionId": started.session_id}))["state"] != "deleted":  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.2)
        assert await _left_of(store, started.session_id) == {"session": 0, "events": 0, "files": 0}
    async with httpx.AsyncClient(base_url=restarted.base_url, timeout=15) as http:
        assert (await http.get(started.url(), headers=ADMIN)).status_code == 404


# ----- retention, in-process with a clock the test moves ------------------------------------

RETENTION_DAYS = 30


@pytest.fixture
async def retained(mongodb_url: str) -> AsyncIterator[tuple[SessionService, ManualClock, Database]]:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    clock = ManualClock()
    config = ServiceConfig(start_limit=StartLimit(limit=1000), retention_days=RETENTION_DAYS)
    service = SessionService(database.repositories(), clock=clock, config=config)
    await ensure_indexes(database)
    await service.load_question_bank(await load_packaged_bank())
    try:
        yield service, clock, database
    finally:
        await database.close()


async def _started(service: SessionService, clock: ManualClock) -> str:
    application = ApplicationDoc(
        id=f"app_{uuid.uuid4().hex[:8]}",
        candidate_id="cand_r",
        candidate_name="C",
        job_title="Engineer",
        interview=InterviewSettings(question_count=2),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    await service.create_application(application)
    outcome = await service.start(
        candidate_id="cand_r", application_id=application.id, client_session_id=None, metadata=SessionMetadata()
    )
    return outcome.session.session_id


async def test_retention_deletes_old_ended_sessions_and_keeps_recent_ones(
    retained: tuple[SessionService, ManualClock, Database],
) -> None:
    service, clock, database = retained
    old = await _started(service, clock)
    await service.complete(old)
    still_running = await _started(service, clock)
    clock.advance(timedelta(days=RETENTION_DAYS - 2).total_seconds())
    recent = await _started(service, clock)
    await service.transition(recent, SessionStatus.ABANDONED, reason="inactive")
    clock.advance(timedelta(days=3).total_seconds())  # `old` ended 31 days ago, `recent` 3 days ago

    assert await service.deletion.expire() == 1
    assert await service.find(old) is None
    assert (await service.find(recent)) is not None and (await service.find(still_running)) is not None
    tombstone = await database.repositories().tombstones.get(old)
    assert tombstone is not None and tombstone.reason == "retention" and tombstone.actor.role == "system"
    assert await service.deletion.expire() == 0  # nothing else is old enough
    admin = UserPrincipal("admin_1", Role.ADMIN)
    assert [s.session_id for s in await service.list_for(admin, SessionQuery()) if s.session_id == old] == []
