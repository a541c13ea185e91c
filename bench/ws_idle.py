"""Idle interview connections that cost the benchmark process almost nothing.

Each one is an `asyncio.Protocol` driving websockets' sans-I/O `ClientProtocol`: no task,
no queue, just callbacks. It says hello, reads the welcome and the replay, answers the
server's JSON `ping`s with `pong` (and protocol pings, which the sans-I/O core answers),
and counts them, so 10,000 of them fit in one process next to a server that holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

SUBPROTOCOL = Subprotocol("interview.v1")


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class IdleClient(asyncio.Protocol):
    """One interview connection that only says hello and answers pings."""

    def __init__(self, url: str, token: str, *, compression: bool, expect: int) -> None:
        extensions = [ClientPerMessageDeflateFactory()] if compression else None  # offers client_max_window_bits
        self.conn = ClientProtocol(parse_uri(url), extensions=extensions, subprotocols=[SUBPROTOCOL])
        self.token = token
        self.expect = expect  # messages after welcome before the connection counts as open
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pings = 0
        self.closed = False
        self.deflate = False
        self._transport: asyncio.Transport | None = None
        self._received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.conn.send_request(self.conn.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Response):
                if self.conn.handshake_exc is not None:
                    self._fail(self.conn.handshake_exc)
                    return
                self.deflate = bool(self.conn.extensions)
                self.conn.send_text(json.dumps({"type": "hello", "token": self.token, "lastSeq": None}).encode())
            elif event.opcode is Opcode.TEXT:
                self._message(json.loads(event.data))
        self._flush()

    def _message(self, message: dict[str, object]) -> None:
        if message.get("type") == "ping":
            self.pings += 1
            self.conn.send_text(json.dumps({"type": "pong", "ts": message.get("ts")}).encode())
            return
        self._received += 1
        if self._received > self.expect and not self.opened.done():
            self.opened.set_result(None)

    def _flush(self) -> None:
        assert self._transport is not None
        for data in self.conn.data_to_send():
            if data:
                self._transport.write(data)
            else:
                self._transport.write_eof()

    def _fail(self, error: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the welcome: {self.conn.close_rcvd}"))

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            with contextlib.suppress(Exception):
                self.conn.send_close()
                self._flush()
            self._transport.close()


@dataclass
class IdleSet:
    clients: list[IdleClient]
    connect_seconds: float
    retries: int

    def alive(self, min_pings: int) -> int:
        return sum(1 for c in self.clients if not c.closed and c.pings >= min_pings)

    def close(self) -> None:
        for client in self.clients:
            client.close()


async def open_idle(url: str, tokens: list[str], *, compression: bool, expect: int, concurrency: int = 20) -> IdleSet:
    """One idle connection per token, `concurrency` handshakes at a time (the store does the rest)."""
    loop = asyncio.get_running_loop()
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    semaphore = asyncio.Semaphore(concurrency)
    started = loop.time()
    retries = 0

    async def one(token: str) -> IdleClient:
        nonlocal retries
        async with semaphore:
            for attempt in range(3):  # a handshake refused under a burst (backlog, store) is retried
                client = IdleClient(url, token, compression=compression, expect=expect)
                try:
                    await loop.create_connection(lambda c=client: c, host, int(port))  # type: ignore[misc]
                    await asyncio.wait_for(client.opened, 120)
                    return client
                except (OSError, TimeoutError, ConnectionError):
                    client.close()
                    if attempt == 2:
                        raise
                    retries += 1
                    await asyncio.sleep(1.0)
            raise AssertionError("unreachable")

    clients = list(await asyncio.gather(*(one(t) for t in tokens)))
    return IdleSet(clients, loop.time() - started, retries)
