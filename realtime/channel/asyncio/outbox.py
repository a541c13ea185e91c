"""What the protocol queued, on its way to the socket: by the writer task, or at once.

The writer task sends everything in order (the replay, then the protocol's queue). An
ack is the one message per client message, though, and waking the writer for it costs
a task switch and a future per message: the inbox's task, which queued the ack,
sends it itself when the writer is idle (waiting for output, nothing carried over) and
the socket takes the frame without waiting (`Transport.send_now`). Order holds because
both paths take from the one queue and the inline one never awaits. Whatever cannot go
at once (a paused socket, a `Close`) is carried over to the writer, ahead of anything
queued after it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from realtime.channel.actions import Close
from realtime.channel.asyncio.signals import Signal
from realtime.channel.transport import Transport

Item = dict[str, Any] | Close


def encode(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class Outbox:
    """See the module docstring. `take` is the protocol's `data_to_send`."""

    __slots__ = ("_carry", "_held", "_pending", "_take", "_transport", "_waiting", "wake")

    def __init__(self, transport: Transport, take: Callable[[], list[Item]]) -> None:
        self._transport = transport
        self._take = take
        self.wake = Signal()
        self._carry: list[Item] = []
        self._waiting = False  # the writer is parked in `wait`, past the replay
        self._held = 0
        self._pending = False

    def output_ready(self) -> None:
        """The protocol queued something (its `on_output`)."""
        if self._held:
            self._pending = True
        else:
            self.wake.set()

    @contextlib.contextmanager
    def sending_inline(self) -> Iterator[None]:
        """Output queued inside the block is sent when it ends, from this task if possible."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                self._flush_inline()

    def _flush_inline(self) -> None:
        if not self._waiting or self._carry:
            self.wake.set()
            return
        items = self._take()
        for index, item in enumerate(items):
            if isinstance(item, Close) or not self._transport.send_now(encode(item)):
                self._carry = items[index:]
                self.wake.set()
                return

    async def wait(self) -> None:
        """The writer waits for output."""
        self._waiting = True
        try:
            await self.wake.wait()
        finally:
            self._waiting = False
        self.wake.clear()

    def take(self) -> list[Item]:
        """For the writer: what was carried over, then what is queued."""
        items, self._carry = self._carry, []
        items.extend(self._take())
        return items
