"""The connection's timers on the loop the server runs (uvloop), where `call_later(0, ...)` is a plain Handle."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import uvloop

from realtime.channel.asyncio.timers import ConnectionTimers
from realtime.channel.config import ChannelConfig
from tests.clock import ManualClock
from tests.test_channel_protocol import protocol


def timers(fired: list[str]) -> ConnectionTimers:
    async def renew() -> None:
        fired.append("renew")

    service: Any = None  # the pass never runs: the timers are stopped before the loop turns
    return ConnectionTimers(
        protocol(),
        service,
        "session-1",
        ChannelConfig(),
        ManualClock(),
        token_expires_at=None,
        token_ttl=timedelta(minutes=10),
        live=False,
        renew_lease=renew,
        on_task_done=lambda task: None,
    )


def test_a_poke_right_after_start_re_arms_on_uvloop() -> None:
    """A session event delivered before the first firing (a change from another process) pokes the timers."""

    async def main() -> None:
        connection_timers = timers([])
        connection_timers.start()
        connection_timers.poke()  # raised AttributeError: Handle has no `when`
        connection_timers.poke()
        await connection_timers.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
