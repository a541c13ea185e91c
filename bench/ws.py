"""Benchmark of the interview WebSocket channel (a benchmark, not a test).

(a) Idle capacity: N interview connections (each its own session) held open by one
    server process through several heartbeats; server RSS per connection.
(b) Client-event throughput and ack latency: S sessions each sending a `transcript`
    every 1/R seconds for D seconds; every one is stored in the wire-protocol store
    before its `ack` comes back.
(c) The same traffic against a bare `websockets` echo server (in another process) that
    acks each message without doing anything else: the transport's ceiling. Ratios
    between (b) and (c) are printed.
(d) The store's ceiling for the same work: the five MongoDB operations one stored client
    message costs (session read, idempotency lookup, seq allocation, insert, session read),
    issued directly through PyMongo with the same concurrency, on the same collections.

Usage: python bench/ws.py [--idle 1000 --sessions 200 --rate 2 --duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import websockets
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, store_and_server
from bench.start_session import seed_applications
from storage.embedded import free_port
from tests.support import auth, user_token

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def start_sessions(base_url: str, db: Any, count: int, concurrency: int = 50) -> list[str]:
    """`count` fresh sessions through the real start-session endpoint; their session tokens."""
    pairs = await seed_applications(db, count)
    semaphore = asyncio.Semaphore(concurrency)
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def one(app: str, cand: str) -> None:
            async with semaphore:
                response = await http.post(
                    "/api/interview/start-session", json={"applicationId": app}, headers=auth(user_token(cand))
                )
                response.raise_for_status()
                tokens.append(response.json()["token"])

        await asyncio.gather(*(one(app, cand) for app, cand in pairs))
    return tokens


@dataclass
class Peer:
    """One benchmark connection: answers pings, times acks."""

    ws: Any
    pings: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
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
                        if started is not None:
                            self.latencies.append(now - started)
                    self.check_drained()
                elif kind == "ping":
                    self.pings += 1
                    await self.ws.send(json.dumps({"type": "pong", "ts": message.get("ts")}))


COMPRESSION: dict[str, Any] = {}  # --no-compression: {"compression": None}


async def open_peer(url: str, token: str, expect: int) -> Peer:
    """Connect, say hello and read the welcome plus `expect` replayed messages."""
    ws = await websockets.connect(
        url,
        subprotocols=["interview.v1"],  # type: ignore[list-item]
        ping_interval=None,
        open_timeout=60,
        **COMPRESSION,
    )
    await ws.send(json.dumps({"type": "hello", "token": token, "lastSeq": None}))
    for _ in range(1 + expect):
        await asyncio.wait_for(ws.recv(), 60)
    peer = Peer(ws)
    peer.reader = asyncio.create_task(peer.read())
    return peer


async def close_peers(peers: list[Peer]) -> None:
    await asyncio.gather(*(p.ws.close() for p in peers), return_exceptions=True)
    for peer in peers:
        if peer.reader is not None:
            with contextlib.suppress(Exception):
                await peer.reader


async def open_peers(url: str, tokens: list[str], expect: int, concurrency: int = 100) -> list[Peer]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(token: str) -> Peer:
        async with semaphore:
            return await open_peer(url, token, expect)

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def idle_capacity(url: str, pid: int, tokens: list[str], hold_seconds: float) -> dict[str, float]:
    before = rss_mib(pid)
    started = time.perf_counter()
    peers = await open_peers(url, tokens, expect=2)  # session.state + question are replayed
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(hold_seconds)
    after = rss_mib(pid)
    alive = sum(1 for p in peers if p.reader is not None and not p.reader.done() and p.pings >= 2)
    await close_peers(peers)
    return {
        "connections": len(peers),
        "alive_after_hold": alive,
        "connect_seconds": connect_seconds,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "kib_per_connection": (after - before) * 1024 / len(peers),
    }


async def traffic(url: str, tokens: list[str], rate: float, duration: float, expect: int, pid: int) -> dict[str, Any]:
    """Each session sends a transcript every 1/rate s for `duration` s; ack latencies and throughput."""
    peers = await open_peers(url, tokens, expect=expect)
    cpu_before = cpu_seconds(pid)
    interval = 1 / rate
    started = time.perf_counter()
    deadline = started + duration

    async def send_loop(index: int, peer: Peer) -> int:
        sent = 0
        next_at = started + interval * index / len(peers)  # spread the sessions over one interval
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            id = str(uuid.uuid4())
            peer.sent_at[id] = time.perf_counter()
            text = {"type": "transcript", "id": id, "text": f"bench line {sent}", "startMs": 0, "endMs": 800}
            await peer.ws.send(json.dumps(text))
            sent += 1
            next_at += interval
        peer.finished_sending = True
        peer.check_drained()
        return sent

    sent = sum(await asyncio.gather(*(send_loop(i, p) for i, p in enumerate(peers))))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(120):  # the last acks (a saturated store answers late, never not)
            await asyncio.gather(*(p.drained.wait() for p in peers))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    latencies = [v for p in peers for v in p.latencies]
    await close_peers(peers)
    ms = [v * 1000 for v in latencies]
    return {
        "sent": sent,
        "acked": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "server_cpu_seconds": cpu,
    }


async def bare_store(mongodb_url: str, db_name: str, session_ids: list[str], total: int) -> dict[str, float]:
    """The MongoDB operations of one stored transcript, without the server: the store's ceiling."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, maxPoolSize=len(session_ids))
    db = mongo[db_name]
    latencies: list[float] = []
    per_session = max(1, total // len(session_ids))

    async def one_session(session_id: str) -> None:
        for _ in range(per_session):
            started = time.perf_counter()
            id = str(uuid.uuid4())
            await db.interviewSessions.find_one({"sessionId": session_id})
            await db.sessionEvents.find({"sessionId": session_id, "clientEventId": {"$in": [id]}}).to_list()
            session = await db.interviewSessions.find_one_and_update(
                {"sessionId": session_id}, {"$inc": {"lastSeq": 1}}, return_document=True
            )
            assert session is not None
            now = datetime.now(UTC)
            await db.sessionEvents.insert_one(
                {
                    "sessionId": session_id,
                    "seq": session["lastSeq"],
                    "type": "transcript",
                    "ts": now,
                    "payload": {"text": "bare", "final": True, "startMs": 0, "endMs": 800},
                    "source": "client",
                    "clientEventId": id,
                    "receivedAt": now,
                }
            )
            await db.interviewSessions.find_one({"sessionId": session_id})
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_session(s) for s in session_ids))
    elapsed = time.perf_counter() - started
    await mongo.close()
    ms = [v * 1000 for v in latencies]
    return {"throughput": len(latencies) / elapsed, "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}


# ----- the bare echo server ------------------------------------------------------------


async def echo_server(port: int) -> None:
    """Acks every message that has an id, welcomes hello; nothing else (no storage, no validation)."""
    from websockets.asyncio.server import serve

    async def handler(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "hello":
                    await ws.send(json.dumps({"type": "welcome"}))
                elif "id" in message:
                    await ws.send(json.dumps({"type": "ack", "ids": [message["id"]]}))

    async with serve(handler, "127.0.0.1", port, subprotocols=["interview.v1"], ping_interval=None):  # type: ignore[list-item]
        await asyncio.Future()


@contextlib.contextmanager
def echo_process() -> Any:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--echo-server", str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import socket

                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


# ----- main --------------------------------------------------------------------------


def report(name: str, result: dict[str, Any]) -> None:
    print(
        f"  {name}: {result['acked']}/{result['sent']} acked, {result['throughput']:.1f} msg/s, "
        f"ack latency p50={result['p50_ms']:.1f}ms p99={result['p99_ms']:.1f}ms max={result['max_ms']:.1f}ms, "
        f"server CPU {result['server_cpu_seconds']:.1f}s"
    )


async def main(args: argparse.Namespace) -> None:
    # Every client connects from this one address: the per-address limit on sockets before hello is lifted.
    env = {
        "START_SESSION_RATE_LIMIT": "100000",
        "WS_HEARTBEAT_SECONDS": str(args.heartbeat),
        "WS_PREHELLO_PER_IP": "1000",
        "WS_PREHELLO_TOTAL": "1000",
    }
    with store_and_server(args.mongodb_url, **env) as (mongodb_url, server):
        assert server.process is not None
        pid = server.process.pid
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
        db = mongo[server.env["MONGODB_DB"]]
        tokens = await start_sessions(server.base_url, db, max(args.idle, args.sessions))
        await mongo.close()
        print(f"WebSocket channel benchmark ({os.cpu_count()} CPUs; server, store and clients share them)")

        try:
            idle = await idle_capacity(server.ws_url, pid, tokens[: args.idle], args.hold)
        except BaseException:
            print(server.log(), file=sys.stderr)
            raise
        print(
            f"(a) idle: {idle['alive_after_hold']}/{idle['connections']} connections alive after "
            f"{args.hold:.0f}s (>= 2 pings each), opened in {idle['connect_seconds']:.1f}s; server RSS "
            f"{idle['rss_before_mib']:.0f} -> {idle['rss_after_mib']:.0f} MiB = "
            f"{idle['kib_per_connection']:.0f} KiB per connection"
        )

        print(f"(b)/(c) {args.sessions} sessions x {args.rate}/s transcripts for {args.duration:.0f}s:")
        channel = await traffic(server.ws_url, tokens[: args.sessions], args.rate, args.duration, 2, pid)
        report("channel (stored, then acked)", channel)
        session_ids = [jwt.decode(t, options={"verify_signature": False})["sid"] for t in tokens[: args.sessions]]
        store = await bare_store(mongodb_url, server.env["MONGODB_DB"], session_ids, 2 * len(session_ids))
    with echo_process() as (port, echo_pid):
        echo_tokens = ["-"] * args.sessions
        echo = await traffic(f"ws://127.0.0.1:{port}/", echo_tokens, args.rate, args.duration, 0, echo_pid)
        report("bare websockets echo", echo)
    print(
        f"  ratio channel/echo: throughput {channel['throughput'] / echo['throughput']:.2f}, "
        f"p50 latency {channel['p50_ms'] / echo['p50_ms']:.1f}x, "
        f"p99 latency {channel['p99_ms'] / echo['p99_ms']:.1f}x, "
        f"server CPU {channel['server_cpu_seconds'] / max(echo['server_cpu_seconds'], 0.01):.1f}x"
    )
    print(
        f"(d) store ceiling, the 5 PyMongo operations of one stored message, {args.sessions} concurrent: "
        f"{store['throughput']:.1f} msg/s, p50={store['p50_ms']:.1f}ms p99={store['p99_ms']:.1f}ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000, help="idle connections for (a)")
    parser.add_argument("--hold", type=float, default=12.0, help="seconds to hold them")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="server WS_HEARTBEAT_SECONDS")
    parser.add_argument("--sessions", type=int, default=200, help="sessions for (b) and (c)")
    parser.add_argument("--rate", type=float, default=2.0, help="transcripts per second per session")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of traffic")
    parser.add_argument("--mongodb-url", default=None, help="use this store instead of a fresh embedded one")
    parser.add_argument("--no-compression", action="store_true", help="clients refuse permessage-deflate")
    parser.add_argument("--echo-server", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.no_compression:
        COMPRESSION["compression"] = None
    if arguments.echo_server is not None:
        asyncio.run(echo_server(arguments.echo_server))
    else:
        asyncio.run(main(arguments))
