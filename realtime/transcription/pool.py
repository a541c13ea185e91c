"""A bounded thread pool for blocking ASR calls, with final-over-partial priority.

Scheduling state lives on the event loop; only the job functions run in the
pool's threads. At most ``workers`` jobs run at once. Finals queue FIFO and
always run. Partials are best-effort:

* a partial is skipped at once when finals are waiting (the pool is busy with
  work that must be delivered);
* otherwise it runs at once if a worker is free, fewer than ``partial_workers``
  partials are running (by default one worker is kept for finals when there
  are two or more) and its stream has no partial running; else it waits in its
  stream's single slot;
* a waiting partial is skipped when a newer partial or a final for the same
  stream arrives, or when a final has to queue.

A skipped partial resolves to ``None``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import PoolClosedError

__all__ = ["PoolStats", "WorkerPool"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class PoolStats:
    """Counters since the pool was created."""

    finals_run: int = 0
    partials_run: int = 0
    partials_skipped: int = 0
    max_running: int = 0


@dataclass(eq=False, slots=True)
class _Job(Generic[T]):
    fn: Callable[[], T]
    future: asyncio.Future[T | None]
    key: Hashable | None
    final: bool


@dataclass(slots=True)
class _State:
    finals: collections.deque[_Job[Any]] = field(default_factory=collections.deque)
    partials: dict[Hashable, _Job[Any]] = field(default_factory=dict)  # insertion-ordered
    running: dict[asyncio.Future[Any], _Job[Any]] = field(default_factory=dict)


class WorkerPool:
    """Runs blocking callables in ``workers`` threads with back-pressure.

    Must be used from a single event loop. Cancelling a caller removes its job
    if it is still queued; a job already running in a thread finishes there
    (threads cannot be interrupted) and keeps its slot until it does.
    """

    def __init__(self, workers: int, *, partial_workers: int | None = None, name: str = "asr") -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if partial_workers is None:
            partial_workers = max(1, workers - 1)
        if not 1 <= partial_workers <= workers:
            raise ValueError("partial_workers must be between 1 and workers")
        self.workers = workers
        self.partial_workers = partial_workers
        self.stats = PoolStats()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._state = _State()
        self._closed = False

    @property
    def running(self) -> int:
        """Jobs currently executing in threads."""
        return len(self._state.running)

    @property
    def queued_finals(self) -> int:
        """Finals waiting for a worker."""
        return len(self._state.finals)

    async def run_final(self, fn: Callable[[], T], *, key: Hashable | None = None) -> T:
        """Run ``fn`` in a worker; it is queued until one is free and always runs.

        Raises:
            PoolClosedError: if the pool is (or gets) closed before ``fn`` starts.
            Exception: whatever ``fn`` raises.
        """
        self._check_open()
        state = self._state
        if key is not None:
            self._skip_waiting_partial(key)
        job: _Job[T] = _Job(fn, asyncio.get_running_loop().create_future(), key, final=True)
        if state.finals or len(state.running) >= self.workers:
            # Finals come first: no waiting partial may run ahead of this one.
            for waiting in list(state.partials):
                self._skip_waiting_partial(waiting)
        state.finals.append(job)
        self._pump()
        result = await self._wait(job)
        return result  # type: ignore[return-value]  # finals never resolve to None

    async def run_partial(self, fn: Callable[[], T], *, key: Hashable) -> T | None:
        """Run ``fn`` if capacity allows; return ``None`` if it was skipped.

        Raises:
            PoolClosedError: if the pool is closed.
            Exception: whatever ``fn`` raises.
        """
        self._check_open()
        state = self._state
        job: _Job[T] = _Job(fn, asyncio.get_running_loop().create_future(), key, final=False)
        if state.finals:
            self._skip(job)
        else:
            self._skip_waiting_partial(key)
            state.partials[key] = job
            self._pump()
        return await self._wait(job)

    async def close(self) -> None:
        """Reject queued jobs, wait for running ones, and stop the threads."""
        if not self._closed:
            self._closed = True
            state = self._state
            while state.finals:
                job = state.finals.popleft()
                if not job.future.done():
                    job.future.set_exception(PoolClosedError("worker pool closed"))
            for key in list(state.partials):
                self._skip_waiting_partial(key)
        if self._state.running:
            # asyncio.wait, unlike gather, does not cancel what it waits for.
            await asyncio.wait(list(self._state.running))
        self._executor.shutdown(wait=False)

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError("worker pool closed")

    async def _wait(self, job: _Job[T]) -> T | None:
        try:
            return await job.future
        except asyncio.CancelledError:
            self._discard(job)
            raise

    def _discard(self, job: _Job[Any]) -> None:
        """Forget a queued job whose caller went away."""
        state = self._state
        if job.final:
            try:
                state.finals.remove(job)
            except ValueError:
                pass
        elif job.key is not None and state.partials.get(job.key) is job:
            del state.partials[job.key]

    def _skip(self, job: _Job[Any]) -> None:
        self.stats.partials_skipped += 1
        if not job.future.done():
            job.future.set_result(None)

    def _skip_waiting_partial(self, key: Hashable) -> None:
        job = self._state.partials.pop(key, None)
        if job is not None:
            self._skip(job)

    def _running_partial_keys(self) -> list[Hashable]:
        return [job.key for job in self._state.running.values() if not job.final]

    def _next_job(self) -> _Job[Any] | None:
        state = self._state
        while state.finals:
            job = state.finals.popleft()
            if not job.future.done():
                return job
        busy = self._running_partial_keys()
        if len(busy) >= self.partial_workers:
            return None
        for key, job in list(state.partials.items()):
            if job.future.done():
                del state.partials[key]
            elif key not in busy:
                del state.partials[key]
                return job
        return None

    def _pump(self) -> None:
        """Start queued jobs while workers are free."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        while len(self._state.running) < self.workers:
            job = self._next_job()
            if job is None:
                return
            if job.final:
                self.stats.finals_run += 1
            else:
                self.stats.partials_run += 1
            running = loop.run_in_executor(self._executor, job.fn)
            self._state.running[running] = job
            self.stats.max_running = max(self.stats.max_running, len(self._state.running))
            running.add_done_callback(functools.partial(self._on_done, job))

    def _on_done(self, job: _Job[Any], running: asyncio.Future[Any]) -> None:
        del self._state.running[running]
        if not job.future.done():
            if running.cancelled():
                job.future.cancel()
            elif (exc := running.exception()) is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(running.result())
        elif not running.cancelled() and running.exception() is not None:
            logger.warning("abandoned ASR job failed", exc_info=running.exception())
        self._pump()
