"""Everything timed of one connection: heartbeat and idle timeout, the connection lease,
the current question's time limit, token refresh, and the settle deadline of an ended session.

Between deadlines a connection holds one timer handle, not a sleeping task: each firing
runs one pass in a short task (it may call the store), which arms the next deadline.

The question deadline is derived from the session document (`questionAskedAt`,
`questionElapsedSeconds`, the question's `timeLimitSeconds`), never from memory,
so it survives reconnects and restarts: a question whose time ran out while no
one was connected times out as soon as the next connection arms it.
`SessionService.timeout_question` is conditional, so a late or duplicate firing is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from realtime.channel.asyncio.tasks import cancel_and_wait
from realtime.channel.config import QUESTION_TIMEOUT_GRACE_SECONDS, ChannelConfig
from realtime.channel.protocol import ChannelProtocol
from server.sessions import Clock, DomainError, SessionService, StorageError
from storage import TERMINAL_STATUSES, SessionStatus

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
AFTER_FIRING_PAUSE_SECONDS = 0.05  # never spin if a firing changed nothing
_FAR = float("inf")


class ConnectionTimers:
    """Armed by `start` until `close`; `poke` re-reads the session's question."""

    def __init__(
        self,
        protocol: ChannelProtocol,
        service: SessionService,
        session_id: str,
        config: ChannelConfig,
        clock: Clock,
        *,
        token_expires_at: datetime | None,
        token_ttl: timedelta,
        live: bool,
        renew_lease: Callable[[], Awaitable[None]],
        on_task_done: Callable[[asyncio.Task[None]], None],
    ) -> None:
        self._protocol = protocol
        self._service = service
        self._session_id = session_id
        self._config = config
        self._clock = clock
        self._renew_lease = renew_lease
        self._token_ttl = token_ttl
        self._on_task_done = on_task_done
        self._handle: asyncio.Handle | None = None
        self._handle_due = 0.0  # loop time the handle fires at
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._question_due = _FAR
        self._question_number = 0
        self._question_stale = live  # re-read the session before the first wait
        self._refresh_due = self._refresh_time(token_expires_at) if live else _FAR
        self._settle_due = _FAR if live else clock.monotonic() + config.hello_timeout_seconds
        self._extra = {"session_id": session_id}

    def start(self) -> None:
        self._arm(0.0)

    def poke(self) -> None:
        """The session changed (question asked, paused, resumed...): re-read it and re-arm."""
        self._question_stale = True
        self._arm(0.0)

    def stop(self) -> None:
        """No more firings, and the pass in progress is cancelled now (`close` awaits it).

        At once, not after the connection's other tasks: a pass that went on storing (a
        question's timeout, the session's completion) while a newer connection replays
        elsewhere could commit an event that replay has already gone past.
        """
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """`stop`, then cancel and await the pass in progress, if any."""
        self.stop()
        if self._task is not None:
            await cancel_and_wait([self._task])

    def _arm(self, delay: float) -> None:
        """Fire in `delay` seconds (sooner than armed, never later); a pass in progress re-arms when it ends."""
        if self._stopped or self._task is not None or delay == _FAR:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        if self._handle is not None:
            if self._handle_due <= due:
                return
            self._handle.cancel()
        # Its own due time, not `handle.when()`: uvloop answers `call_later(0, ...)` with a plain
        # Handle, which has none (a poke right after `start` raised in the hub's listener).
        self._handle = loop.call_later(max(0.0, delay), self._fire)
        self._handle_due = due

    def _fire(self) -> None:
        self._handle = None
        if self._stopped:
            return
        self._task = asyncio.create_task(self._run(), name=f"ws-timers-{self._session_id}")
        self._task.add_done_callback(self._on_task_done)

    async def _run(self) -> None:
        try:
            delay = await self._pass()
        finally:
            self._task = None
        self._arm(delay)

    def _refresh_time(self, expires_at: datetime | None) -> float:
        if expires_at is None:
            return _FAR
        # Never closer to the previous refresh than 5% of the lifetime, whatever the settings say.
        before = min(timedelta(seconds=self._config.token_refresh_before_seconds), self._token_ttl * 0.95)
        return self._clock.monotonic() + (expires_at - before - self._clock.now()).total_seconds()

    async def _pass(self) -> float:
        """Everything due now; the seconds until the next deadline."""
        while not self._stopped:
            now = self._clock.monotonic()
            if self._protocol.tick(now):
                await self._renew_lease()
            if now >= self._settle_due:
                self._settle_due = _FAR
                self._protocol.settle_deadline_passed()
            if self._question_stale:
                await self._read_question()
            elif now >= self._question_due:
                await self._time_out_question()
            if now >= self._refresh_due:
                await self._refresh_token()
            if self._question_stale:
                continue
            deadline = min(self._protocol.next_deadline(), self._question_due, self._refresh_due, self._settle_due)
            return deadline - self._clock.monotonic()
        return _FAR

    async def _read_question(self) -> None:
        self._question_stale = False
        try:
            session = await self._service.get(self._session_id)
        except (StorageError, DomainError) as error:
            logger.warning("question timer cannot read the session: %s", type(error).__name__, extra=self._extra)
            self._question_due = self._clock.monotonic() + RETRY_SECONDS
            self._question_stale = True
            return
        remaining = session.question_remaining_seconds(self._clock.now())
        question = session.current_question()
        if (
            session.status in TERMINAL_STATUSES
            or session.status != SessionStatus.IN_PROGRESS
            or question is None
            or remaining is None
        ):
            self._question_due = _FAR
            return
        self._question_number = question.number
        self._question_due = self._clock.monotonic() + remaining + QUESTION_TIMEOUT_GRACE_SECONDS

    async def _time_out_question(self) -> None:
        self._question_due = _FAR
        try:
            await self._service.timeout_question(self._session_id, self._question_number)
        except StorageError as error:
            logger.warning("question timeout not stored: %s; retrying", type(error).__name__, extra=self._extra)
            self._question_due = self._clock.monotonic() + RETRY_SECONDS
            return
        except DomainError as error:  # the session moved on concurrently
            logger.info("question timeout skipped: %s", error.code.value, extra=self._extra)
        await asyncio.sleep(AFTER_FIRING_PAUSE_SECONDS)
        self._question_stale = True

    async def _refresh_token(self) -> None:
        """Persist a `token.refresh` (without the token) well before the current token expires."""
        expires_at = self._clock.now() + self._token_ttl
        try:
            stored = await self._service.server_events.token_refresh(self._session_id, expires_at)
        except StorageError as error:
            logger.warning("token refresh not stored: %s; retrying", type(error).__name__, extra=self._extra)
            self._refresh_due = self._clock.monotonic() + RETRY_SECONDS
            return
        self._refresh_due = self._refresh_time(expires_at) if stored is not None else _FAR
