"""Noisy neighbours: a quiet session's WebSocket ack latency, alone and next to misbehaving clients.

A benchmark, not a test. With the server's default limits it measures, in one run:

(a) quiet: one session sends a `transcript` every 1/RATE s over its WebSocket for DURATION s;
    latency is send -> `ack` (an ack only comes once the store has the message);
(b) the same, while another session's token does 4 parallel uploads of ~1 MiB batches to
    `POST .../events`, back to back, ignoring Retry-After;
(c) the same, while one address opens sockets that never say `hello`, 2,000 at a time,
    wave after wave, as fast as it can;

and prints p50/p95/p99 of each phase and its p95 as a ratio to (a)'s. The misbehaving
clients run in a process of their own at `nice 10` (a stand-in for clients on other
machines: their own CPU is not the server's), the quiet client in this process; the
server and its embedded store (on disk) are processes of their own too.

Usage: python bench/noisy_neighbour.py [--duration 30 --rate 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, store_and_server
from tests.support import auth, create_application, start_session

UPLOADERS = 4
SOCKETS_PER_WAVE = 2000
ATTACKER_ADDRESS = "127.0.0.2"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# ----- the quiet session ------------------------------------------------------------------


async def quiet_latencies(ws_url: str, token: str, rate: float, duration: float) -> list[float]:
    """Send a transcript every 1/rate s for `duration` s; the send -> ack time of each."""
    async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol("interview.v1")]) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        sent: dict[str, float] = {}
        latencies: list[float] = []
        all_acked = asyncio.Event()

        async def read() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "ack":
                    arrived = time.perf_counter()
                    latencies.extend(arrived - sent.pop(i) for i in message["ids"] if i in sent)
                    if not sent:
                        all_acked.set()
                elif message.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong", "ts": message["ts"]}))

        reader = asyncio.create_task(read())
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < duration:
            id = str(uuid.uuid4())
            sent[id] = time.perf_counter()
            line = {"type": "transcript", "id": id, "ts": now_iso(), "text": f"line {n}", "startMs": n, "endMs": n + 1}
            await ws.send(json.dumps(line))
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        if sent:
            all_acked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_acked.wait(), 30)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await reader
        return latencies


# ----- the misbehaving clients (run in their own process) ---------------------------------


def big_batch() -> dict[str, Any]:
    """500 transcripts of ~2 kB: just under the 1 MiB request limit."""
    text = "x" * 1900
    events = [
        {
            "id": str(uuid.uuid4()),
            "type": "transcript",
            "ts": now_iso(),
            "payload": {"text": text, "startMs": 0, "endMs": 1},
        }
        for _ in range(500)
    ]
    return {"events": events}


async def upload_flood(base_url: str, session_id: str, token: str, duration: float) -> Counter[int]:
    statuses: Counter[int] = Counter()
    url = f"/api/interview/sessions/{session_id}/events"
    deadline = time.monotonic() + duration

    async def uploader(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            body = json.dumps(big_batch()).encode()
            try:
                response = await http.post(
                    url, content=body, headers={**auth(token), "Content-Type": "application/json"}
                )
                statuses[response.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        await asyncio.gather(*(uploader(http) for _ in range(UPLOADERS)))
    return statuses


async def silent_socket(host: str, port: int, outcomes: Counter[str]) -> None:
    """Open the WebSocket by hand, never say hello, hold it until the server closes it.

    From 127.0.0.2: another address than the quiet session's, as a real attacker's would be.
    """
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(ATTACKER_ADDRESS, 0))
    except OSError:
        outcomes["connect failed"] += 1
        return
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/interview HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        outcomes["upgraded" if head.startswith(b"HTTP/1.1 101") else "refused"] += 1
        await asyncio.wait_for(reader.read(), 30)  # until the server closes
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        outcomes["dropped"] += 1
    finally:
        writer.close()


async def socket_flood(base_url: str, duration: float) -> Counter[str]:
    host, port = base_url.removeprefix("http://").split(":")
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        await asyncio.gather(*(silent_socket(host, int(port), outcomes) for _ in range(SOCKETS_PER_WAVE)))
        outcomes["waves"] += 1
    return outcomes


def run_attacker(args: argparse.Namespace) -> None:
    os.nice(10)
    if args.attacker == "uploads":
        result: dict[str, int] = dict(asyncio.run(upload_flood(args.url, args.session, args.token, args.duration)))
    else:
        result = dict(asyncio.run(socket_flood(args.url, args.duration)))
    print(json.dumps({str(k): v for k, v in result.items()}), flush=True)


# ----- the run --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def phase(
    name: str, server_url: str, ws_url: str, quiet_token: str, args: argparse.Namespace, attacker: list[str] | None
) -> dict[str, Any]:
    process = None
    if attacker is not None:
        command = [sys.executable, __file__, "--url", server_url, "--duration", str(args.duration + 2), *attacker]
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(2)  # the attack is under way before the quiet session measures
    assert args.server_pid
    cpu_before = cpu_seconds(args.server_pid)
    try:
        latencies = await quiet_latencies(ws_url, quiet_token, args.rate, args.duration)
    finally:
        cpu = cpu_seconds(args.server_pid) - cpu_before
        attack = ""
        if process is not None:
            out, _ = await asyncio.wait_for(process.communicate(), 120)
            lines = out.decode().strip().splitlines()
            attack = lines[-1] if lines else "?"
    ms = [v * 1000 for v in latencies]
    result = {
        "name": name,
        "acks": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms, default=float("nan")),
        "attack": attack,
        "cpu": cpu,
    }
    print(
        f"  {name}: {len(ms)} acks, p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms, server CPU {cpu:.1f} s"
        f"{'; attacker: ' + attack if attack else ''}",
        flush=True,
    )
    return result


async def main(args: argparse.Namespace) -> None:
    env = dict(item.split("=", 1) for item in args.env)
    with store_and_server(None, **env) as (_url, server):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            quiet_app, noisy_app = await create_application(http), await create_application(http)
            quiet = (await start_session(http, quiet_app)).json()
            noisy = (await start_session(http, noisy_app)).json()
        assert server.process is not None
        args.server_pid = server.process.pid
        print(f"server {server.base_url}; quiet session sends {args.rate}/s for {args.duration:.0f} s per phase")
        baseline = await phase("(a) quiet alone", server.base_url, server.ws_url, quiet["token"], args, None)
        noisy_phases = {
            "b": ("(b) + 4 parallel 1 MiB uploads", ["--attacker", "uploads", "--session", noisy["sessionId"]]),
            "c": ("(c) + 2,000 sockets without hello", ["--attacker", "sockets"]),
        }
        results = []
        for key in args.phases:
            name, attacker = noisy_phases[key]
            if key == "b":
                attacker += ["--token", noisy["token"]]
            results.append(await phase(name, server.base_url, server.ws_url, quiet["token"], args, attacker))
        for result in results:
            print(f"  ratio {result['name'][:3]} p95 / (a) p95 = {result['p95'] / baseline['p95']:.2f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds the quiet session sends, per phase")
    parser.add_argument("--rate", type=float, default=4.0, help="the quiet session's messages per second")
    parser.add_argument("--phases", default="bc", help="which noisy phases to run after (a): b, c or bc")
    parser.add_argument("--env", action="append", default=[], help="a server setting, NAME=VALUE (repeatable)")
    parser.add_argument("--attacker", choices=["uploads", "sockets"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.attacker:
        run_attacker(arguments)
    else:
        asyncio.run(main(arguments))
