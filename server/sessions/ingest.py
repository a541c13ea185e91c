"""Storing client events exactly once, and applying the commands among them (and those a crash left pending)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from server.sessions.admission import late_admission, strict_refusal
from server.sessions.commands import ApplyPolicy, Command, execute
from server.sessions.errors import DomainError
from server.sessions.event_log import AppendResult, EventLog, NewClientEvent, PendingAppend
from server.sessions.event_types import COMMAND_TYPES, EventType
from server.sessions.observer import SessionObserver
from storage import ACTIVE_STATUSES, TERMINAL_STATUSES, EventDoc, SessionStatus

if TYPE_CHECKING:
    from server.sessions.service import SessionService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownSession:
    """What a live connection knows of its session, so a batch of facts is stored without reading it."""

    session_id: str
    application_id: str
    status: SessionStatus


@dataclass
class IngestOutcome:
    """What a batch of client events did: stored, already stored, refused as too late, not applied."""

    append: AppendResult
    rejected_ids: list[str] = field(default_factory=list)
    not_applied: dict[str, DomainError] = field(default_factory=dict)
    last_seq: int = 0


def _facts_of_active(known: KnownSession, types: Iterable[EventType]) -> bool:
    """Facts (no commands) of a session its live connection knows to be active: stored without reading it."""
    return known.status in ACTIVE_STATUSES and not any(type_ in COMMAND_TYPES for type_ in types)


class PendingIngest:
    """A batch of facts on its way to the store (`Ingestor.submit`): `outcome()` once `when_done` fires."""

    __slots__ = ("_append", "_finish")

    def __init__(self, append: PendingAppend, finish: Callable[[AppendResult], IngestOutcome]) -> None:
        self._append = append
        self._finish = finish

    def when_done(self, callback: Callable[[], None]) -> None:
        self._append.when_done(callback)

    async def wait(self) -> None:
        await self._append.wait()

    def outcome(self) -> IngestOutcome:
        """What `ingest` would have returned; raises what the store raised."""
        return self._finish(self._append.result())


class Ingestor:
    """One ingest: the strict gate or the late-upload rule, the exactly-once append, then the commands.

    Commands are stored pending and settled one by one after they are applied or refused;
    a command a crash left pending is applied (as a replay) before the next ones.
    """

    def __init__(
        self, service: SessionService, event_log: EventLog, observer: SessionObserver, late_upload_grace: timedelta
    ) -> None:
        self._service = service
        self._log = event_log
        self._observer = observer
        self._late_upload_grace = late_upload_grace

    async def ingest(
        self, session_id: str, events: list[NewClientEvent], policy: ApplyPolicy, known: KnownSession | None = None
    ) -> IngestOutcome:
        """Store client events exactly once and apply the commands among them under `policy`.

        Terminal sessions are read-only, except for late uploads from offline
        clients: events stamped before the session ended are accepted while the
        grace window (LATE_UPLOAD_GRACE_SECONDS after the end) is open. With
        `known` (a live connection's view of an active session), a batch of facts
        under REPLAY is stored without reading the session first, and the
        outcome's `last_seq` is the batch's own highest seq.
        """
        if known is not None and policy == ApplyPolicy.REPLAY and _facts_of_active(known, (e.type for e in events)):
            return self._facts_stored(known, await self._log.append_client(session_id, events))
        service = self._service
        session = await service.get(session_id)
        rejected: list[str] = []
        if policy == ApplyPolicy.STRICT or session.status in TERMINAL_STATUSES:
            known_ids = await service.known_client_ids(session_id, [e.client_event_id for e in events])
            refused = strict_refusal(session, events, known_ids) if policy == ApplyPolicy.STRICT else None
            if refused is not None:
                raise refused
            if session.status in TERMINAL_STATUSES:
                now = service.clock.now()
                events, rejected = late_admission(session, events, known_ids, now, self._late_upload_grace)
        active = session.status in ACTIVE_STATUSES
        append = await self._log.append_client(session_id, events, commands_pending=active)
        not_applied: dict[str, DomainError] = {}
        if active:
            new_ids = {e.client_event_id for e in append.accepted}
            for event in await self._log.pending_commands(session_id):
                # Older pending commands (stored just before a crash) are applied first, as replays.
                new = event.client_event_id in new_ids
                error = await self.apply_stored(event, policy, recovered=not new)
                if error is not None and new:
                    not_applied[event.client_event_id or ""] = error
        if append.accepted:
            self._observer.client_events_stored(session.session_id, session.application_id, append.accepted)
        last_seq = append.last_seq if known is not None else await self._log.high_water(session_id)
        return IngestOutcome(append=append, rejected_ids=rejected, not_applied=not_applied, last_seq=last_seq)

    def submittable(self, known: KnownSession, types: Iterable[EventType]) -> bool:
        """Whether `submit` takes events of `types` now: facts of an active session this process writes."""
        return self._log.writer.owns(known.session_id) and _facts_of_active(known, types)

    def submit(self, known: KnownSession, events: list[NewClientEvent]) -> PendingIngest:
        """`ingest`'s fast path (facts, REPLAY, `known`) without a task or an await: check `submittable` first.

        The events join the group writer's next batch; the caller is told when they are stored.
        """
        append = self._log.submit_client(known.session_id, events)
        return PendingIngest(append, lambda result: self._facts_stored(known, result))

    def _facts_stored(self, known: KnownSession, append: AppendResult) -> IngestOutcome:
        if append.accepted:
            self._observer.client_events_stored(known.session_id, known.application_id, append.accepted)
        return IngestOutcome(append=append, last_seq=append.last_seq)

    async def apply_stored(
        self, event: EventDoc, policy: ApplyPolicy, *, recovered: bool = False
    ) -> DomainError | None:
        """Apply a stored command to the session as it is now; the reason is recorded when it is not.

        A `recovered` command (left pending by a crash) is applied as a replay; if it is refused,
        the crash may have come after it was applied, so it is settled without a reason.
        """
        try:
            command = Command.of(event, ApplyPolicy.REPLAY if recovered else policy)
            await execute(self._service, await self._service.get(event.session_id), command)
        except DomainError as error:
            if recovered:
                extra = {"session_id": event.session_id}
                logger.info("recovered %s settled: %s", event.type, error.code.value, extra=extra)
                await self._log.mark_applied(event)
            else:
                await self._log.mark_not_applied(event, error.code.value, error.message)
            return error
        await self._log.mark_applied(event)
        return None

    async def settle_pending(self, session_id: str) -> bool:
        """Apply the commands a crash left stored but not applied; whether there were any."""
        pending = await self._log.pending_commands(session_id)
        for event in pending:
            await self.apply_stored(event, ApplyPolicy.REPLAY, recovered=True)
        return bool(pending)
