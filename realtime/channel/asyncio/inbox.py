"""Storing a connection's client messages in order, in batches, and acking only what was stored.

Two lanes, one order. A fact (a transcript line, a named event) that arrives while nothing
of the connection waits to be stored is handed to the group writer at once, from the
reader, and acked from the callback that tells it was stored: no task and no await per
message, which is most of what a message used to cost on top of its parsing. Everything
else (commands, an ended session, a message behind others) queues for the inbox's task,
which stores in batches through `ingest`. Both lanes end in the group writer's one queue,
so a connection's messages are stored in the order they arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import sentry_sdk

from realtime.channel.actions import StoreRequest
from realtime.channel.asyncio.outbox import Outbox
from realtime.channel.asyncio.signals import Signal
from realtime.channel.asyncio.tasks import cancel_and_wait
from realtime.channel.config import MAX_BATCH
from realtime.channel.protocol import ChannelProtocol
from realtime.messages import ClientEventMessage
from server.sessions import (
    ApplyPolicy,
    Clock,
    DomainError,
    EventType,
    KnownSession,
    PendingIngest,
    SessionPrincipal,
    SessionService,
    StorageError,
)
from storage import SessionStatus

StorageFailed = Callable[[Exception, str | None], None]
Failed = Callable[[BaseException], None]
Settle = Callable[[], Awaitable[None]]


class Inbox:
    """A bounded queue of client messages and the task that stores them (and the fast lane).

    Messages that queue up while the store is busy go in one `ingest` call. `busy` is
    held while a batch is stored; `idle()` waits for it and for the facts in flight, so a
    takeover or a teardown lets them finish first. The task exists only while there is
    something to store: an idle connection has none (a task and its suspended frames are
    ~1.5 KiB, times thousands of idle connections).
    """

    def __init__(
        self,
        protocol: ChannelProtocol,
        service: SessionService,
        principal: SessionPrincipal,
        clock: Clock,
        outbox: Outbox,
        storage_failed: StorageFailed,
        failed: Failed,
        settle: Settle,
        on_task_done: Callable[[asyncio.Task[None]], None],
    ) -> None:
        self._protocol = protocol
        self._service = service
        self._principal = principal
        self._session_id = principal.session_id
        self._clock = clock
        self._outbox = outbox
        self._storage_failed = storage_failed
        self._failed = failed
        self._settle = settle
        self._on_task_done = on_task_done
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # A list and a signal rather than an asyncio.Queue (four deques and an Event: ~3 KB
        # per idle connection). One reader puts, one task takes.
        self._queued: list[ClientEventMessage] = []
        self._room = Signal()
        self.busy = asyncio.Lock()
        self._in_flight: set[PendingIngest] = set()

    @property
    def storing(self) -> bool:
        """Whether a client message is on its way to the store."""
        return self.busy.locked() or bool(self._in_flight)

    async def idle(self) -> None:
        """Wait until the batch being stored and the facts in flight are stored (or failed)."""
        async with self.busy:
            pass
        await self._facts_answered()

    async def _facts_answered(self) -> None:
        while self._in_flight:
            await next(iter(self._in_flight)).wait()
            await asyncio.sleep(0)  # its callback runs from the loop: let it

    async def put(self, message: ClientEventMessage) -> None:
        """Bounded: a client faster than the store waits in TCP."""
        if self._submitted_now(message):
            return
        while len(self._queued) >= MAX_BATCH:
            self._room.clear()
            await self._room.wait()
        self._queued.append(message)
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name=f"ws-processor-{self._session_id}")
            self._task.add_done_callback(self._on_task_done)

    async def close(self) -> None:
        """No more storing: cancel the task (after the batch in progress, when called under `busy`)."""
        self._closed = True
        if self._task is not None:
            await cancel_and_wait([self._task])
        await self._facts_answered()  # handed to the group writer: they are stored and answered first

    # ----- the fast lane ------------------------------------------------------------------

    def _submitted_now(self, message: ClientEventMessage) -> bool:
        """Hand a fact to the group writer now, when nothing of this connection waits before it."""
        # One fact in flight at a time: a later one waits in the queue until it is answered, so a
        # failed store (which closes the connection) is never followed by a later message stored.
        if self._task is not None or self._queued or self._in_flight or self._closed or self._protocol.closing:
            return False
        known = self._known()
        if known is None or not self._service.submittable(known, (message.event_type,)):
            return False
        request = self._protocol.store_request([message], self._clock.now())
        if request.events:
            pending = self._service.submit(known, request.events)
            self._in_flight.add(pending)
            pending.when_done(lambda: self._fact_stored(request, pending))
        return True

    def _fact_stored(self, request: StoreRequest, pending: PendingIngest) -> None:
        """The loop's callback: what a failed processor task would do goes through `_failed`."""
        self._in_flight.discard(pending)
        try:
            outcome = pending.outcome()
            with self._outbox.sending_inline():
                self._protocol.stored(request, outcome)
            self._protocol.after_store()
        except StorageError as error:
            self._storage_failed(error, next(iter(request.by_id)))
        except Exception as error:
            self._failed(error)

    async def _run(self) -> None:
        try:
            await self._drain()
        finally:
            self._task = None

    async def _drain(self) -> None:
        # No await between the last check of the queue and the task's end: a message put
        # meanwhile is either seen here or finds no task and starts one.
        while self._queued:
            await self._facts_answered()  # the fact before them first: it may have failed (closing)
            batch = self._queued[:MAX_BATCH]
            del self._queued[:MAX_BATCH]
            self._room.set()
            async with self.busy:
                if self._protocol.closing:
                    return  # retired or closing: left unacked, the client resends them
                await self._store(batch)
            self._protocol.after_store()

    def _known(self) -> KnownSession | None:
        """The session as the connection knows it (its status follows the session's own events)."""
        try:
            status = SessionStatus(self._protocol.status)
        except ValueError:
            return None
        return KnownSession(self._session_id, self._principal.application_id, status)

    async def _store(self, batch: list[ClientEventMessage]) -> None:
        if any(message.event_type == EventType.ANSWER_SUBMIT for message in batch):
            # A spoken answer is what was said until the click: its last lines go in first.
            await self._settle()
        request = self._protocol.store_request(batch, self._clock.now())
        if not request.events:
            return
        try:
            outcome = await self._service.ingest(
                self._session_id, request.events, policy=ApplyPolicy.REPLAY, known=self._known()
            )
        except DomainError as error:
            self._protocol.store_refused(request, error)
            return
        except StorageError as error:
            self._storage_failed(error, next(iter(request.by_id)))
            return
        with self._outbox.sending_inline():  # the ack goes out from this task: no writer wake-up
            fresh = self._protocol.stored(request, outcome)
        for message in fresh:
            if message.type.startswith("session."):
                sentry_sdk.add_breadcrumb(
                    category="session", message=f"client {message.type}", data={"session_id": self._session_id}
                )
