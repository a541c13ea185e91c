"""The outbox: an ack leaves from the task that queued it when the writer is idle, else by the writer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime.channel.actions import Close
from realtime.channel.asyncio.outbox import Item, Outbox
from realtime.channel.close_codes import CloseCode


class Socket:
    """A transport whose synchronous send can be refused (a paused socket)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.takes_now = True

    async def receive(self) -> str | bytes | None:
        return None

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def send_now(self, text: str) -> bool:
        if self.takes_now:
            self.sent.append(json.loads(text))
        return self.takes_now

    async def close(self, code: int, reason: str) -> None:
        return None


class Queue:
    """What the protocol holds; `push` calls the outbox's `output_ready` as the protocol does."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.outbox: Outbox | None = None

    def push(self, item: Item) -> None:
        self.items.append(item)
        assert self.outbox is not None
        self.outbox.output_ready()

    def take(self) -> list[Item]:
        items, self.items = self.items, []
        return items


def outbox_on(socket: Socket) -> tuple[Outbox, Queue]:
    queue = Queue()
    outbox = Outbox(socket, queue.take)
    queue.outbox = outbox
    return outbox, queue


async def parked(outbox: Outbox) -> asyncio.Task[None]:
    """A writer waiting for output, as the connection's is after its replay."""
    writer = asyncio.create_task(outbox.wait())
    await asyncio.sleep(0)
    return writer


async def test_an_ack_goes_out_at_once_without_waking_an_idle_writer() -> None:
    socket = Socket()
    outbox, queue = outbox_on(socket)
    writer = await parked(outbox)
    with outbox.sending_inline():
        queue.push({"type": "ack", "ids": ["a"]})
        assert socket.sent == []  # not inside the block: the protocol may still be queueing
    assert socket.sent == [{"type": "ack", "ids": ["a"]}]
    assert not outbox.wake.is_set()
    await asyncio.sleep(0.01)
    assert not writer.done()
    writer.cancel()


async def test_output_outside_the_block_wakes_the_writer() -> None:
    socket = Socket()
    outbox, queue = outbox_on(socket)
    writer = await parked(outbox)
    queue.push({"type": "ping"})
    await asyncio.wait_for(writer, 1)
    assert socket.sent == []
    assert outbox.take() == [{"type": "ping"}]


async def test_a_writer_that_is_busy_sends_it_instead() -> None:
    """During the replay (the writer is not parked) nothing overtakes it."""
    socket = Socket()
    outbox, queue = outbox_on(socket)
    with outbox.sending_inline():
        queue.push({"type": "ack", "ids": ["a"]})
    assert socket.sent == []
    assert outbox.wake.is_set()
    assert outbox.take() == [{"type": "ack", "ids": ["a"]}]


async def test_what_the_socket_refuses_is_carried_over_ahead_of_later_output() -> None:
    socket = Socket()
    outbox, queue = outbox_on(socket)
    writer = await parked(outbox)
    socket.takes_now = False
    with outbox.sending_inline():
        queue.push({"type": "ack", "ids": ["a"]})
        queue.push({"type": "ack", "ids": ["b"]})
    await asyncio.wait_for(writer, 1)
    queue.push({"type": "ping"})
    with outbox.sending_inline():  # carried output stops inline sending until the writer took it
        queue.push({"type": "ack", "ids": ["late"]})
    assert socket.sent == []
    assert outbox.take() == [
        {"type": "ack", "ids": ["a"]},
        {"type": "ack", "ids": ["b"]},
        {"type": "ping"},
        {"type": "ack", "ids": ["late"]},
    ]
    await asyncio.wait_for(outbox.wait(), 1)  # the ping's wake-up, already taken: the writer goes round once more
    writer = await parked(outbox)
    socket.takes_now = True
    with outbox.sending_inline():
        queue.push({"type": "ack", "ids": ["c"]})
    assert socket.sent == [{"type": "ack", "ids": ["c"]}]
    writer.cancel()


async def test_a_close_is_left_to_the_writer_with_what_follows() -> None:
    socket = Socket()
    outbox, queue = outbox_on(socket)
    writer = await parked(outbox)
    close = Close(CloseCode.SESSION_ENDED, "session ended")
    with outbox.sending_inline():
        queue.push({"type": "ack", "ids": ["a"]})
        queue.push(close)
    await asyncio.wait_for(writer, 1)
    assert socket.sent == [{"type": "ack", "ids": ["a"]}]
    assert outbox.take() == [close]
