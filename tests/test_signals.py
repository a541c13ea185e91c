"""The connection's Signal behaves like asyncio.Event for the ways the channel uses it."""

from __future__ import annotations

import asyncio

from realtime.channel.asyncio.signals import Signal


async def test_a_set_signal_wakes_every_waiter_and_stays_set_until_cleared() -> None:
    signal = Signal()
    waiters = [asyncio.create_task(signal.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    signal.set()
    await asyncio.gather(*waiters)
    assert signal.is_set()
    await signal.wait()  # already set: returns at once
    signal.clear()
    assert not signal.is_set()


async def test_a_cancelled_or_timed_out_wait_leaves_the_signal_usable() -> None:
    signal = Signal()
    try:
        async with asyncio.timeout(0.01):
            await signal.wait()
    except TimeoutError:
        pass
    waiter = asyncio.create_task(signal.wait())
    await asyncio.sleep(0)
    signal.set()
    await waiter
    assert waiter.done() and not waiter.cancelled()
