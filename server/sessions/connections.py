"""Live connections across processes: who holds each session, and delivery of what others stored.

At most one connection holds a session's live channel at a time, in whichever
process; a claim in the store names it (storage/connections.py) and the change
feed tells the other processes (their older connection retires with 4009).
The holder's process writes the session's events through its group writer.
"""

from __future__ import annotations

from datetime import datetime

from server.sessions.clock import Clock
from server.sessions.event_log import EventLog, LiveSession
from server.sessions.group_writer import BLOCK
from server.sessions.hub import Listener
from storage import Claim, ConnectionClaims, EventDoc, Reservation, SeqRange


class LiveConnections:
    def __init__(self, claims: ConnectionClaims, log: EventLog, clock: Clock) -> None:
        self._claims = claims
        self._log = log
        self._clock = clock

    def open(self, session_id: str, listener: Listener) -> LiveSession:
        """Deliver the session's new server events to `listener` and write its events as their owner."""
        return self._log.live(session_id, listener)

    def holds(self, session_id: str) -> bool:
        """Whether a live connection of this process holds the session."""
        return self._log.writer.owns(session_id)

    def stored_elsewhere(self, event: EventDoc) -> None:
        """A server event stored by another process (the change feed)."""
        self._log.stored_elsewhere(event)

    def reserved_elsewhere(self, session_id: str, pending: list[SeqRange]) -> None:
        """Another writer's seqs that may not be stored yet (the change feed)."""
        self._log.reserved_elsewhere(session_id, pending)

    async def claim(self, session_id: str, connection_id: str, until: datetime) -> Claim:
        """Make `connection_id` the session's live connection, leased until `until`.

        The claim also reserves the connection's first block of seqs (one round trip
        for both) and lists the other writers' pending seqs.
        """
        claim = await self._claims.claim(session_id, connection_id, until, self._clock.now(), BLOCK)
        self._log.writer.grant(session_id, Reservation(claim.seqs, claim.pending))
        return claim

    async def renew(self, session_id: str, connection_id: str, until: datetime) -> bool:
        """Extend the lease; False once another connection has claimed the session."""
        return await self._claims.renew(session_id, connection_id, until, self._clock.now())

    async def release(self, session_id: str, connection_id: str) -> None:
        await self._claims.release(session_id, connection_id, self._clock.now())

    async def released(self, session_id: str, connection_id: str) -> bool:
        return await self._claims.released(session_id, connection_id)
