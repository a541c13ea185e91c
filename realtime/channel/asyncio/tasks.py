"""Ending a connection's tasks for good."""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)


async def cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel and await every task, cancelling again while any is left.

    PyMongo's async driver can absorb a cancellation that lands inside an operation
    (the operation then completes), so one cancel() is not always enough; every loop
    of a connection also checks its stop flag.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=1.0)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("task %s ended with %r", task.get_name(), task.exception())
