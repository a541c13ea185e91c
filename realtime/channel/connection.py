"""One live WebSocket connection of an interview, from a valid `hello` to its close.

It owns its tasks (writer, reader, processor, heartbeat, question timer, token
refresh) and cancels and awaits them all when it ends. The writer is the only
task that sends: it first replays the persisted server events after the
client's `lastSeq`, then drains a bounded queue fed by the SessionHub (live
events), by the processor (`ack`, `error`) and by the heartbeat (`ping`). The
hub listener is subscribed before the replay is read and the writer skips every
seq it already sent, so nothing falls into the gap between replay and live
delivery. A client that lets the queue fill up is closed with 1013 and resumes
by replay.

The reader starts after the replay; it rate-limits, parses and validates, and
passes state-changing messages to the processor, which stores them in order
through `SessionService.ingest_client_events` (messages that queued up while the
store was busy go in one call) and acks them only after the write returned.
Nothing here imports Starlette; the endpoint adapts its WebSocket to `Transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sentry_sdk
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from realtime.channel.close_codes import CloseCode
from realtime.channel.limits import StrikeCounter, TokenBucket
from realtime.channel.protocol import (
    CLIENT_MESSAGE_ADAPTER,
    RETRYABLE_ERROR_CODES,
    STATE_EVENT_TYPES,
    AckMessage,
    ErrorMessage,
    EventMessage,
    HelloMessage,
    PingMessage,
    PongMessage,
    ServerMessage,
    WelcomeMessage,
    render_event,
    stored_payload,
)
from realtime.channel.question_timer import QuestionTimer
from realtime.channel.registry import ConnectionRegistry
from server import telemetry
from server.auth import Authenticator, IssuedToken
from server.config import Settings
from server.errors import AppError, ErrorCode
from server.principals import SessionPrincipal
from server.sessions import NewClientEvent, SessionHub, SessionService, question_payload, utcnow
from server.sessions.client_events import validate_client_payload
from server.wire import QuestionOut
from storage.events import EventRepository
from storage.models import TERMINAL_STATUSES, EventDoc, EventSource, SessionDoc

logger = logging.getLogger(__name__)

REPLAY_PAGE_SIZE = 200
MAX_BATCH = 50  # client messages stored with one ingest call when they queued up behind a slow store
GARBAGE_LIMIT = 10  # invalid messages within GARBAGE_WINDOW_SECONDS before closing 4008
GARBAGE_WINDOW_SECONDS = 60.0
STORAGE_RETRY_SECONDS = 1.0
# The session is marked connected (`connectedUntil`) for this long and renewed at half-time,
# so the abandon sweeper leaves it alone; a dead process's mark simply runs out.
CONNECTION_LEASE_SECONDS = 300.0
_TIMER_EVENTS = frozenset({"question", "question.timeout", *STATE_EVENT_TYPES})
_RETRYABLE = RETRYABLE_ERROR_CODES


class ConnectionLost(Exception):
    """The peer is gone; nothing more can be sent."""


class Transport(Protocol):
    """The socket as the connection sees it (the endpoint adapts Starlette's WebSocket)."""

    async def receive(self) -> str | bytes | None:
        """The next frame; None once the peer disconnected."""

    async def send(self, text: str) -> None:
        """Send one text frame; raises ConnectionLost."""

    async def close(self, code: int, reason: str) -> None:
        """Close with `code` (a no-op when already closed)."""


class ConnectionHook(Protocol):
    """A per-connection extension for message types the core does not know (e.g. WebRTC signalling)."""

    message_types: frozenset[str]

    async def on_message(self, message: dict[str, Any]) -> None:
        """Handle one raw client message of `message_types`; raise AppError to answer with `error`."""

    async def close(self) -> None:
        """Release everything; called once when the connection ends."""


HookFactory = Callable[["Connection"], ConnectionHook | None]


@dataclass(frozen=True)
class ChannelConfig:
    """The ws_* settings, resolved once."""

    heartbeat_seconds: float = 20.0
    idle_timeout_seconds: float = 60.0
    hello_timeout_seconds: float = 5.0
    max_message_bytes: int = 64 * 1024
    rate_per_second: float = 20.0
    rate_burst: int = 60
    send_queue_size: int = 256
    token_refresh_before_seconds: int = 300
    ice_servers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelConfig:
        ice_servers = json.loads(settings.ice_servers or "[]")
        if not isinstance(ice_servers, list):
            raise ValueError("ICE_SERVERS must be a JSON list")
        return cls(
            heartbeat_seconds=settings.ws_heartbeat_seconds,
            idle_timeout_seconds=settings.ws_idle_timeout_seconds,
            hello_timeout_seconds=settings.ws_hello_timeout_seconds,
            max_message_bytes=settings.ws_max_message_bytes,
            rate_per_second=settings.ws_rate_limit_per_second,
            rate_burst=settings.ws_rate_limit_burst,
            send_queue_size=settings.ws_send_queue_size,
            token_refresh_before_seconds=settings.token_refresh_before_seconds,
            ice_servers=ice_servers,
        )


@dataclass
class ChannelContext:
    """What every connection of one app shares."""

    config: ChannelConfig
    service: SessionService
    events: EventRepository
    hub: SessionHub
    auth: Authenticator
    registry: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    hook_factories: list[HookFactory] = field(default_factory=list)


@dataclass(frozen=True)
class _Close:
    code: CloseCode
    reason: str


_QueueItem = EventDoc | dict[str, Any] | _Close


class Connection:
    """One authenticated socket of one session (see the module docstring)."""

    def __init__(
        self,
        channel: ChannelContext,
        transport: Transport,
        principal: SessionPrincipal,
        token_expires_at: datetime,
    ) -> None:
        self.channel = channel
        self.config = channel.config
        self.service = channel.service
        self.principal = principal
        self.session_id = principal.session_id
        self._transport = transport
        self._token_expires_at = token_expires_at
        self._log = {"session_id": self.session_id}
        self._queue: asyncio.Queue[_QueueItem] = asyncio.Queue(self.config.send_queue_size)
        self._inbox: asyncio.Queue[Any] = asyncio.Queue(MAX_BATCH)
        self._status = ""
        self._stop = asyncio.Event()
        self._replayed = asyncio.Event()
        self._busy = asyncio.Lock()
        self._close: _Close | None = None
        self._closing = False  # a close was requested (maybe still flushing the queue)
        self._pending_close: _Close | None = None
        self._final_error: dict[str, Any] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._disconnected = False
        self._ended = False
        self._awaiting: set[str] = set()
        self._resume_from = 0
        self._last_sent_seq = 0
        self._last_heard = time.monotonic()
        self._lease_renew_at = 0.0
        self._bucket = TokenBucket(self.config.rate_per_second, self.config.rate_burst)
        self._rate_warned = False
        self._garbage = StrikeCounter(GARBAGE_LIMIT, GARBAGE_WINDOW_SECONDS)
        self._timer = QuestionTimer(self.service, self.session_id)
        self._hooks: dict[str, ConnectionHook] = {}
        self._hook_list: list[ConnectionHook] = []
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "sent": 0}

    # ----- public API for hooks and the registry ---------------------------------

    @property
    def close_code(self) -> CloseCode | None:
        return self._close.code if self._close else None

    def send_ephemeral(self, message: ServerMessage | dict[str, Any]) -> None:
        """Queue a message that has no seq (ack, ping, partial transcript...); never blocks."""
        data = message.to_json_dict() if isinstance(message, ServerMessage) else message
        self._enqueue(data)

    def send_error(
        self,
        code: ErrorCode,
        message: str,
        *,
        id: str | None = None,
        details: Any = None,
        retryable: bool | None = None,
    ) -> None:
        self.send_ephemeral(
            ErrorMessage(
                code=code.value,
                message=message,
                id=id,
                details=details,
                retryable=code in _RETRYABLE if retryable is None else retryable,
            )
        )

    def request_close(self, code: CloseCode, reason: str, *, flush: bool = False) -> None:
        """Close with `code`; with `flush`, after everything already queued has been sent."""
        if self._closing or self._stop.is_set():
            return
        self._closing = True
        if flush:
            self._pending_close = _Close(code, reason)
            try:
                self._queue.put_nowait(self._pending_close)
                return
            except asyncio.QueueFull:
                pass
        self._close = _Close(code, reason)
        self._stop.set()

    async def retire(self) -> None:
        """Taken over by a newer connection: finish the message in progress, then close 4009."""
        self.request_close(CloseCode.REPLACED, "replaced by a newer connection")
        async with self._busy:
            pass

    # ----- lifecycle -----------------------------------------------------------

    async def run(self, hello: HelloMessage) -> None:
        """Serve the connection until it closes; never raises for client or storage trouble."""
        channel = self.channel
        # Subscribe and claim with no await in between: the hub listener and the registry agree.
        unsubscribe = channel.hub.subscribe(self.session_id, self._on_event)
        previous = channel.registry.claim(self.session_id, self)
        tasks: list[asyncio.Task[None]] = []
        try:
            if previous is not None:
                await previous.retire()
            session = await self._start(hello)
            self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.session_id}")
            tasks.append(self._writer)
            tasks.append(asyncio.create_task(self._read(), name=f"ws-reader-{self.session_id}"))
            tasks.append(asyncio.create_task(self._process(), name=f"ws-processor-{self.session_id}"))
            tasks.append(asyncio.create_task(self._heartbeat(), name=f"ws-heartbeat-{self.session_id}"))
            if session.status in TERMINAL_STATUSES:
                tasks.append(asyncio.create_task(self._drain_deadline(), name=f"ws-drain-{self.session_id}"))
            else:
                tasks.append(asyncio.create_task(self._timer.run(), name=f"ws-timer-{self.session_id}"))
                tasks.append(asyncio.create_task(self._refresh_tokens(), name=f"ws-refresh-{self.session_id}"))
                self._start_hooks()
            for task in tasks:
                task.add_done_callback(self._on_task_done)
            await self._stop.wait()
        except ConnectionLost:
            self._disconnected = True
        except PyMongoError as error:
            self._storage_failed(error, None)
        except Exception as error:
            logger.exception("connection failed", extra=self._log)
            sentry_sdk.capture_exception(error)
            self._fail(ErrorCode.INTERNAL_ERROR, "Internal server error", CloseCode.INTERNAL_ERROR)
        finally:
            await self._teardown(tasks, unsubscribe)

    async def _start(self, hello: HelloMessage) -> SessionDoc:
        """Welcome, acks of already-stored pending ids; the writer replays next."""
        service = self.service
        session = await service.get(self.session_id)
        if session.is_active:
            if await service.ask_current_question(session) is not None:
                session = await service.get(self.session_id)
            await self._touch()
        known: dict[str, int] = {}
        if hello.pending_ids:
            known = await service.event_log.known_client_ids(self.session_id, list(dict.fromkeys(hello.pending_ids)))
        self._status = session.status.value
        self._resume_from = hello.last_seq or 0
        self._last_sent_seq = self._resume_from
        question = session.current_question()
        asked = question is not None and session.is_active and session.asked_question_number >= question.number
        welcome = WelcomeMessage(
            session_id=session.session_id,
            status=session.status.value,
            current_question=QuestionOut.model_validate(question_payload(question, len(session.questions)))
            if asked and question
            else None,
            question_remaining_seconds=session.question_remaining_seconds(utcnow()) if asked else None,
            last_seq=session.last_seq,
            heartbeat_seconds=self.config.heartbeat_seconds,
            max_message_bytes=self.config.max_message_bytes,
            ice_servers=self.config.ice_servers,
            server_time=utcnow(),
        )
        await self._send(welcome.to_json_dict())
        if known:
            await self._send(AckMessage(ids=list(known)).to_json_dict())
        sentry_sdk.add_breadcrumb(category="session", message=f"hello ({session.status.value})", data=dict(self._log))
        if session.status in TERMINAL_STATUSES:
            # Ended: replay, settle the pending messages it still has to resend, then 4010.
            self._ended = True
            self._awaiting = {i for i in hello.pending_ids if i not in known}
            if not self._awaiting:
                self.request_close(CloseCode.SESSION_ENDED, f"session {session.status.value}", flush=True)
        return session

    def _start_hooks(self) -> None:
        for factory in self.channel.hook_factories:
            hook = factory(self)
            if hook is None:
                continue
            self._hook_list.append(hook)
            for type_ in hook.message_types:
                self._hooks[type_] = hook

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, PyMongoError):
            self._storage_failed(error, None)
        elif error is not None:
            logger.error("connection task %s failed", task.get_name(), exc_info=error, extra=self._log)
            sentry_sdk.capture_exception(error)
            self._fail(ErrorCode.INTERNAL_ERROR, "Internal server error", CloseCode.INTERNAL_ERROR)
        if task is self._writer:
            self._stop.set()  # nothing can be sent any more

    async def _teardown(self, tasks: list[asyncio.Task[None]], unsubscribe: Callable[[], None]) -> None:
        unsubscribe()
        self._stop.set()
        self._timer.stop()
        # The reader finishes the message it is storing (so its effects are applied) before it is cancelled.
        async with self._busy:
            await _cancel_all(tasks)
        for hook in self._hook_list:
            try:
                await hook.close()
            except Exception:
                logger.exception("connection hook failed to close", extra=self._log)
        if self.channel.registry.release(self.session_id, self):
            with contextlib.suppress(PyMongoError):
                await self.service.release_connection(self.session_id)
        if not self._disconnected:
            close = self._close or self._pending_close or _Close(CloseCode.NORMAL, "")
            if self._final_error is not None:
                with contextlib.suppress(Exception):
                    await self._send(self._final_error)
            with contextlib.suppress(Exception):
                await self._transport.close(close.code, close.reason)
        logger.info(
            "connection closed (%s) after %d received, %d stored, %d duplicates, %d sent",
            self._close.code.name if self._close else "peer",
            self.stats["received"],
            self.stats["stored"],
            self.stats["duplicates"],
            self.stats["sent"],
            extra=self._log,
        )

    def _fail(self, code: ErrorCode, message: str, close: CloseCode, *, id: str | None = None) -> None:
        """Say why in an `error`, then close: through the writer if it runs, else at teardown."""
        if self._closing or self._stop.is_set():
            return
        error = ErrorMessage(code=code.value, message=message, id=id, retryable=code in _RETRYABLE).to_json_dict()
        if self._writer is not None and not self._writer.done():
            self._enqueue(error)
            self.request_close(close, message.lower()[:100], flush=True)
            return
        self._final_error = error
        self.request_close(close, message.lower()[:100])

    def _storage_failed(self, error: Exception, id: str | None) -> None:
        logger.warning("storage unavailable: %s", type(error).__name__, extra=self._log)
        message = "Storage is unavailable; resend after reconnecting"
        self._fail(ErrorCode.STORAGE_UNAVAILABLE, message, CloseCode.INTERNAL_ERROR, id=id)

    # ----- sending -------------------------------------------------------------

    def _enqueue(self, item: _QueueItem) -> None:
        if self._stop.is_set():
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            logger.warning("slow consumer: send queue full", extra=self._log)
            self.request_close(CloseCode.TRY_AGAIN_LATER, "slow consumer")

    def _on_event(self, event: EventDoc) -> None:
        """SessionHub listener: must not block."""
        if event.type in _TIMER_EVENTS:
            self._timer.poke()
        if event.type in STATE_EVENT_TYPES:
            self._status = str(event.payload.get("status", self._status))
            if self._status in {s.value for s in TERMINAL_STATUSES}:
                self._ended = True
        self._enqueue(event)
        if self._ended and not self._busy.locked() and not self._awaiting:
            self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)

    async def _send(self, data: dict[str, Any]) -> None:
        await self._transport.send(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
        self.stats["sent"] += 1

    def _mint_token(self) -> IssuedToken:
        principal = self.principal
        return self.channel.auth.issue_session_token(
            session_id=principal.session_id, application_id=principal.application_id, subject=principal.subject
        )

    async def _send_event(self, event: EventDoc) -> None:
        if event.seq <= self._last_sent_seq:
            return  # already replayed (or sent live): the client sees each seq once per connection
        message = render_event(event, self._mint_token)
        await self._send(message)
        self._last_sent_seq = event.seq
        if message.get("type") == "session.state":
            sentry_sdk.add_breadcrumb(
                category="session",
                message=event.type,
                data={**self._log, "seq": event.seq, "status": message["status"]},
            )

    async def _replay(self) -> None:
        after = self._resume_from
        while True:
            page = await self.channel.events.list(
                self.session_id, after_seq=after, limit=REPLAY_PAGE_SIZE, source=EventSource.SERVER
            )
            for event in page:
                await self._send_event(event)
                after = event.seq
            if len(page) < REPLAY_PAGE_SIZE or self._stop.is_set():
                return

    async def _write(self) -> None:
        try:
            await self._replay()
            self._last_heard = time.monotonic()
            self._replayed.set()
            while not self._stop.is_set():
                item = await self._queue.get()
                if isinstance(item, _Close):
                    self._close = item
                    self._stop.set()
                    return
                if isinstance(item, EventDoc):
                    await self._send_event(item)
                else:
                    await self._send(item)
        except ConnectionLost:
            self._disconnected = True
            self._stop.set()

    # ----- receiving -----------------------------------------------------------

    async def _read(self) -> None:
        """Receive frames: rate limit, parse, validate; state-changing messages go to the inbox."""
        # Client messages wait (in the socket) until the replay is out: what they cause is sent after it.
        await self._replayed.wait()
        while not self._stop.is_set():
            frame = await self._transport.receive()
            if frame is None:
                self._disconnected = True
                self._stop.set()
                return
            self._last_heard = time.monotonic()
            self.stats["received"] += 1
            if self._closing or self._stop.is_set():
                return  # left unacked: the client resends it after reconnecting
            if not self._admit(frame):
                continue
            message = await self._parse(frame)
            if message is not None:
                await self._inbox.put(message)  # bounded: a client faster than the store waits in TCP

    async def _process(self) -> None:
        """Store the inbox in order; messages that queued up meanwhile are stored as one batch."""
        while not self._stop.is_set():
            batch = [await self._inbox.get()]
            while len(batch) < MAX_BATCH and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            async with self._busy:
                if self._closing or self._stop.is_set():
                    return  # retired or closing: left unacked, the client resends them
                await self._store(batch)
            if self._ended and not self._awaiting:
                self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)
                return

    def _admit(self, frame: str | bytes) -> bool:
        """Rate limit: a warning `error` first, then 4008 if the client keeps going."""
        if self._bucket.take():
            if self._rate_warned and self._bucket.full:
                self._rate_warned = False
            return True
        if self._rate_warned:
            self.request_close(CloseCode.POLICY_VIOLATION, "rate limit exceeded", flush=True)
            return False
        self._rate_warned = True
        self.send_error(
            ErrorCode.RATE_LIMITED,
            "Too many messages; slow down and resend this one later",
            id=_peek_id(frame),
            details={"retryAfterMs": self._bucket.retry_after_ms()},
        )
        return False

    def _garbage_in(self, code: ErrorCode, message: str, *, id: str | None = None, details: Any = None) -> None:
        self.send_error(code, message, id=id, details=details, retryable=False)
        if self._garbage.add():
            self.request_close(CloseCode.POLICY_VIOLATION, "too many invalid messages", flush=True)

    async def _parse(self, frame: str | bytes) -> Any:
        """The state-changing message in `frame`, or None once it was answered here."""
        if isinstance(frame, bytes):
            self._garbage_in(ErrorCode.VALIDATION_ERROR, "Binary frames are not part of the protocol")
            return None
        if len(frame) > self.config.max_message_bytes or len(frame.encode()) > self.config.max_message_bytes:
            # uvicorn enforces ws_max_size already; this guards other servers.
            self.request_close(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return None
        try:
            data = json.loads(frame)
        except ValueError:
            self._garbage_in(ErrorCode.INVALID_JSON, "Message is not valid JSON")
            return None
        if not isinstance(data, dict):
            self._garbage_in(ErrorCode.VALIDATION_ERROR, "Message must be a JSON object")
            return None
        id = _message_id(data)
        type_ = data.get("type")
        hook = self._hooks.get(type_) if isinstance(type_, str) else None
        if hook is not None:
            try:
                await hook.on_message(data)
            except AppError as error:
                self.send_error(error.code, error.message, id=id, details=error.details)
            return None
        try:
            message = CLIENT_MESSAGE_ADAPTER.validate_python(data)
        except ValidationError as error:
            unknown = any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in error.errors())
            if unknown:
                self._garbage_in(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"Unknown message type {str(type_)[:64]!r}", id=id)
            else:
                self._garbage_in(ErrorCode.VALIDATION_ERROR, "Invalid message", id=id, details=_details(error))
            return None
        if isinstance(message, PongMessage):
            return None
        if isinstance(message, HelloMessage):
            self._garbage_in(ErrorCode.VALIDATION_ERROR, "hello was already received on this connection")
            return None
        return message

    async def _store(self, batch: list[Any]) -> None:
        """Store client messages (one ingest call for the batch); ack only what the store returned."""
        now = utcnow()
        events: list[NewClientEvent] = []
        by_id: dict[str, Any] = {}
        for message in batch:
            self._awaiting.discard(message.id)
            try:
                payload = validate_client_payload(message.type, stored_payload(message))
            except AppError as error:
                self.send_error(error.code, error.message, id=message.id, details=error.details, retryable=False)
                continue
            ts = min(message.ts, now) if message.ts is not None else now
            events.append(NewClientEvent(client_event_id=message.id, type=message.type, ts=ts, payload=payload))
            by_id.setdefault(message.id, message)
        if not events:
            return
        try:
            outcome = await self.service.ingest_client_events(self.session_id, events)
        except AppError as error:  # the session is closed to all of them
            for id in by_id:
                self.send_error(error.code, error.message, id=id, details=error.details, retryable=False)
            return
        except PyMongoError as error:
            self._storage_failed(error, next(iter(by_id)))
            return
        stored = outcome.append.seq_by_client_id
        duplicates = set(outcome.append.duplicate_ids)
        acked = [id for id in by_id if id in stored]
        if acked:
            self.send_ephemeral(AckMessage(ids=acked))
        for id in acked:
            self.stats["duplicates" if id in duplicates else "stored"] += 1
            if id not in duplicates:
                self._after_stored(by_id[id])
        closed = ErrorCode.SESSION_ALREADY_COMPLETED if self._status == "completed" else ErrorCode.SESSION_NOT_ACTIVE
        for id in by_id:
            if id in outcome.rejected_ids:
                self.send_error(closed, "The session had ended before this happened", id=id, retryable=False)
            elif id not in stored:  # pragma: no cover - ingest answers every id
                self.send_error(ErrorCode.INTERNAL_ERROR, "Message was not stored", id=id)

    def _after_stored(self, message: Any) -> None:
        if isinstance(message, EventMessage):  # the browser's tracing events go on to Sentry
            telemetry.report_client_event(self.session_id, self.principal.application_id, message.name, message.payload)
        if message.type.startswith("session."):
            sentry_sdk.add_breadcrumb(category="session", message=f"client {message.type}", data=dict(self._log))

    # ----- timers ------------------------------------------------------------------

    async def _touch(self) -> None:
        lease = max(CONNECTION_LEASE_SECONDS, self.config.idle_timeout_seconds)
        self._lease_renew_at = time.monotonic() + lease / 2
        try:
            await self.service.touch_connection(self.session_id, utcnow() + timedelta(seconds=lease))
        except PyMongoError as error:
            logger.warning("could not renew the connection mark: %s", type(error).__name__, extra=self._log)

    async def _heartbeat(self) -> None:
        """Pings every heartbeat; closes a connection silent for the idle timeout."""
        interval = self.config.heartbeat_seconds
        next_ping = time.monotonic() + interval
        while not self._stop.is_set():
            now = time.monotonic()
            idle_deadline = self._last_heard + self.config.idle_timeout_seconds
            if not self._replayed.is_set():
                idle_deadline = now + self.config.idle_timeout_seconds  # nothing is read during the replay
            if now >= idle_deadline:
                logger.info("closing an idle connection", extra=self._log)
                self.request_close(CloseCode.IDLE_TIMEOUT, "idle timeout")
                return
            if now >= next_ping:
                self.send_ephemeral(PingMessage(ts=int(time.time() * 1000)))
                next_ping = now + interval
                if not self._ended and now >= self._lease_renew_at:
                    await self._touch()
            await asyncio.sleep(max(0.0, min(next_ping, idle_deadline) - time.monotonic()))

    async def _drain_deadline(self) -> None:
        await asyncio.sleep(self.config.hello_timeout_seconds)
        self._awaiting.clear()
        self.request_close(CloseCode.SESSION_ENDED, "session ended", flush=True)

    async def _refresh_tokens(self) -> None:
        """Persist a `token.refresh` (without the token) well before the current token expires."""
        ttl = self.channel.auth.session_ttl
        # Never closer to the previous refresh than 5% of the lifetime, whatever the settings say.
        before = min(timedelta(seconds=self.config.token_refresh_before_seconds), ttl * 0.95)
        expires_at = self._token_expires_at
        while not self._ended and not self._stop.is_set():
            delay = (expires_at - before - utcnow()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            try:
                session = await self.service.get(self.session_id)
                if session.status in TERMINAL_STATUSES:
                    return
                expires_at = utcnow() + ttl
                await self.service.event_log.append_server(
                    self.session_id, "token.refresh", {"expiresAt": expires_at.isoformat()}
                )
            except PyMongoError as error:
                logger.warning("token refresh not stored: %s; retrying", type(error).__name__, extra=self._log)
                await asyncio.sleep(STORAGE_RETRY_SECONDS)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel and await every task, cancelling again while any is left.

    PyMongo's async driver can absorb a cancellation that lands inside an operation
    (the operation then completes), so one cancel() is not always enough; every loop
    here also checks its stop flag.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=1.0)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("task %s ended with %r", task.get_name(), task.exception())


def _message_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    return value if isinstance(value, str) and len(value) <= 64 else None


def _peek_id(frame: str | bytes) -> str | None:
    if isinstance(frame, bytes) or len(frame) > 65536:
        return None
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    return _message_id(data) if isinstance(data, dict) else None


def _details(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"][1:] or e["loc"]), "message": e["msg"]}
        for e in error.errors(include_url=False)
    ][:20]
