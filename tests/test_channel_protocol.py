"""The channel's sans-I/O protocol core: handshake, replay cursor, acks, limits and close decisions, no sockets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from realtime.channel import ChannelConfig, ChannelProtocol, Close, CloseCode, State
from realtime.messages import HelloMessage, TranscriptMessage
from server.sessions import AppendResult, DomainError, ErrorCode, IngestOutcome
from storage import EventDoc, EventSource, QuestionCategory, QuestionSnapshot, SessionDoc, SessionStatus
from storage.models import Difficulty

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T0 = 1000.0
A, B, P1 = (str(uuid.uuid4()) for _ in range(3))


@dataclass
class Recorder:
    closes: list[tuple[Close, bool]] = field(default_factory=list)

    def on_close(self, close: Close, flush: bool) -> None:
        self.closes.append((close, flush))


def session(status: SessionStatus = SessionStatus.IN_PROGRESS, last_seq: int = 2) -> SessionDoc:
    question = QuestionSnapshot(
        id="q1",
        number=1,
        text="Why?",
        category=QuestionCategory.TECHNICAL,
        difficulty=Difficulty.MID,
        time_limit_seconds=120,
    )
    return SessionDoc(
        session_id="s1",
        application_id="a1",
        candidate_id="c1",
        status=status,
        started_at=NOW,
        questions=[question],
        asked_question_number=1,
        question_asked_at=NOW,
        last_seq=last_seq,
        created_at=NOW,
        updated_at=NOW,
    )


def event(seq: int, type_: str = "question", **payload: Any) -> EventDoc:
    return EventDoc(session_id="s1", seq=seq, type=type_, ts=NOW, payload=payload, source=EventSource.SERVER)


def protocol(recorder: Recorder | None = None, **config: Any) -> ChannelProtocol:
    recorder = recorder or Recorder()
    return ChannelProtocol(
        ChannelConfig(**config),
        lambda e: {"type": e.type, "seq": e.seq},
        now=T0,
        on_close=recorder.on_close,
    )


def hello(last_seq: int | None = None, pending: list[str] | None = None) -> HelloMessage:
    return HelloMessage(type="hello", token="t", last_seq=last_seq, pending_ids=pending or [])


def transcript(id_: str | None = None) -> str:
    return TranscriptMessage(
        type="transcript", id=id_ or str(uuid.uuid4()), text="hi", start_ms=0, end_ms=10
    ).model_dump_json(by_alias=True)


def open_protocol(**config: Any) -> tuple[ChannelProtocol, Recorder]:
    recorder = Recorder()
    channel = protocol(recorder, **config)
    channel.welcome(session(), hello(), {}, NOW)
    channel.replay_finished(T0)
    return channel, recorder


def test_welcome_first_then_replay_then_open() -> None:
    channel = protocol()
    first = channel.welcome(session(), hello(last_seq=1, pending=[P1]), {P1: 2}, NOW)
    assert [m["type"] for m in first] == ["welcome", "ack"]
    assert first[0]["currentQuestion"]["id"] == "q1" and first[0]["questionRemainingSeconds"] == 120
    assert channel.state == State.REPLAYING and channel.replay_from == 1
    assert channel.render_replayed(event(1)) is None  # the client already has seq 1
    assert channel.render_replayed(event(2)) == {"type": "question", "seq": 2}
    channel.replay_finished(T0)
    assert channel.state == State.OPEN


def test_a_live_event_already_replayed_is_not_sent_twice() -> None:
    channel, _ = open_protocol()
    channel.render_replayed(event(3))
    channel.server_event(event(3), storing=False)
    channel.server_event(event(4), storing=False)
    assert channel.data_to_send() == [{"type": "question", "seq": 4}]


def test_an_ended_session_replays_then_closes_4010() -> None:
    recorder = Recorder()
    channel = protocol(recorder)
    channel.welcome(session(SessionStatus.COMPLETED), hello(), {}, NOW)
    assert recorder.closes == [(Close(CloseCode.SESSION_ENDED, "session completed"), True)]  # after the replay
    assert channel.render_replayed(event(2, "session.completed", status="completed")) is not None
    assert channel.data_to_send() == [Close(CloseCode.SESSION_ENDED, "session completed")]


def test_an_ended_session_waits_for_pending_messages_before_closing() -> None:
    recorder = Recorder()
    channel = protocol(recorder)
    channel.welcome(session(SessionStatus.COMPLETED), hello(pending=[A, B]), {A: 5}, NOW)
    assert channel.awaiting == {B} and recorder.closes == []
    message = TranscriptMessage.model_validate_json(transcript(B))
    request = channel.store_request([message], NOW)
    channel.stored(request, IngestOutcome(append=AppendResult(seq_by_client_id={B: 6})))
    channel.after_store()
    assert recorder.closes[-1] == (Close(CloseCode.SESSION_ENDED, "session ended"), True)


def test_acks_come_only_for_what_was_stored_and_refusals_name_their_id() -> None:
    channel, _ = open_protocol()
    ok, late, skipped = (TranscriptMessage.model_validate_json(transcript()) for _ in range(3))
    request = channel.store_request([ok, late, skipped], NOW)
    outcome = IngestOutcome(
        append=AppendResult(seq_by_client_id={ok.id: 3, skipped.id: 4}),
        rejected_ids=[late.id],
        not_applied={skipped.id: DomainError(ErrorCode.QUESTION_MISMATCH, "other question", {"questionId": "q0"})},
    )
    fresh = channel.stored(request, outcome)
    sent = channel.data_to_send()
    assert fresh == [ok, skipped]
    assert sent[0] == {"type": "ack", "ids": [ok.id, skipped.id]}
    errors = {m["id"]: m for m in sent if isinstance(m, dict) and m["type"] == "error"}
    assert errors[skipped.id]["code"] == "QUESTION_MISMATCH"
    assert errors[skipped.id]["details"] == {"stored": True, "applied": False, "questionId": "q0"}
    assert errors[late.id]["retryable"] is False


def test_rate_limit_warns_once_then_closes_4008() -> None:
    channel, recorder = open_protocol(rate_per_second=1, rate_burst=2)
    frames = [transcript() for _ in range(4)]
    results = [channel.receive(frame, T0) for frame in frames]
    assert results[0] is not None and results[1] is not None and results[2] is None
    warning = channel.data_to_send()[0]
    assert warning["code"] == "RATE_LIMITED" and warning["retryable"] is True
    assert recorder.closes == [(Close(CloseCode.POLICY_VIOLATION, "rate limit exceeded"), True)]


def test_rate_limit_forgives_a_client_that_slows_down() -> None:
    channel, recorder = open_protocol(rate_per_second=1, rate_burst=2)
    for _ in range(3):
        channel.receive(transcript(), T0)
    assert channel.receive(transcript(), T0 + 10) is not None  # the bucket refilled meanwhile
    assert recorder.closes == []


@pytest.mark.parametrize(
    ("frame", "code"),
    [(b"\x00binary", "VALIDATION_ERROR"), ("{not json", "INVALID_JSON"), ('{"type": "nope"}', "UNKNOWN_MESSAGE_TYPE")],
)
def test_garbage_is_answered_and_ten_of_it_closes_4008(frame: str | bytes, code: str) -> None:
    channel, recorder = open_protocol()
    for _ in range(9):
        assert channel.receive(frame, T0) is None
    assert recorder.closes == []
    assert {m["code"] for m in channel.data_to_send() if isinstance(m, dict)} == {code}
    channel.receive(frame, T0)
    assert recorder.closes == [(Close(CloseCode.POLICY_VIOLATION, "too many invalid messages"), True)]


def test_a_frame_over_the_limit_closes_1009_at_once() -> None:
    channel, recorder = open_protocol(max_message_bytes=1024)
    assert channel.receive("x" * 2000, T0) is None
    assert recorder.closes == [(Close(CloseCode.MESSAGE_TOO_BIG, "message too big"), False)]


def test_heartbeat_pings_and_idle_peer_is_closed_4002() -> None:
    channel, recorder = open_protocol(heartbeat_seconds=5, idle_timeout_seconds=12)
    assert channel.next_deadline() == T0 + 5
    channel.tick(T0 + 5)
    assert channel.data_to_send()[0]["type"] == "ping"
    channel.receive('{"type": "pong"}', T0 + 6)  # a sign of life moves the idle deadline
    channel.tick(T0 + 17)
    assert recorder.closes == []
    channel.tick(T0 + 18)
    assert recorder.closes == [(Close(CloseCode.IDLE_TIMEOUT, "idle timeout"), False)]


def test_the_lease_is_renewed_at_half_time() -> None:
    channel, _ = open_protocol(heartbeat_seconds=20, idle_timeout_seconds=10_000)
    lease = ChannelConfig(idle_timeout_seconds=10_000).lease_seconds
    renewals = [channel.tick(T0 + t) for t in range(20, int(lease), 20)]
    assert renewals.count(True) == 1 and renewals.index(True) == int(lease / 2 / 20) - 1


def test_a_client_that_falls_behind_is_closed_1013() -> None:
    channel, recorder = open_protocol(send_queue_size=8)
    for seq in range(3, 12):
        channel.server_event(event(seq), storing=False)
    assert recorder.closes == [(Close(CloseCode.TRY_AGAIN_LATER, "slow consumer"), False)]
    assert channel.data_to_send() == [Close(CloseCode.TRY_AGAIN_LATER, "slow consumer")]


def test_a_terminal_state_event_closes_after_what_was_queued() -> None:
    channel, _ = open_protocol()
    channel.server_event(event(3, "session.completed", status="completed"), storing=False)
    assert channel.data_to_send() == [
        {"type": "session.completed", "seq": 3},
        Close(CloseCode.SESSION_ENDED, "session ended"),
    ]


def test_a_terminal_state_event_during_a_store_waits_for_its_acks() -> None:
    channel, recorder = open_protocol()
    channel.server_event(event(3, "session.completed", status="completed"), storing=True)
    assert recorder.closes == []
    channel.after_store()
    assert recorder.closes[-1][0].code == CloseCode.SESSION_ENDED


def test_failure_says_why_then_closes() -> None:
    channel, _ = open_protocol()
    channel.fail(ErrorCode.STORAGE_UNAVAILABLE, "Storage is unavailable", CloseCode.INTERNAL_ERROR, id="x")
    sent = channel.data_to_send()
    assert sent[0]["code"] == "STORAGE_UNAVAILABLE" and sent[0]["retryable"] is True and sent[0]["id"] == "x"
    assert sent[1] == Close(CloseCode.INTERNAL_ERROR, "storage is unavailable")
    assert channel.closed() == Close(CloseCode.INTERNAL_ERROR, "storage is unavailable")


def test_messages_after_a_close_decision_are_left_unacked() -> None:
    channel, _ = open_protocol()
    channel.request_close(CloseCode.REPLACED, "replaced")
    assert channel.receive(transcript(), T0) is None


def test_a_moving_replay_needs_no_pings_but_a_stuck_one_ends_as_a_slow_consumer() -> None:
    recorder = Recorder()
    channel = protocol(recorder, heartbeat_seconds=1, send_queue_size=3)
    channel.welcome(session(), hello(), {}, NOW)
    for second in range(1, 6):  # the client reads: every heartbeat saw replayed messages go out
        channel.render_replayed(event(second + 10))
        channel.tick(T0 + second)
    assert channel.data_to_send() == [] and recorder.closes == []
    for second in range(6, 12):  # the replay is stuck behind a client that stopped reading
        channel.tick(T0 + second)
    assert recorder.closes == [(Close(CloseCode.TRY_AGAIN_LATER, "slow consumer"), False)]
