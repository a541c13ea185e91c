"""One live WebSocket connection of an interview: the asyncio shell around `ChannelProtocol`.

It owns its tasks (reader and writer for its whole life; the inbox's processor
and the timers' passes only while they have work) and cancels and awaits them all
when it ends; every decision (what to send, what to store, when to close) is the
protocol's. The writer replays the persisted server events after the client's
`lastSeq`, then drains the protocol's queue, fed by the SessionHub (live events), the
processor (`ack`, `error`; an ack while the writer idles leaves at once: outbox.py) and
the timers (`ping`). The hub listener is subscribed before the replay is read and the
protocol skips every seq it already sent, so nothing falls into the gap between
replay and live delivery.

The reader starts after the replay and passes state-changing messages to the `Inbox`,
which stores them in order (a fact straight from the reader) and acks only what was stored.
Before anything is written or replayed the connection claims the session in the
store; when the claim replaces a connection in another process, it waits
(up to TAKEOVER_WAIT_SECONDS) until that one has stored what it had in flight,
so the replay cannot overtake a late write. The older connection learns of the
claim through the change feed and closes with 4009.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from typing import Any

import sentry_sdk

from realtime.channel.actions import Close
from realtime.channel.asyncio.inbox import Inbox
from realtime.channel.asyncio.outbox import Outbox, encode
from realtime.channel.asyncio.signals import Signal
from realtime.channel.asyncio.tasks import cancel_and_wait
from realtime.channel.asyncio.timers import ConnectionTimers
from realtime.channel.close_codes import CloseCode
from realtime.channel.config import REPLAY_PAGE_SIZE
from realtime.channel.context import ChannelContext
from realtime.channel.protocol import ChannelProtocol
from realtime.channel.signalling import Signalling
from realtime.channel.transport import ConnectionLost, Transport
from realtime.messages import HelloMessage, ServerMessage, SignallingMessage, is_signalling, render_event
from server.sessions import (
    STATE_EVENT_TYPES,
    DomainError,
    ErrorCode,
    EventType,
    IssuedToken,
    LiveSession,
    SessionPrincipal,
    StorageError,
)
from storage import EventDoc, SessionDoc

logger = logging.getLogger(__name__)

LEFTOVER_SECONDS = 2.0
# A close that lets the writer send what is queued first (4010 session ended, 4008, an
# error's close; a takeover's 4009 is immediate) waits this long at most: a client that
# stopped reading would otherwise hold the writer, its tasks and its hub subscription
# for good (the replay it is stuck in never ends).
CLOSE_FLUSH_SECONDS = 5.0
TAKEOVER_WAIT_SECONDS = 3.0
TAKEOVER_POLL_SECONDS = 0.05
_MISBEHAVING = frozenset({CloseCode.TRY_AGAIN_LATER, CloseCode.POLICY_VIOLATION, CloseCode.MESSAGE_TOO_BIG})
_TIMER_EVENTS = frozenset({EventType.QUESTION, EventType.QUESTION_TIMEOUT, *STATE_EVENT_TYPES})


class Connection:
    """One authenticated socket of one session (see the module docstring)."""

    def __init__(self, channel: ChannelContext, transport: Transport, principal: SessionPrincipal) -> None:
        self._channel = channel
        self._service = channel.service
        self._clock = channel.clock
        self._principal = principal
        self._transport = transport
        self.connection_id = uuid.uuid4().hex
        self.epoch: int | None = None  # of this connection's claim, once made
        self._log = {"session_id": principal.session_id}
        # Signals, not asyncio.Events: an idle server holds thousands of connections (see signals.py).
        self._stop = Signal()
        self._replayed = Signal()
        self._disconnected = False
        self._close_deadline: asyncio.TimerHandle | None = None
        self._signalling: Signalling | None = None
        self._timers: ConnectionTimers | None = None
        self._outbox = Outbox(transport, lambda: self.protocol.data_to_send())
        self.protocol = ChannelProtocol(
            channel.config,
            self._render,
            now=self._clock.monotonic(),
            on_output=self._outbox.output_ready,
            on_close=self._on_close,
        )
        self._inbox = Inbox(
            self.protocol,
            self._service,
            principal,
            self._clock,
            self._outbox,
            self._storage_failed,
            self._failed,
            self._settle,
            self._on_task_done,
        )

    # ----- what signalling handlers and the registry use ------------------------------

    @property
    def session_id(self) -> str:
        return self._principal.session_id

    def send(self, message: ServerMessage) -> None:
        """Queue an ephemeral message; never blocks."""
        self.protocol.send(message)

    def request_close(self, code: CloseCode, reason: str) -> None:
        self.protocol.request_close(code, reason)

    async def retire(self) -> None:
        """Taken over by a newer connection: finish the message in progress, then close 4009."""
        self.protocol.request_close(CloseCode.REPLACED, "replaced by a newer connection")
        await self._inbox.idle()

    def claimed_elsewhere(self, connection_id: str, epoch: int) -> bool:
        """Whether a claim seen in the change feed is newer than this connection's own."""
        return connection_id != self.connection_id and self.epoch is not None and epoch > self.epoch

    # ----- lifecycle ---------------------------------------------------------------------

    async def run(self, hello: HelloMessage) -> None:
        """Serve the connection until it closes; never raises for client or storage trouble."""
        channel = self._channel
        # Subscribe and claim with no await in between: the hub listener and the registry agree.
        live = self._service.connections.open(self.session_id, self._on_event)
        previous = channel.registry.claim(self.session_id, self)
        tasks: list[asyncio.Task[None]] = []
        try:
            if previous is not None:
                await previous.retire()
            session = await self._start(hello, local_previous=previous)
            self._timers = ConnectionTimers(
                self.protocol,
                self._service,
                self.session_id,
                channel.config,
                self._clock,
                token_expires_at=self._principal.expires_at,
                token_ttl=channel.tokens.ttl,
                live=session.is_active,
                renew_lease=self._renew_lease,
                on_task_done=self._on_task_done,
            )
            self._timers.start()
            for name, work in (("writer", self._write()), ("reader", self._read())):
                task = asyncio.create_task(work, name=f"ws-{name}-{self.session_id}")
                task.add_done_callback(self._on_task_done)
                tasks.append(task)
            if session.is_active and channel.signalling is not None:
                self._signalling = channel.signalling(self, session)
            # An idle connection should cost little: it does not keep the session document
            # (all its questions) for its lifetime.
            del session
            await self._stop.wait()
        except ConnectionLost:
            self._disconnected = True
        except StorageError as error:
            self._storage_failed(error, None)
        except Exception as error:
            logger.exception("connection failed", extra=self._log)
            sentry_sdk.capture_exception(error)
            self.protocol.fail(ErrorCode.INTERNAL_ERROR, "Internal server error", CloseCode.INTERNAL_ERROR)
        finally:
            await self._teardown(tasks, live)

    async def _start(self, hello: HelloMessage, local_previous: object) -> SessionDoc:
        """Claim the session, ask the current question if it was not yet, queue welcome."""
        service = self._service
        until = self._clock.now() + timedelta(seconds=self._channel.config.lease_seconds)
        claim = await service.connections.claim(self.session_id, self.connection_id, until)
        self.epoch = claim.epoch
        previous = claim.previous
        registry = self._channel.registry
        # A connection of this process that was replaced or has finished has nothing left in
        # flight, even when the store did not hear of its release (it was down then).
        replaced_here = isinstance(local_previous, Connection) and local_previous.connection_id == previous
        finished_here = previous is not None and registry.finished_here(previous)
        if previous is not None and claim.previous_leased and not replaced_here and not finished_here:
            await self._await_release(previous)
        session = await service.get(self.session_id)
        if session.is_active:
            # What a crash left half done: commands stored but not applied, a question not yet asked.
            if await service.settle_pending(self.session_id):
                session = await service.get(self.session_id)
            if await service.ask_current_question(session) is not None:
                session = await service.get(self.session_id)
        # The exact lastSeq for welcome; an ended session's last replay holds the event of its end
        # (a takeover or a shutdown meanwhile ends that wait).
        session = await service.current_with_end_logged(session, lambda: self.protocol.closing)
        known = await service.known_client_ids(self.session_id, hello.pending_ids) if hello.pending_ids else {}
        for message in self.protocol.welcome(session, hello, known, self._clock.now()):
            await self._send(message)
        sentry_sdk.add_breadcrumb(category="session", message=f"hello ({session.status.value})", data=dict(self._log))
        return session

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed(error, task.get_name())
        if task.get_name().startswith("ws-writer"):
            self._stop.set()  # nothing can be sent any more

    def _failed(self, error: BaseException, where: str = "ws-processor") -> None:
        if isinstance(error, StorageError):
            return self._storage_failed(error, None)
        logger.error("connection task %s failed", where, exc_info=error, extra=self._log)
        sentry_sdk.capture_exception(error)
        self.protocol.fail(ErrorCode.INTERNAL_ERROR, "Internal server error", CloseCode.INTERNAL_ERROR)

    def _on_close(self, close: Close, flush: bool) -> None:
        level = logging.WARNING if close.code in _MISBEHAVING else logging.INFO
        logger.log(level, "closing with %s: %s", close.code.name, close.reason, extra=self._log)
        if not flush:
            self._stop.set()
        elif self._close_deadline is None:
            self._close_deadline = asyncio.get_running_loop().call_later(CLOSE_FLUSH_SECONDS, self._stop.set)

    async def _await_release(self, previous: str) -> None:
        """Wait until the connection this one replaced (in another process) has stored what it had."""
        with contextlib.suppress(TimeoutError):  # it died: what it never stored was never acked
            async with asyncio.timeout(TAKEOVER_WAIT_SECONDS):
                # Polled: the release is another process's write, seen nowhere else.
                while not await self._service.connections.released(self.session_id, previous):  # noqa: ASYNC110
                    await asyncio.sleep(TAKEOVER_POLL_SECONDS)

    async def _teardown(self, tasks: list[asyncio.Task[None]], live: LiveSession) -> None:
        self._stop.set()
        if self._close_deadline is not None:
            self._close_deadline.cancel()
        if self._timers is not None:
            self._timers.stop()
        # The processor finishes the batch it is storing (so its effects are applied) before it is cancelled.
        async with self._inbox.busy:
            await self._inbox.close()
            await cancel_and_wait(tasks)
            if self._timers is not None:
                await self._timers.close()
        if self._signalling is not None:
            try:
                await self._signalling.close()
            except Exception:
                logger.exception("signalling failed to close", extra=self._log)
        await live.close()  # what this connection queued for writing is stored before it lets go
        self._channel.registry.release(self.session_id, self)
        self._channel.registry.finish(self.connection_id)
        with contextlib.suppress(StorageError):
            await self._service.connections.release(self.session_id, self.connection_id)
        close = await self._flush_leftovers()
        stats = self.protocol.stats
        logger.info(
            "connection closed (%s) after %d received, %d stored, %d duplicates, %d sent",
            close.code.name if not self._disconnected else "peer",
            stats["received"],
            stats["stored"],
            stats["duplicates"],
            stats["sent"],
            extra=self._log,
        )

    async def _flush_leftovers(self) -> Close:
        """Send what the protocol still holds up to its close (when the writer never got to it), then close."""
        leftovers = [] if self._disconnected else self._outbox.take()
        close = self.protocol.closed()
        if self._disconnected:
            return close
        with contextlib.suppress(Exception):
            async with asyncio.timeout(LEFTOVER_SECONDS):  # a client that does not read gets no more
                for item in leftovers:
                    if not isinstance(item, Close):
                        await self._send(item)
        with contextlib.suppress(Exception):
            await self._transport.close(close.code, close.reason)
        return close

    def _storage_failed(self, error: Exception, id: str | None) -> None:
        logger.warning("storage unavailable: %s", type(error).__name__, extra=self._log)
        message = "Storage is unavailable; resend after reconnecting"
        self.protocol.fail(ErrorCode.STORAGE_UNAVAILABLE, message, CloseCode.INTERNAL_ERROR, id=id)

    async def _renew_lease(self) -> None:
        until = self._clock.now() + timedelta(seconds=self._channel.config.lease_seconds)
        try:
            held = await self._service.connections.renew(self.session_id, self.connection_id, until)
        except StorageError as error:
            logger.warning("could not renew the connection lease: %s", type(error).__name__, extra=self._log)
            return
        if not held:  # claimed by a newer connection whose notice has not reached us
            self.protocol.request_close(CloseCode.REPLACED, "replaced by a newer connection")

    # ----- sending -----------------------------------------------------------------------

    def _on_event(self, event: EventDoc) -> None:
        """SessionHub listener: must not block."""
        if event.type in _TIMER_EVENTS and self._timers is not None:
            self._timers.poke()
        self.protocol.server_event(event, storing=self._inbox.storing)
        if self._signalling is not None:
            self._signalling.server_event(event)

    async def _settle(self) -> None:
        if self._signalling is not None:
            await self._signalling.settle()

    def _mint_token(self) -> IssuedToken:
        return self._channel.tokens.issue_for(self._principal)

    def _render(self, event: EventDoc) -> dict[str, Any]:
        message = render_event(event, self._mint_token)
        if message.get("type") == "session.state":
            sentry_sdk.add_breadcrumb(
                category="session",
                message=event.type,
                data={**self._log, "seq": event.seq, "status": message["status"]},
            )
        return message

    async def _send(self, data: dict[str, Any]) -> None:
        await self._transport.send(encode(data))

    async def _replay(self) -> None:
        after = self.protocol.replay_from
        while not self._stop.is_set():
            page = await self._service.events_after(self.session_id, after, limit=REPLAY_PAGE_SIZE, server_only=True)
            for event in page:
                message = self.protocol.render_replayed(event)
                if message is not None:
                    await self._send(message)
                after = event.seq
            if len(page) < REPLAY_PAGE_SIZE:
                return

    async def _drain(self) -> bool:
        """Send what is queued; False once the protocol's close was reached."""
        for item in self._outbox.take():
            if isinstance(item, Close):
                self._stop.set()
                return False
            await self._send(item)
        return True

    async def _write(self) -> None:
        try:
            await self._replay()
            self.protocol.replay_finished(self._clock.monotonic())
            self._replayed.set()
            while not self._stop.is_set():
                await self._outbox.wait()
                if not await self._drain():
                    return
        except ConnectionLost:
            self._disconnected = True
            self._stop.set()

    # ----- receiving ---------------------------------------------------------------------

    async def _read(self) -> None:
        # Client messages wait (in the socket) until the replay is out: what they cause is sent after it.
        await self._replayed.wait()
        while not self._stop.is_set():
            frame = await self._transport.receive()
            if frame is None:
                self._disconnected = True
                self._stop.set()
                return
            message = self.protocol.receive(frame, self._clock.monotonic())
            if message is None:
                continue
            if is_signalling(message):
                await self._signal(message)
            else:
                await self._inbox.put(message)

    async def _signal(self, message: SignallingMessage) -> None:
        if self._signalling is None:
            self.protocol.send_error(ErrorCode.SESSION_NOT_ACTIVE, "No live media for this session", retry=False)
            return
        try:
            await self._signalling.handle(message)
        except DomainError as error:
            self.protocol.send_error(error.code, error.message, details=error.details)
