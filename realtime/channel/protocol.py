"""The channel's decisions, free of sockets and tasks (sans-I/O, as python-websockets' `protocol.py`).

`ChannelProtocol` takes what happened in (a client frame, a stored server event,
the result of a store call, the time) and answers with what to do: messages
queued for the writer, client messages to store, a close decision. It never
awaits and owns no task; `realtime/channel/asyncio/connection.py` drives it.
Times are monotonic seconds passed in by the caller, so tests advance them.

One connection goes OPENING (hello accepted, welcome queued) -> REPLAYING (the
writer sends stored events after `lastSeq`) -> OPEN (live) -> CLOSING (a close is
decided; what was queued before it is still sent) -> CLOSED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from realtime.channel.actions import Close, Outgoing, State, StoreRequest
from realtime.channel.close_codes import CloseCode
from realtime.channel.config import GARBAGE_LIMIT, GARBAGE_WINDOW_SECONDS, ChannelConfig
from realtime.channel.errors import retryable
from realtime.channel.framing import Complaint, TooBig, parse_frame, peek_id
from realtime.channel.limits import StrikeCounter, TokenBucket
from realtime.messages import (
    ENVELOPE_FIELDS,
    AckMessage,
    ClientEventMessage,
    ErrorMessage,
    HelloMessage,
    MediaCapabilities,
    PingMessage,
    PongMessage,
    ServerMessage,
    SignallingMessage,
    WelcomeMessage,
)
from server.sessions import (
    STATE_EVENT_TYPES,
    DomainError,
    ErrorCode,
    IngestOutcome,
    NewClientEvent,
    QuestionView,
    client_event_time,
    session_closed,
    stored_client_payload,
)
from storage import TERMINAL_STATUSES, EventDoc, SessionDoc, SessionStatus

Render = Callable[[EventDoc], dict[str, Any]]
_TERMINAL = {s.value for s in TERMINAL_STATUSES}


class ChannelProtocol:
    """One connection's state machine (see the module docstring)."""

    def __init__(
        self,
        config: ChannelConfig,
        render: Render,
        *,
        now: float,
        on_output: Callable[[], None] = lambda: None,
        on_close: Callable[[Close, bool], None] = lambda close, flush: None,
    ) -> None:
        self.config = config
        self.state = State.OPENING
        self.close: Close | None = None  # decided; immediate unless a flush marker is queued
        self.status = ""
        self.ended = False
        self.awaiting: set[str] = set()  # pending ids an ended session still waits for
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "sent": 0}
        self._render = render
        self._on_output = on_output
        self._on_close = on_close
        # A list, not a deque: an idle connection's queue is empty, and an empty deque costs ~600 bytes.
        self._queue: list[Outgoing] = []
        self._queued = 0
        self._last_sent_seq = 0
        self._resume_from = 0
        self._last_heard = now
        self._next_ping = now + config.heartbeat_seconds
        self._lease_renew_at = now + config.lease_seconds / 2
        self._bucket = TokenBucket(config.rate_per_second, config.rate_burst, now)
        self._rate_warned = False
        self._replay_moved = False
        self._garbage = StrikeCounter(GARBAGE_LIMIT, GARBAGE_WINDOW_SECONDS)

    # ----- state ---------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self.state in (State.CLOSING, State.CLOSED)

    @property
    def replay_from(self) -> int:
        return self._resume_from

    def done_when_idle(self) -> bool:
        """An ended session with nothing left to settle closes once its queue is flushed."""
        return self.ended and not self.awaiting

    # ----- handshake -------------------------------------------------------------

    def welcome(
        self, session: SessionDoc, hello: HelloMessage, known: dict[str, int], now: datetime
    ) -> list[dict[str, Any]]:
        """The messages to send first: `welcome`, and the `ack` of already-stored pending ids.

        The replay follows them, then whatever was queued meanwhile.
        """
        self.status = session.status.value
        self._resume_from = hello.last_seq or 0
        self._last_sent_seq = self._resume_from
        question = session.current_question()
        asked = question is not None and session.is_active and session.asked_question_number >= question.number
        welcome = WelcomeMessage(
            session_id=session.session_id,
            status=session.status.value,
            current_question=QuestionView.of(question, len(session.questions)) if asked and question else None,
            question_remaining_seconds=session.question_remaining_seconds(now) if asked else None,
            last_seq=session.last_seq,
            heartbeat_seconds=self.config.heartbeat_seconds,
            max_message_bytes=self.config.max_message_bytes,
            ice_servers=self.config.ice_servers,
            server_time=now,
            media=MediaCapabilities(transcription=self.config.transcription, voice=self.config.voice),
            rate_limit_per_second=self.config.rate_per_second,
            rate_limit_burst=self.config.rate_burst,
        )
        first = [welcome.to_json_dict()]
        if known:
            first.append(AckMessage(ids=list(known)).to_json_dict())
        self.stats["sent"] += len(first)
        if not self.closing:  # a close asked for while opening (a takeover, a shutdown) stands
            self.state = State.REPLAYING
        if session.status in TERMINAL_STATUSES:
            # Ended: replay, settle the pending messages it still has to resend, then 4010.
            self.ended = True
            self.awaiting = {i for i in hello.pending_ids if i not in known}
            if not self.awaiting:
                self.request_close(CloseCode.SESSION_ENDED, f"session {session.status.value}", flush=True)
        return first

    def render_replayed(self, event: EventDoc) -> dict[str, Any] | None:
        """The message for a replayed event, or None when this connection already sent its seq."""
        self._replay_moved = True
        message = self._render_once(event)
        self.stats["sent"] += message is not None
        return message

    def replay_finished(self, now: float) -> None:
        self._last_heard = now
        if self.state == State.REPLAYING:
            self.state = State.OPEN

    def settle_deadline_passed(self) -> None:
        """An ended session waited long enough for pending messages: close."""
        self.awaiting.clear()
        self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)

    # ----- outgoing ----------------------------------------------------------------

    def server_event(self, event: EventDoc, *, storing: bool) -> None:
        """A new stored event of the session (from the hub); `storing`: a client batch is in flight."""
        if event.type in STATE_EVENT_TYPES:
            self.status = str(event.payload.get("status", self.status))
            if self.status in _TERMINAL:
                self.ended = True
        self._push(event)
        # Before the welcome the pending ids are not known yet: `welcome` decides the close then.
        if self.ended and self.state != State.OPENING and not storing and not self.awaiting:
            self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)

    def send(self, message: ServerMessage | dict[str, Any]) -> None:
        """Queue an ephemeral message (no seq): ack, ping, error, partial transcript, signalling..."""
        self._push(message.to_json_dict() if isinstance(message, ServerMessage) else message)

    def send_error(
        self,
        code: ErrorCode,
        message: str,
        *,
        id: str | None = None,
        details: Any = None,
        retry: bool | None = None,
    ) -> None:
        retry = retryable(code) if retry is None else retry
        self.send(ErrorMessage(code=code.value, message=message, id=id, details=details, retryable=retry))

    def data_to_send(self) -> list[dict[str, Any] | Close]:
        """Everything the writer may send now, in order; a Close ends the list (and the connection)."""
        out: list[dict[str, Any] | Close] = []
        queue, self._queue = self._queue, []
        self._queued = 0
        for item in queue:
            if isinstance(item, Close):
                self.close = item
                out.append(item)
                break
            if isinstance(item, EventDoc):
                rendered = self._render_once(item)
                if rendered is not None:
                    out.append(rendered)
            else:
                out.append(item)
        self.stats["sent"] += sum(1 for item in out if not isinstance(item, Close))
        return out

    def _render_once(self, event: EventDoc) -> dict[str, Any] | None:
        if event.seq <= self._last_sent_seq:
            return None  # already replayed (or sent live): the client sees each seq once per connection
        self._last_sent_seq = event.seq
        return self._render(event)

    def _push(self, item: Outgoing) -> None:
        if self.state == State.CLOSED:
            return
        if self._queued >= self.config.send_queue_size:
            self.request_close(CloseCode.TRY_AGAIN_LATER, "slow consumer")
            return
        self._queue.append(item)
        self._queued += 1
        self._on_output()

    # ----- incoming ------------------------------------------------------------------

    def receive(self, frame: str | bytes, now: float) -> ClientEventMessage | SignallingMessage | None:
        """A client frame: a message to store or to signal, or None when it was answered here."""
        self._last_heard = now
        self.stats["received"] += 1
        if self.closing:
            return None  # left unacked: the client resends it after reconnecting
        if not self._admit(frame, now):
            return None
        return self._parse(frame, now)

    def _admit(self, frame: str | bytes, now: float) -> bool:
        """Rate limit: a warning `error` first, then 4008 if the client keeps going."""
        if self._bucket.take(now):
            if self._rate_warned and self._bucket.full(now):
                self._rate_warned = False
            return True
        if self._rate_warned:
            self.request_close(CloseCode.POLICY_VIOLATION, "rate limit exceeded", flush=True)
            return False
        self._rate_warned = True
        self.send_error(
            ErrorCode.RATE_LIMITED,
            "Too many messages; slow down and resend this one later",
            id=peek_id(frame),
            details={"retryAfterMs": self._bucket.retry_after_ms()},
        )
        return False

    def _parse(self, frame: str | bytes, now: float) -> ClientEventMessage | SignallingMessage | None:
        parsed = parse_frame(frame, self.config.max_message_bytes)
        if isinstance(parsed, TooBig):
            self.request_close(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return None
        if isinstance(parsed, Complaint):
            self.send_error(parsed.code, parsed.message, id=parsed.id, details=parsed.details, retry=False)
            if self._garbage.add(now):
                self.request_close(CloseCode.POLICY_VIOLATION, "too many invalid messages", flush=True)
            return None
        return None if isinstance(parsed, PongMessage) else parsed

    # ----- storing client messages -------------------------------------------------------

    def store_request(self, batch: list[ClientEventMessage], now: datetime) -> StoreRequest:
        """The events to store for `batch`; payloads that fail validation are answered here."""
        request = StoreRequest()
        for message in batch:
            self.awaiting.discard(message.id)
            try:
                # The frame's parse validated the payload already (the message is its model): one pass.
                payload = stored_client_payload(message, message.type, exclude=ENVELOPE_FIELDS)
                ts = client_event_time(message.ts, now)
            except DomainError as error:
                self.send_error(error.code, error.message, id=message.id, details=error.details, retry=False)
                continue
            request.events.append(
                NewClientEvent(client_event_id=message.id, type=message.event_type, ts=ts, payload=payload)
            )
            request.by_id.setdefault(message.id, message)
        return request

    def stored(self, request: StoreRequest, outcome: IngestOutcome) -> list[ClientEventMessage]:
        """Ack what the store returned; answer the rest. Returns the messages stored for the first time."""
        stored = outcome.append.seq_by_client_id
        duplicates = set(outcome.append.duplicate_ids)
        acked = [id for id in request.by_id if id in stored]
        if acked:
            self.send(AckMessage(ids=acked))
        fresh = []
        for id in acked:
            self.stats["duplicates" if id in duplicates else "stored"] += 1
            if id not in duplicates:
                fresh.append(request.by_id[id])
        for id, refusal in outcome.not_applied.items():
            # Stored (and acked), but it changed nothing: say why, so the page can show it.
            extra = refusal.details if isinstance(refusal.details, dict) else {}
            details = {"stored": True, "applied": False, **extra}
            self.send_error(refusal.code, refusal.message, id=id, details=details, retry=False)
        status = SessionStatus(self.status) if self.status in _TERMINAL else SessionStatus.ABANDONED
        for id in request.by_id:
            if id in outcome.rejected_ids:
                closed = session_closed(status)
                self.send_error(closed.code, "The session had ended before this happened", id=id, retry=False)
            elif id not in stored:  # pragma: no cover - ingest answers every id
                self.send_error(ErrorCode.INTERNAL_ERROR, "Message was not stored", id=id)
        return fresh

    def store_refused(self, request: StoreRequest, error: DomainError) -> None:
        """The session is closed to every message of the batch."""
        for id in request.by_id:
            self.send_error(error.code, error.message, id=id, details=error.details, retry=False)

    def after_store(self) -> None:
        if self.done_when_idle():
            self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)

    # ----- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """When `tick` has something to do next (monotonic seconds)."""
        return min(self._next_ping, self._idle_deadline())

    def _idle_deadline(self) -> float:
        if self.state != State.OPEN:
            return self._next_ping + self.config.idle_timeout_seconds  # nothing is read during the replay
        return self._last_heard + self.config.idle_timeout_seconds

    def tick(self, now: float) -> bool:
        """Heartbeat and idle timeout; True when the connection lease is due for renewal."""
        if self.closing:
            return False
        if self.state == State.OPEN and now >= self._idle_deadline():
            self.request_close(CloseCode.IDLE_TIMEOUT, "idle timeout")
            return False
        if now < self._next_ping:
            return False
        # A replay that moves is proof enough that the client reads; pings pile up (and end
        # the connection as a slow consumer) only behind a replay that is stuck.
        if self.state != State.REPLAYING or not self._replay_moved:
            self.send(PingMessage(ts=int(time.time() * 1000)))
        self._replay_moved = False
        self._next_ping = now + self.config.heartbeat_seconds
        if not self.ended and now >= self._lease_renew_at:
            self._lease_renew_at = now + self.config.lease_seconds / 2
            return True
        return False

    # ----- closing -------------------------------------------------------------------------

    def request_close(self, code: CloseCode, reason: str, *, flush: bool = False) -> None:
        """Close with `code`; with `flush`, after everything already queued has been sent.

        Without `flush` the close is immediate: `on_close(close, False)` tells the shell to stop
        at once, even while the writer is stuck sending to a client that does not read.
        `on_close(close, flush)` is told of every decision (the shell logs it).
        """
        if self.closing:
            return
        self.state = State.CLOSING
        close = Close(code, reason)
        if not flush:
            self._queue.clear()
        self._queue.append(close)
        self._on_output()
        self._on_close(close, flush)

    def fail(self, code: ErrorCode, message: str, close_code: CloseCode, *, id: str | None = None) -> None:
        """Say why in an `error`, then close after it."""
        if self.closing:
            return
        self.send_error(code, message, id=id)
        self.request_close(close_code, message.lower()[:100], flush=True)

    def closed(self) -> Close:
        """The connection is over; the close to send (NORMAL when nothing was decided)."""
        self.state = State.CLOSED
        pending = next((item for item in self._queue if isinstance(item, Close)), None)
        return self.close or pending or Close(CloseCode.NORMAL, "")
