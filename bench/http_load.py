"""A load generator light enough not to be the bottleneck: keep-alive HTTP/1.1 on raw asyncio streams.

httpx spends milliseconds of CPU per request, and the benchmark's client shares the two
cores with the server and the store; with 100 requests in flight it, not the server,
set the pace. Each worker here holds one connection and sends its requests one after
the other: a few lines of bytes out, a status line, headers and a Content-Length body in.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


def request_bytes(method: str, path: str, port: int, body: Any | None, headers: dict[str, str]) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def run(
    port: int, requests: list[bytes], concurrency: int, keep: Callable[[int], bool] = lambda s: False
) -> Outcome:
    """Send every request, `concurrency` connections each sending its share in turn."""
    outcome = Outcome()
    queue = list(reversed(requests))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                status, body = await _exchange(reader, writer, request)
                outcome.latencies.append(time.perf_counter() - started)
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
                if keep(status):
                    outcome.bodies.append(json.loads(body))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcome
