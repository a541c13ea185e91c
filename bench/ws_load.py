"""Client-message load for bench/ws.py: senders, ack timing, and the server-side counters of a window.

Every session sends a `transcript` every 1/rate s. The first `warmup` seconds of traffic
are not measured (connections are already open then, so connect costs never count); the
window runs from there to the end of sending, and every figure covers it alone: ack
latency and throughput of the messages sent in it, the servers' CPU seconds and store
round trips (`/healthz` `storeCommands.total`) between its start and the last ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.common import percentile

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass(frozen=True)
class Target:
    """Where sessions connect (one of the server processes, or the echo) and how to read its counters."""

    ws_url: str
    pid: int
    base_url: str | None = None  # None for the echo: no /healthz


@dataclass
class Counters:
    cpu: float = 0.0
    store_commands: int = 0
    batches: int = 0
    events: int = 0
    store_millis: Counter[str] = field(default_factory=Counter)  # store time by command name
    store_counts: Counter[str] = field(default_factory=Counter)  # round trips by command name

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.cpu - other.cpu,
            self.store_commands - other.store_commands,
            self.batches - other.batches,
            self.events - other.events,
            self.store_millis - other.store_millis,
            self.store_counts - other.store_counts,
        )


async def read_counters(http: httpx.AsyncClient, targets: list[Target]) -> Counters:
    """CPU seconds of every process, store commands and group-commit figures of every server, summed."""
    total = Counters(cpu=sum(cpu_seconds(t.pid) for t in targets))
    for target in targets:
        if target.base_url is None:
            continue
        health = (await http.get(f"{target.base_url}/healthz")).json()
        total.store_commands += int(health["storeCommands"]["total"])
        total.batches += int(health["groupCommit"]["batches"])
        total.events += int(health["groupCommit"]["events"])
        total.store_millis.update(health.get("storeMillis") or {})
        total.store_counts.update({k: v for k, v in health["storeCommands"].items() if k != "total"})
    return total


@dataclass
class Peer:
    """One benchmark connection: answers pings, times the acks of the messages sent in the window."""

    ws: Any
    sent_at: dict[str, float] = field(default_factory=dict)
    timed: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    last_ack: float = 0.0
    reader: asyncio.Task[None] | None = None
    finished_sending: bool = False
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    def check_drained(self) -> None:
        if self.finished_sending and not self.sent_at:
            self.drained.set()

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ack":
                    now = time.perf_counter()
                    for id in message["ids"]:
                        started = self.sent_at.pop(id, None)
                        if started is not None and id in self.timed:
                            self.latencies.append(now - started)
                            self.last_ack = now
                    self.check_drained()
                elif kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong", "ts": message.get("ts")}))


async def open_peer(url: str, token: str, expect: int) -> Peer:
    """Connect (offering permessage-deflate, as browsers do), say hello, read welcome + `expect` replayed."""
    ws = await websockets.connect(url, subprotocols=["interview.v1"], ping_interval=None, open_timeout=60)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "hello", "token": token, "lastSeq": None}))
    for _ in range(1 + expect):
        await asyncio.wait_for(ws.recv(), 60)
    peer = Peer(ws)
    peer.reader = asyncio.create_task(peer.read())
    return peer


async def open_peers(targets: list[Target], tokens: list[str], expect: int, concurrency: int = 20) -> list[Peer]:
    """Session i connects to target i mod len(targets): sessions spread round-robin over the processes."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(index: int, token: str) -> Peer:
        async with semaphore:
            return await open_peer(targets[index % len(targets)].ws_url, token, expect)

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens))))


async def close_peers(peers: list[Peer]) -> None:
    await asyncio.gather(*(p.ws.close() for p in peers), return_exceptions=True)
    for peer in peers:
        if peer.reader is not None:
            with contextlib.suppress(Exception):
                await peer.reader


async def traffic(
    targets: list[Target], tokens: list[str], *, rate: float, warmup: float, duration: float, expect: int
) -> dict[str, Any]:
    """`len(tokens)` sessions x `rate`/s for warmup + duration s; the figures of the `duration` window."""
    peers = await open_peers(targets, tokens, expect)
    interval = 1 / rate
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        window_start = started + warmup
        deadline = window_start + duration
        in_window = 0

        async def send_loop(index: int, peer: Peer) -> None:
            nonlocal in_window
            sent = 0
            next_at = started + interval * index / len(peers)  # spread the sessions over one interval
            while next_at < deadline:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                id = str(uuid.uuid4())
                now = time.perf_counter()
                peer.sent_at[id] = now
                if now >= window_start:
                    peer.timed.add(id)
                    in_window += 1
                text = {"type": "transcript", "id": id, "text": f"bench line {sent}", "startMs": 0, "endMs": 800}
                await peer.ws.send(json.dumps(text))
                sent += 1
                next_at += interval
            peer.finished_sending = True
            peer.check_drained()

        async def window_counters() -> Counters:
            await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
            return await read_counters(http, targets)

        before_task = asyncio.create_task(window_counters())
        await asyncio.gather(*(send_loop(i, p) for i, p in enumerate(peers)))
        before = await before_task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(120):  # the last acks (a saturated store answers late, never not)
                await asyncio.gather(*(p.drained.wait() for p in peers))
        used = await read_counters(http, targets) - before
    latencies = [v for p in peers for v in p.latencies]
    last_ack = max((p.last_ack for p in peers), default=deadline)
    await close_peers(peers)
    ms = [v * 1000 for v in latencies]
    acked = len(latencies)
    return {
        "sessions": len(peers),
        "processes": len(targets),
        "offered": len(peers) * rate,
        "sent": in_window,
        "acked": acked,
        "throughput": acked / max(last_ack - window_start, duration),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "cpu_seconds": used.cpu,
        "cpu_ms_per_message": used.cpu * 1000 / max(acked, 1),
        "store_commands": used.store_commands,
        "round_trips_per_message": used.store_commands / max(acked, 1),
        "store_millis": {name: (ms, used.store_counts[name]) for name, ms in used.store_millis.most_common(4)},
        "batch_size": used.events / max(used.batches, 1),
    }
