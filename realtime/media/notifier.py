"""Delivers a peer's state changes, in order and one at a time, to an async callback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = 5.0
S = TypeVar("S")


class StateNotifier(Generic[S]):
    """Queues states and awaits `callback(state)` for each from a task it owns."""

    def __init__(
        self,
        callback: Callable[[S], Awaitable[None]],
        *,
        name: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger,
    ) -> None:
        self._callback = callback
        self._name = name
        self._log = log
        self._states: asyncio.Queue[S | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start delivering (needs a running loop; idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name=self._name)

    def put(self, state: S) -> None:
        self._states.put_nowait(state)

    async def _deliver(self) -> None:
        while (state := await self._states.get()) is not None:
            try:
                await self._callback(state)
            except Exception:
                self._log.exception("on_state callback failed for %s", state)

    async def flush(self) -> None:
        """Deliver the remaining states, then stop; a callback stuck beyond the timeout is cancelled."""
        self.start()
        assert self._task is not None
        self._states.put_nowait(None)
        done, _ = await asyncio.wait({self._task}, timeout=FLUSH_TIMEOUT_SECONDS)
        if not done:
            self._log.warning("on_state did not return within %.0f s; cancelled", FLUSH_TIMEOUT_SECONDS)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
