"""Delivering a session's events to its live connection in seq order, whoever wrote them.

A client resumes from the highest seq it has seen, so a seq delivered after a
higher one would be skipped for good. The process holding the live connection
(the owner) writes most events itself, from seq blocks it reserved; other
writers (another process's HTTP request, the abandon sweeper) reserve single
seqs and list them as pending in the session document until they are stored.
`SessionOrder` is what the owner knows of one session: its blocks, the other
writers' pending seqs, and what it delivered. An event is delivered only when
no pending seq below it may still arrive; a pending seq that never arrives (its
writer died) stops holding others back after `PENDING_WAIT_SECONDS`.

Pure bookkeeping: no I/O and no clock of its own (times are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage import EventDoc, SeqRange

PENDING_WAIT_SECONDS = 2.0
OWN_RANGES_KEPT = 16


@dataclass
class _Pending:
    seqs: SeqRange
    missing: set[int]
    deadline: float


@dataclass
class SessionOrder:
    """One owned session's seq bookkeeping (see the module docstring)."""

    delivered: int = 0
    stored: int = 0  # the highest own seq stored, for the session's `lastSeq`
    prefetching: bool = False  # a block reservation is on its way
    _unused: list[list[int]] = field(default_factory=list)  # [next, last] of each block, ascending
    _own: list[SeqRange] = field(default_factory=list)
    _foreign_high: int = 0
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _held: list[EventDoc] = field(default_factory=list)

    # ----- our own seqs ------------------------------------------------------------------

    def available(self) -> int:
        """How many reserved seqs are left."""
        return sum(last - next_ + 1 for next_, last in self._unused)

    def take(self, count: int) -> list[int]:
        """`count` seqs, lowest first (the caller checked `available`)."""
        if count > self.available():
            raise ValueError("blocks exhausted")
        seqs: list[int] = []
        while len(seqs) < count:
            block = self._unused[0]
            seqs.append(block[0])
            block[0] += 1
            if block[0] > block[1]:
                self._unused.pop(0)
        return seqs

    def add_block(self, block: SeqRange) -> None:
        """A newly reserved block: only its seqs above everything stored or delivered are used
        (one granted late, below seqs already out, would be skipped by the connection)."""
        self._own = [*self._own[-(OWN_RANGES_KEPT - 1) :], block]
        floor = max(self._foreign_high, self.delivered, self.stored)
        if block.last > floor:
            self._unused.append([max(block.first, floor + 1), block.last])
            self._unused.sort()

    def drop_blocks(self, below: int | None = None) -> None:
        """Stop using reserved seqs (all of them, or those below `below`)."""
        self._unused = [] if below is None else [b for b in self._unused if b[1] >= below]

    def unaccounted(self, block: SeqRange) -> SeqRange | None:
        """The seqs handed out between our last block and a new one that we have not seen.

        Another writer may have stored one (and settled it) before the new block was reserved:
        it is in no pending list, and the change feed may bring it after the new block's first
        events went out, when it would be skipped for good. None when there is no such seq, or
        no block before (a claim's block: the connection's replay reads the store after it).
        """
        if not self._own:
            return None
        after = max(self.delivered, self._foreign_high, *(own.last for own in self._own))
        return SeqRange(after + 1, block.first - 1) if block.first > after + 1 else None

    def is_own(self, seq: int) -> bool:
        return any(seq in block for block in self._own)

    # ----- other writers' seqs -----------------------------------------------------------

    def expect(self, pending: list[SeqRange], now: float) -> None:
        """Other writers' seqs that were reserved and may not be stored yet."""
        for seqs in pending:
            if seqs.first in self._pending or seqs.last <= self.delivered:
                continue
            missing = {s for s in range(seqs.first, seqs.last + 1) if s > self.delivered}
            self._pending[seqs.first] = _Pending(seqs, missing, now + PENDING_WAIT_SECONDS)

    def foreign(self, event: EventDoc) -> bool:
        """Whether an event from the change feed (or a local non-owner write) is news to the connection."""
        if event.seq <= self.delivered or self.is_own(event.seq):
            return False
        self._foreign_high = max(self._foreign_high, event.seq)
        self.drop_blocks(below=event.seq)  # our next seqs must come after it
        return True

    # ----- delivery ---------------------------------------------------------------------------

    def deliver(self, events: list[EventDoc], now: float) -> list[EventDoc]:
        """Events ready for the connection, in seq order; the rest are held until unblocked."""
        for event in events:
            for pending in self._pending.values():
                pending.missing.discard(event.seq)
        self._held.extend(e for e in events if e.seq > self.delivered)
        return self._release(now)

    def expire(self, now: float) -> list[EventDoc]:
        """Give up on pending seqs past their deadline; returns what that unblocked."""
        return self._release(now)

    def next_deadline(self) -> float | None:
        return min((p.deadline for p in self._pending.values()), default=None)

    def _release(self, now: float) -> list[EventDoc]:
        for first, pending in list(self._pending.items()):
            if not pending.missing or pending.deadline <= now:
                del self._pending[first]
        blocking = min((min(p.missing) for p in self._pending.values()), default=None)
        self._held.sort(key=lambda e: e.seq)
        ready: list[EventDoc] = []
        while self._held and (blocking is None or self._held[0].seq < blocking):
            event = self._held.pop(0)
            if event.seq > self.delivered:
                ready.append(event)
                self.delivered = event.seq
        return ready
