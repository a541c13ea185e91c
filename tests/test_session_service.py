"""The session core in-process, on the real wire-protocol store, with a clock the tests move by hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from server.sessions import (
    ApplyPolicy,
    DomainError,
    ErrorCode,
    EventType,
    NewClientEvent,
    ServiceConfig,
    SessionService,
    StartLimit,
)
from server.sessions.start_batch import StartBatch, StartOutcome, StartRequest
from storage import (
    ApplicationDoc,
    Database,
    InterviewSettings,
    SessionMetadata,
    SessionStatus,
    ensure_indexes,
    load_packaged_bank,
)
from tests.clock import ManualClock

GRACE_SECONDS = 600
ABANDON_SECONDS = 900


@dataclass
class Core:
    service: SessionService
    clock: ManualClock
    database: Database


@pytest.fixture
async def core(mongodb_url: str) -> AsyncIterator[Core]:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    clock = ManualClock()
    service = SessionService(
        database.repositories(),
        clock=clock,
        config=ServiceConfig(
            abandon_after_seconds=ABANDON_SECONDS,
            late_upload_grace_seconds=GRACE_SECONDS,
            start_limit=StartLimit(limit=1000),
        ),
    )
    await ensure_indexes(database)
    await service.load_question_bank(await load_packaged_bank())
    try:
        yield Core(service, clock, database)
    finally:
        await database.close()


async def new_application(core: Core, questions: int = 3) -> ApplicationDoc:
    application = ApplicationDoc(
        id=f"app_{uuid.uuid4().hex[:8]}",
        candidate_id="cand_1",
        candidate_name="C",
        job_title="Engineer",
        interview=InterviewSettings(question_count=questions),
        created_at=core.clock.now(),
        updated_at=core.clock.now(),
    )
    await core.service.create_application(application)
    return application


async def start(core: Core, questions: int = 3) -> str:
    application = await new_application(core, questions)
    outcome = await core.service.start(
        candidate_id="cand_1", application_id=application.id, client_session_id=None, metadata=SessionMetadata()
    )
    return outcome.session.session_id


def client_event(type_: EventType, core: Core, **payload: object) -> NewClientEvent:
    return NewClientEvent(client_event_id=str(uuid.uuid4()), type=type_, ts=core.clock.now(), payload=dict(payload))


async def test_the_question_clock_runs_only_while_in_progress(core: Core) -> None:
    session_id = await start(core)
    limit = (await core.service.get(session_id)).current_question().time_limit_seconds  # type: ignore[union-attr]
    core.clock.advance(30)
    session = await core.service.get(session_id)
    assert session.question_remaining_seconds(core.clock.now()) == limit - 30
    await core.service.transition(session_id, SessionStatus.PAUSED)
    core.clock.advance(500)  # paused time does not count
    await core.service.transition(session_id, SessionStatus.IN_PROGRESS)
    core.clock.advance(10)
    session = await core.service.get(session_id)
    assert session.question_remaining_seconds(core.clock.now()) == limit - 40


async def test_a_timed_out_question_is_passed_once(core: Core) -> None:
    session_id = await start(core)
    await core.service.timeout_question(session_id, 1)
    await core.service.timeout_question(session_id, 1)  # late duplicate: harmless
    session = await core.service.get(session_id)
    assert session.current_question_number == 2
    events = await core.service.events_after(session_id)
    assert [e.type for e in events].count(EventType.QUESTION_TIMEOUT) == 1


async def test_strict_answers_to_another_question_are_refused_and_not_stored(core: Core) -> None:
    session_id = await start(core)
    answer = client_event(EventType.ANSWER_SUBMIT, core, questionId="q-other", text="x")
    with pytest.raises(DomainError) as refused:
        await core.service.ingest(session_id, [answer], policy=ApplyPolicy.STRICT)
    assert refused.value.code == ErrorCode.QUESTION_MISMATCH
    assert await core.service.known_client_ids(session_id, [answer.client_event_id]) == {}


async def test_replayed_commands_that_no_longer_apply_are_kept_with_their_reason(core: Core) -> None:
    session_id = await start(core)
    first = (await core.service.get(session_id)).current_question()
    assert first is not None
    await core.service.timeout_question(session_id, 1)  # the question moved on before the skip arrived
    late = client_event(EventType.QUESTION_NEXT, core, questionId=first.id)
    outcome = await core.service.ingest(session_id, [late], policy=ApplyPolicy.REPLAY)
    assert outcome.not_applied[late.client_event_id].code == ErrorCode.QUESTION_MISMATCH
    stored = await core.database.collections.events.find_one({"clientEventId": late.client_event_id})
    assert stored is not None and stored["payload"]["questionId"] == first.id
    assert stored["notApplied"]["code"] == "QUESTION_MISMATCH"
    assert (await core.service.get(session_id)).current_question_number == 2


async def recorded_answers(core: Core, session_id: str) -> list[tuple[str, str | None]]:
    events = await core.service.events_after(session_id)
    return [(e.payload["questionId"], e.payload.get("text")) for e in events if e.type == EventType.ANSWER_RECORDED]


async def test_a_late_answer_is_recorded_for_its_question_without_moving_the_flow(core: Core) -> None:
    session_id = await start(core)
    first = (await core.service.get(session_id)).current_question()
    assert first is not None
    await core.service.timeout_question(session_id, 1)  # the answer was on its way when the time ran out
    late = client_event(EventType.ANSWER_SUBMIT, core, questionId=first.id, text="my draft", timedOut=True)
    outcome = await core.service.ingest(session_id, [late], policy=ApplyPolicy.REPLAY)
    assert outcome.not_applied == {}
    assert await recorded_answers(core, session_id) == [(first.id, "my draft")]
    [recorded] = [e for e in await core.service.events_after(session_id) if e.type == EventType.ANSWER_RECORDED]
    assert recorded.payload["answerId"] == late.client_event_id and recorded.payload["timedOut"] is True
    assert (await core.service.get(session_id)).current_question_number == 2


async def test_a_second_answer_to_an_answered_question_is_kept_not_recorded(core: Core) -> None:
    session_id = await start(core)
    first = (await core.service.get(session_id)).current_question()
    assert first is not None
    answer = client_event(EventType.ANSWER_SUBMIT, core, questionId=first.id, text="the answer")
    again = client_event(EventType.ANSWER_SUBMIT, core, questionId=first.id, text="meant for question 2")
    outcome = await core.service.ingest(session_id, [answer, again], policy=ApplyPolicy.REPLAY)
    assert list(outcome.not_applied) == [again.client_event_id]
    assert outcome.not_applied[again.client_event_id].code == ErrorCode.ANSWER_ALREADY_RECORDED
    stored = await core.database.collections.events.find_one({"clientEventId": again.client_event_id})
    assert stored is not None and stored["notApplied"]["code"] == "ANSWER_ALREADY_RECORDED"
    assert await recorded_answers(core, session_id) == [(first.id, "the answer")]
    assert (await core.service.get(session_id)).current_question_number == 2


async def test_an_answer_to_a_question_not_asked_yet_is_kept_with_a_mismatch(core: Core) -> None:
    session_id = await start(core)
    third = (await core.service.get(session_id)).questions[2]
    early = client_event(EventType.ANSWER_SUBMIT, core, questionId=third.id, text="too early")
    outcome = await core.service.ingest(session_id, [early], policy=ApplyPolicy.REPLAY)
    assert outcome.not_applied[early.client_event_id].code == ErrorCode.QUESTION_MISMATCH
    assert await recorded_answers(core, session_id) == []


async def test_strict_answers_name_the_current_question_even_after_a_timeout(core: Core) -> None:
    session_id = await start(core)
    first = (await core.service.get(session_id)).current_question()
    assert first is not None
    await core.service.timeout_question(session_id, 1)
    answer = client_event(EventType.ANSWER_SUBMIT, core, questionId=first.id, text="x")
    with pytest.raises(DomainError) as refused:
        await core.service.ingest(session_id, [answer], policy=ApplyPolicy.STRICT)
    assert refused.value.code == ErrorCode.QUESTION_MISMATCH
    assert await core.service.known_client_ids(session_id, [answer.client_event_id]) == {}


async def test_a_timed_out_skip_is_logged_as_a_timeout(core: Core) -> None:
    session_id = await start(core)
    first = (await core.service.get(session_id)).current_question()
    assert first is not None
    skip = client_event(EventType.QUESTION_NEXT, core, questionId=first.id, timedOut=True)
    await core.service.ingest(session_id, [skip], policy=ApplyPolicy.REPLAY)
    events = await core.service.events_after(session_id)
    [timeout] = [e for e in events if e.type == EventType.QUESTION_TIMEOUT]
    assert timeout.payload == {"questionId": first.id, "number": 1}
    assert (await core.service.get(session_id)).current_question_number == 2


async def test_a_replayed_answer_to_the_current_question_advances(core: Core) -> None:
    session_id = await start(core, questions=1)
    question = (await core.service.get(session_id)).current_question()
    assert question is not None
    answer = client_event(EventType.ANSWER_SUBMIT, core, questionId=question.id, text="done")
    outcome = await core.service.ingest(session_id, [answer], policy=ApplyPolicy.REPLAY)
    assert outcome.not_applied == {}
    assert (await core.service.get(session_id)).status == SessionStatus.COMPLETED


async def test_late_uploads_are_accepted_within_the_grace_window_only(core: Core) -> None:
    session_id = await start(core)
    said_before_the_end = client_event(EventType.TRANSCRIPT, core, text="before", startMs=0, endMs=5)
    core.clock.advance(1)
    await core.service.complete(session_id)
    core.clock.advance(GRACE_SECONDS - 1)
    accepted = await core.service.ingest(session_id, [said_before_the_end])
    assert len(accepted.append.accepted) == 1
    core.clock.advance(2)
    too_late = client_event(EventType.TRANSCRIPT, core, text="late", startMs=0, endMs=5)
    too_late = NewClientEvent(too_late.client_event_id, too_late.type, said_before_the_end.ts, too_late.payload)
    with pytest.raises(DomainError) as closed:
        await core.service.ingest(session_id, [too_late])
    assert closed.value.code == ErrorCode.SESSION_ALREADY_COMPLETED
    again = await core.service.ingest(session_id, [said_before_the_end])  # a retry is always a duplicate
    assert again.append.duplicate_ids == [said_before_the_end.client_event_id]


async def test_sessions_without_connection_or_activity_are_abandoned(core: Core) -> None:
    session_id = await start(core)
    core.clock.advance(ABANDON_SECONDS - 10)
    assert await core.service.abandon_stale() == 0
    await core.service.connections.claim(session_id, "connection-1", core.clock.now() + timedelta(seconds=3600))
    core.clock.advance(60)
    assert await core.service.abandon_stale() == 0  # a live connection's lease protects it
    await core.service.connections.release(session_id, "connection-1")
    core.clock.advance(ABANDON_SECONDS + 1)
    assert await core.service.abandon_stale() == 1
    assert (await core.service.get(session_id)).status == SessionStatus.ABANDONED


async def test_a_session_never_connected_or_whose_holder_died_is_abandoned(core: Core) -> None:
    never_connected = await start(core)
    holder_died = await start(core)
    await core.service.connections.claim(holder_died, "connection-1", core.clock.now() + timedelta(seconds=30))
    core.clock.advance(ABANDON_SECONDS + 60)  # the lease lapsed long ago, and nobody released it
    assert await core.service.abandon_stale() == 2
    for session_id in (never_connected, holder_died):
        assert (await core.service.get(session_id)).status == SessionStatus.ABANDONED


async def test_a_command_a_crash_left_unapplied_is_applied_before_the_next_ones(core: Core) -> None:
    session_id = await start(core, questions=3)
    first, second = (await core.service.get(session_id)).questions[:2]
    stored_only = client_event(EventType.ANSWER_SUBMIT, core, questionId=first.id, text="stored, then the crash")
    # Stored as the inbox stores it, then the process died before applying it.
    await core.service._log.append_client(session_id, [stored_only])
    assert (await core.service.get(session_id)).current_question_number == 1
    after = client_event(EventType.ANSWER_SUBMIT, core, questionId=second.id, text="after the restart")
    outcome = await core.service.ingest(session_id, [after], policy=ApplyPolicy.REPLAY)
    assert outcome.not_applied == {}
    assert await recorded_answers(core, session_id) == [
        (first.id, "stored, then the crash"),
        (second.id, "after the restart"),
    ]
    assert (await core.service.get(session_id)).current_question_number == 3
    assert await core.service._log.pending_commands(session_id) == []


async def test_a_new_connection_settles_what_a_crash_left_pending(core: Core) -> None:
    session_id = await start(core, questions=2)
    first = (await core.service.get(session_id)).questions[0]
    skip = client_event(EventType.QUESTION_NEXT, core, questionId=first.id)
    await core.service._log.append_client(session_id, [skip])
    await core.service.settle_pending(session_id)
    await core.service.settle_pending(session_id)  # settled once: nothing left to do
    assert (await core.service.get(session_id)).current_question_number == 2
    events = await core.service.events_after(session_id)
    assert [e.type for e in events].count(EventType.QUESTION) == 2


async def test_a_start_lost_to_another_process_resumes_the_winner_and_leaves_no_events(core: Core) -> None:
    """Another process's start lands between this batch's reads and its insert: the unique index decides.

    The batch writes its sessions and their first events at once; the loser's first events are removed.
    """
    other = SessionService(core.database.repositories(), clock=core.clock, config=ServiceConfig())
    application = await new_application(core, questions=2)
    build = core.service._starter._new_session  # the real builder; the race is timed through it
    winner: list[str] = []

    async def build_while_another_process_starts(*args: Any) -> Any:
        racer = await other.start(
            candidate_id="cand_1", application_id=application.id, client_session_id=None, metadata=SessionMetadata()
        )
        winner.append(racer.session.session_id)
        return await build(*args)

    batch = StartBatch(
        core.database.repositories(), core.service._log, build_while_another_process_starts, limit=10, window=600
    )
    [outcome] = await batch.run([StartRequest("cand_1", application.id, None, SessionMetadata())])
    assert isinstance(outcome, StartOutcome)
    assert outcome.created is False and outcome.session.session_id == winner[0]
    events = core.database.db["sessionEvents"]
    assert await events.distinct("sessionId", {"type": "session.started"}) == winner
