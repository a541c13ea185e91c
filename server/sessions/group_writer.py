"""Group commit: one writer per process stores the events of every session it owns, together.

Events of the sessions whose live connection this process holds queue here. The
writer takes what queued up while the previous batch was being stored (after a
few milliseconds' wait, `window_seconds`), gives each event a seq from its
session's block, and stores the whole batch with one `insert_many`. Only then
are the events acked (the callers' awaits return) and delivered, in seq order,
to the live connections. A session's `lastSeq` is raised when its next block is
reserved and when it is disowned, not per batch (see storage/seq_counter.py).
One batch at a time: a session's seqs are stored in the order they are handed
out, so a connection never sees a seq whose predecessors may still be missing.

Client retries are caught by the store's unique `(sessionId, clientEventId)`
index instead of a lookup before every insert; the rare duplicate costs a seq
(a gap, which readers allow) and one lookup for the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from server.sessions.clock import Clock
from server.sessions.drafts import Draft, Written
from server.sessions.ordering import SessionOrder
from storage import EventDoc, EventRepository, EventSource, Reservation, SeqCounter, SeqRange

logger = logging.getLogger(__name__)

# Seqs a live session reserves at a time: a reservation is two round trips, and the sessions
# of one process started together would otherwise all reserve again together.
BLOCK = 256
MAX_BATCH = 200
WINDOW_SECONDS = 0.010
MAX_ATTEMPTS = 3
# The next block is reserved in the background once a session has fewer seqs left than this,
# a few at a time: a batch never waits for a reservation unless a session outran its block.
PREFETCH_BELOW = BLOCK // 2
PREFETCH_PARALLEL = 4

Emit = Callable[[EventDoc], None]


@dataclass
class _Queued:
    draft: Draft
    future: asyncio.Future[Written]
    attempts: int = 0


@dataclass
class _Batch:
    items: list[_Queued]
    ready: dict[str, list[EventDoc]] = field(default_factory=lambda: defaultdict(list))


class GroupWriter:
    """See the module docstring. `emit` receives each stored server event once, in seq order."""

    def __init__(
        self,
        events: EventRepository,
        seqs: SeqCounter,
        clock: Clock,
        emit: Emit,
        *,
        window_seconds: float = WINDOW_SECONDS,
        max_batch: int = MAX_BATCH,
        block: int = BLOCK,
    ) -> None:
        self._events = events
        self._seqs = seqs
        self._clock = clock
        self._emit = emit
        self._window = window_seconds
        self._max_batch = max_batch
        self._block = block
        self._queue: list[_Queued] = []
        self._foreign: list[EventDoc] = []
        self._orders: dict[str, SessionOrder] = {}
        self._strays: dict[str, SessionOrder] = {}  # sessions disowned while a write was still queued
        self._waiting: set[str] = set()  # owned sessions holding events back for a pending seq
        self._closing = False
        self._unsettled: dict[str, set[asyncio.Future[Written]]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._prefetches: set[asyncio.Task[None]] = set()
        self._prefetch_slots = asyncio.Semaphore(PREFETCH_PARALLEL)
        self.stats = {"batches": 0, "events": 0, "round_trips": 0}

    # ----- ownership --------------------------------------------------------------------

    def owns(self, session_id: str) -> bool:
        return session_id in self._orders

    def own(self, session_id: str) -> None:
        """This process now holds the session's live connection."""
        self._orders.setdefault(session_id, SessionOrder())

    def grant(self, session_id: str, reservation: Reservation) -> None:
        """Seqs reserved for the session elsewhere (with the connection's claim)."""
        order = self._orders.get(session_id)
        if order is not None:
            order.add_block(reservation.seqs)
        self.expect(session_id, reservation.pending)

    def expect(self, session_id: str, pending: list[SeqRange]) -> None:
        """Other writers' seqs that may still arrive (from a claim or the change feed)."""
        order = self._orders.get(session_id)
        if order is not None and pending:
            order.expect(pending, self._clock.monotonic())
            self._waiting.add(session_id)
            self._wake.set()
            self._ensure_running()

    async def disown(self, session_id: str) -> None:
        """Store what the session still has queued, raise its `lastSeq`, then stop owning it."""
        await self.settle(session_id)
        order = self._orders.pop(session_id, None)
        self._waiting.discard(session_id)
        if order is not None and order.stored:
            try:
                await self._seqs.raise_high_water({session_id: order.stored}, self._clock.now())
            except Exception as error:  # a lower bound only: readers take the events' highest seq
                logger.warning("could not raise lastSeq: %s", type(error).__name__)

    async def settle(self, session_id: str) -> None:
        """Wait until every event of the session queued so far is stored (or failed)."""
        queued = set(self._unsettled.get(session_id, ()))
        if queued:
            await asyncio.wait(queued)

    # ----- writing ----------------------------------------------------------------------

    async def write(self, drafts: list[Draft]) -> list[Written]:
        """Store `drafts` (all of owned sessions) in the next batch; raises if it could not be stored."""
        futures = self.submit(drafts)
        if len(futures) == 1:  # the usual case: no gather (a future and callbacks fewer per message)
            return [await asyncio.shield(futures[0])]
        return list(await asyncio.gather(*(asyncio.shield(future) for future in futures)))

    def submit(self, drafts: list[Draft]) -> list[asyncio.Future[Written]]:
        """Queue `drafts` for the next batch without waiting: each future ends as its draft is stored."""
        loop = asyncio.get_running_loop()
        queued = [_Queued(d, loop.create_future()) for d in drafts]
        for item in queued:
            self._unsettled[item.draft.session_id].add(item.future)
        self._queue.extend(queued)
        self._wake.set()
        self._ensure_running()
        return [item.future for item in queued]

    def foreign(self, event: EventDoc) -> None:
        """A server event another writer stored (the change feed, or a local non-owner write)."""
        if event.session_id in self._orders:
            self._foreign.append(event)
            self._wake.set()
            self._ensure_running()

    # ----- the loop ---------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-writer")

    async def close(self) -> None:
        """Store what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None and not self._task.done():
            await self._task

    async def _run(self) -> None:
        while not (self._closing and not self._queue and not self._foreign):
            timeout = self._next_deadline()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            if self._queue and len(self._queue) < self._max_batch and self._window > 0 and not self._closing:
                await asyncio.sleep(self._window)  # let the other sessions' messages join this batch
            self._wake.clear()
            try:
                await self._step()
            except Exception:  # the writer must outlive any one batch
                logger.exception("group commit step failed")

    def _next_deadline(self) -> float | None:
        deadlines = [d for sid in self._waiting if (d := self._orders[sid].next_deadline()) is not None]
        return max(0.0, min(deadlines) - self._clock.monotonic()) if deadlines else None

    async def _step(self) -> None:
        batch = _Batch(self._queue[: self._max_batch])
        del self._queue[: len(batch.items)]
        foreign, self._foreign = self._foreign, []
        for event in foreign:
            order = self._orders.get(event.session_id)
            if order is not None and order.foreign(event):
                batch.ready[event.session_id].append(event)
        if batch.items:
            await self._store(batch)
        now = self._clock.monotonic()
        for session_id in {*batch.ready, *self._waiting}:
            order = self._orders.get(session_id)
            if order is None:
                continue
            for event in order.deliver(batch.ready.get(session_id, []), now):
                self._emit(event)
            if order.next_deadline() is None:
                self._waiting.discard(session_id)
            else:
                self._waiting.add(session_id)

    async def _store(self, batch: _Batch) -> None:
        self.stats["batches"] += 1
        placed = await self._place(batch)
        if not placed:
            return
        documents = [document for _item, document in placed]
        try:
            rejected = await self._events.insert_many(documents, slice_size=None)
            self.stats["round_trips"] += 1
        except Exception as error:
            for item, _document in placed:
                self._order(item.draft.session_id).drop_blocks()
                self._fail(item, error)
            return
        known = await self._known_seqs(placed, rejected.known_client_ids)
        high_water: dict[str, int] = {}
        settled: list[tuple[_Queued, Written]] = []
        for index, (item, document) in enumerate(placed):
            session_id = item.draft.session_id
            if index in rejected.taken_seqs:
                self._retry(item, RuntimeError(f"seq {document.seq} of session {session_id} was taken"))
            elif index in rejected.known_client_ids:
                seq = known.get((session_id, document.client_event_id or ""))
                if seq is None:  # stored and gone again (cannot happen: events are never deleted live)
                    self._retry(item, RuntimeError("duplicate client event id not found"))
                else:
                    settled.append((item, Written(seq, None)))
            else:
                high_water[session_id] = max(high_water.get(session_id, 0), document.seq)
                if document.source == EventSource.SERVER:
                    batch.ready[session_id].append(document)
                settled.append((item, Written(document.seq, document)))
        self.stats["events"] += len(placed)
        for session_id, seq in high_water.items():
            order = self._order(session_id)
            order.stored = max(order.stored, seq)
        # No await from here until the events are emitted: a caller resumes (and acks) after
        # the connection has been given the events its message caused.
        for item, written in settled:
            self._resolve(item, written)

    async def _place(self, batch: _Batch) -> list[tuple[_Queued, EventDoc]]:
        """Give every item a seq from its session's block (reserving blocks as needed)."""
        items = batch.items
        wanted: dict[str, int] = defaultdict(int)
        for item in items:
            wanted[item.draft.session_id] += 1
        short = {sid: n for sid, n in wanted.items() if self._order(sid).available() < n}
        failed: dict[str, BaseException] = {}
        if short:
            now = self._clock.now()
            results = await asyncio.gather(
                *(
                    self._seqs.reserve_block(sid, max(self._block, n), now, self._order(sid).stored)
                    for sid, n in short.items()
                ),
                return_exceptions=True,
            )
            self.stats["round_trips"] += len(short)
            monotonic = self._clock.monotonic()
            for session_id, result in zip(short, results, strict=True):
                order = self._order(session_id)
                if isinstance(result, Reservation):
                    try:
                        unseen = await self._unseen(session_id, order, result.seqs)
                    except Exception as unread:  # the block cannot be used safely: this batch fails
                        failed[session_id] = unread
                        continue
                    batch.ready[session_id].extend(e for e in unseen if order.foreign(e))
                    order.add_block(result.seqs)
                    if result.pending:
                        order.expect(result.pending, monotonic)
                        self._waiting.add(session_id)
                else:
                    failed[session_id] = result
        now = self._clock.now()
        placed: list[tuple[_Queued, EventDoc]] = []
        for item in items:
            draft = item.draft
            order = self._order(draft.session_id)
            if draft.session_id in failed or order.available() < 1:
                error = failed.get(draft.session_id) or LookupError(f"no seqs for session {draft.session_id}")
                self._fail(item, error if isinstance(error, Exception) else RuntimeError(str(error)))
                continue
            (seq,) = order.take(1)
            if order.available() < PREFETCH_BELOW and not order.prefetching and draft.session_id in self._orders:
                self._prefetch(draft.session_id, order)
            document = draft.document(seq, now)
            placed.append((item, document))
        return placed

    def _prefetch(self, session_id: str, order: SessionOrder) -> None:
        order.prefetching = True
        task = asyncio.create_task(self._reserve_ahead(session_id, order), name=f"seq-prefetch-{session_id}")
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)

    async def _reserve_ahead(self, session_id: str, order: SessionOrder) -> None:
        # `prefetching` holds until the block is granted: no second block is reserved meanwhile.
        try:
            async with self._prefetch_slots:
                reservation = await self._seqs.reserve_block(session_id, self._block, self._clock.now(), order.stored)
            self.stats["round_trips"] += 1
            if self._orders.get(session_id) is not order:
                return
            unseen = await self._unseen(session_id, order, reservation.seqs)
        except Exception as error:  # the next batch reserves in line instead
            logger.warning("could not reserve seqs ahead: %s", type(error).__name__)
            return
        finally:
            order.prefetching = False
        for event in unseen:  # in the next step, ahead of any event of the new block
            self.foreign(event)
        self.grant(session_id, reservation)

    async def _unseen(self, session_id: str, order: SessionOrder, block: SeqRange) -> list[EventDoc]:
        """Server events another writer stored before `block` that this order has not seen (ordering.py)."""
        seqs = order.unaccounted(block)
        if seqs is None:
            return []
        self.stats["round_trips"] += 1
        return await self._events.server_events_in(session_id, seqs)

    async def _known_seqs(
        self, placed: list[tuple[_Queued, EventDoc]], indexes: set[int]
    ) -> dict[tuple[str, str], int]:
        if not indexes:
            return {}
        wanted: dict[str, list[str]] = defaultdict(list)
        for index in indexes:
            document = placed[index][1]
            wanted[document.session_id].append(document.client_event_id or "")
        self.stats["round_trips"] += 1
        return await self._events.known_client_ids_of(wanted)

    def _order(self, session_id: str) -> SessionOrder:
        order = self._orders.get(session_id)
        if order is None:  # disowned while a write was queued: its seqs still come from a block
            order = self._strays.setdefault(session_id, SessionOrder())
        return order

    # ----- settling items ---------------------------------------------------------------

    def _retry(self, item: _Queued, error: Exception) -> None:
        self._order(item.draft.session_id).drop_blocks()
        item.attempts += 1
        if item.attempts >= MAX_ATTEMPTS:
            self._fail(item, error)
            return
        self._queue.insert(0, item)
        self._wake.set()

    def _resolve(self, item: _Queued, written: Written) -> None:
        if not item.future.done():
            item.future.set_result(written)
        self._settle(item)

    def _fail(self, item: _Queued, error: Exception) -> None:
        if not item.future.done():
            item.future.set_exception(error)
        self._settle(item)

    def _settle(self, item: _Queued) -> None:
        session_id = item.draft.session_id
        unsettled = self._unsettled.get(session_id)
        if unsettled is not None:
            unsettled.discard(item.future)
            if not unsettled:
                del self._unsettled[session_id]
                self._strays.pop(session_id, None)
