"""A small interview-channel client for the tests, on the `websockets` library.

It behaves like the browser client should: every state-changing message gets a
UUID and stays in the outbox until acked (or refused for good), is resent after
each reconnect, and server messages are de-duplicated by `seq`. It records
everything it saw so tests can compare it with the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin, Subprotocol

SUBPROTOCOL = "interview.v1"
Predicate = Callable[[dict[str, Any]], bool]


def new_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


async def open_socket(
    url: str, *, origin: str | None = None, subprotocols: list[str] | None = None, **kwargs: Any
) -> ClientConnection:
    """A raw connection (no hello) with the protocol's subprotocol offered."""
    return await websockets.connect(
        url,
        subprotocols=[Subprotocol(p) for p in ([SUBPROTOCOL] if subprotocols is None else subprotocols)],
        origin=Origin(origin) if origin else None,
        ping_interval=None,
        open_timeout=10,
        close_timeout=5,
        **kwargs,
    )


async def receive_json(ws: ClientConnection, within: float = 15) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))  # type: ignore[no-any-return]


async def close_code_of(ws: ClientConnection, within: float = 20) -> int | None:
    """Read (and drop) everything until the server closes; the close code it sent."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    return ws.close_code


def small_buffer_socket(port: int, receive_buffer: int = 4096) -> socket.socket:
    """A connected TCP socket with a tiny receive buffer, to play a slow consumer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


class InterviewClient:
    """One candidate's channel client: outbox, acks, de-duplication by seq, reconnects."""

    def __init__(self, url: str, token: str, *, origin: str | None = None) -> None:
        self.url = url
        self.token = token
        self.origin = origin
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] | None = None
        self.last_seq: int | None = None
        self.seen: list[int] = []  # every seq received, duplicates included
        self.messages: list[dict[str, Any]] = []  # server messages with a seq, each seq once
        self._seqs: set[int] = set()
        self.log: list[dict[str, Any]] = []  # everything received, in order
        self.outbox: dict[str, dict[str, Any]] = {}  # unacked, in the order they were made
        self.sent_ids: set[str] = set()
        self.acked: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.close_codes: list[int | None] = []
        self.connections = 0
        self.sends = 0
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._replaced: list[asyncio.Task[None]] = []

    # ----- connection ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.ws is not None and self._reader is not None and not self._reader.done()

    @property
    def duplicates(self) -> int:
        return len(self.seen) - len(set(self.seen))

    @property
    def seqs(self) -> set[int]:
        return set(self._seqs)

    async def connect(
        self, *, last_seq: int | str | None = "auto", resend: bool = True, take_over: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Open a socket, say hello (with the unacked ids) and resend the outbox; returns the welcome.

        With `take_over`, the current socket is left open: the server closes it (4009).
        """
        if take_over:
            self._replaced.extend(r for r in (self._reader,) if r is not None)
            self.ws, self._reader = None, None
        else:
            await self.drop()
        ws = await open_socket(self.url, origin=self.origin, **kwargs)
        hello = {
            "type": "hello",
            "token": self.token,
            "lastSeq": self.last_seq if last_seq == "auto" else last_seq,
            "pendingIds": list(self.outbox),
        }
        await ws.send(json.dumps(hello))
        first = await receive_json(ws)
        if first.get("type") != "welcome":
            code = await close_code_of(ws)
            self.close_codes.append(code)
            raise ConnectionRefusedError(f"no welcome: {first} (close {code})")
        self.ws = ws
        self.welcome = first
        self.connections += 1
        self._record(first)
        self._reader = asyncio.create_task(self._read(ws))
        if resend:
            for message in list(self.outbox.values()):
                await self._transmit(message)
        return first

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._handle(json.loads(raw), ws)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            if self.ws is ws:
                self.ws = None
            self._changed.set()

    async def drop(self) -> None:
        """Forget the current socket without a goodbye (it is closed if still open)."""
        ws, reader = self.ws, self._reader
        self.ws = None
        if ws is not None:
            ws.transport.abort()
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        self._reader = None

    async def abort(self) -> None:
        """Cut the TCP connection from the client side (no close frame)."""
        if self.ws is not None:
            self.ws.transport.abort()
        await self.drop()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        await self.drop()
        for reader in self._replaced:  # sockets taken over: the server closes them
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 10)
        self._replaced.clear()

    async def wait_closed(self, within: float = 20) -> int | None:
        """Until the server closes this socket; its close code."""
        reader = self._reader
        if reader is not None:
            await asyncio.wait_for(asyncio.shield(reader), within)
        return self.close_codes[-1] if self.close_codes else None

    # ----- messages ----------------------------------------------------------------

    def _record(self, message: dict[str, Any]) -> None:
        self.log.append(message)
        self._changed.set()

    def _handle(self, message: dict[str, Any], ws: ClientConnection) -> None:
        seq = message.get("seq")
        if isinstance(seq, int):
            self.seen.append(seq)
            if seq in self._seqs:
                self._record({**message, "duplicate": True})
                return
            self._seqs.add(seq)
            self.messages.append(message)
            self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)
        kind = message.get("type")
        if kind == "ack":
            for id in message["ids"]:
                self.outbox.pop(id, None)
                self.acked.add(id)
        elif kind == "error" and message.get("id") and not message.get("retryable"):
            if message["id"] in self.outbox:
                self.outbox.pop(message["id"])
                self.rejected[message["id"]] = message["code"]
        elif kind == "ping":
            asyncio.get_running_loop().create_task(self._pong(ws, message.get("ts")))
        elif kind == "token.refresh":
            self.token = message["token"]
        self._record(message)

    async def _pong(self, ws: ClientConnection, ts: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"type": "pong", "ts": ts}))

    async def _transmit(self, message: dict[str, Any]) -> None:
        if self.ws is None:
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps(message))
            self.sends += 1

    async def send(self, type_: str, *, id: str | None = None, **fields: Any) -> str:
        """Queue a state-changing message in the outbox and send it if connected; returns its id."""
        id = id or new_id()
        message = {"type": type_, "id": id, "ts": now_iso(), **fields}
        self.outbox[id] = message
        self.sent_ids.add(id)
        await self._transmit(message)
        return id

    async def send_raw(self, data: str | bytes | dict[str, Any]) -> None:
        """Anything at all, outside the outbox (for malformed-input tests)."""
        assert self.ws is not None
        await self.ws.send(json.dumps(data) if isinstance(data, dict) else data)

    async def wait_for(self, predicate: Predicate, *, since: int = 0, within: float = 20) -> dict[str, Any]:
        """The first received message (from log index `since`) matching `predicate`."""
        async with asyncio.timeout(within):
            index = since
            while True:
                while index < len(self.log):
                    message = self.log[index]
                    index += 1
                    if predicate(message):
                        return message
                self._changed.clear()
                if index < len(self.log):
                    continue
                if self._reader is None or self._reader.done():
                    raise ConnectionError(f"socket closed ({self.close_codes[-1:]}) while waiting")
                await self._changed.wait()

    async def wait_type(self, type_: str, *, since: int = 0, within: float = 20, **fields: Any) -> dict[str, Any]:
        return await self.wait_for(
            lambda m: m.get("type") == type_ and all(m.get(k) == v for k, v in fields.items()),
            since=since,
            within=within,
        )

    async def wait_acked(self, *ids: str, within: float = 20) -> None:
        async with asyncio.timeout(within):
            while not all(i in self.acked for i in ids):
                self._changed.clear()
                if not self.connected:
                    raise ConnectionError(f"socket closed ({self.close_codes[-1:]}) before acks")
                await self._changed.wait()

    async def wait_until(self, condition: Callable[[], bool], *, within: float = 20) -> None:
        """Until `condition()` holds; ConnectionError if the socket closes first."""
        async with asyncio.timeout(within):
            while not condition():
                self._changed.clear()
                if self._reader is None or self._reader.done():
                    raise ConnectionError(f"socket closed ({self.close_codes[-1:]}) while waiting")
                await self._changed.wait()

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == type_]

    def current_question(self) -> dict[str, Any] | None:
        """The latest question asked (by seq), if any."""
        questions = self.of_type("question")
        return max(questions, key=lambda m: m["seq"]) if questions else None
