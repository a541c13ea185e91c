"""Liveness and readiness probes."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.deps import deps
from server.http.routing import ApiRoute, Operation
from server.http.wire import HealthOut
from server.sessions import storage_unavailable


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "pid": os.getpid(), **deps(request).live_status()})


async def readyz(request: Request) -> JSONResponse:
    http = deps(request)
    try:
        await http.ping_store()
    except Exception:
        raise storage_unavailable() from None
    live = http.live_status()
    return JSONResponse({"status": "ready", "transcriber": live.get("transcriber"), "voice": live.get("voice")})


ROUTES = [
    ApiRoute("/healthz", healthz, Operation("Process is alive", {200: HealthOut}, auth=False, tags=("health",))),
    ApiRoute(
        "/readyz",
        readyz,
        Operation("MongoDB is reachable", {200: HealthOut}, errors=(503,), auth=False, tags=("health",)),
    ),
]
