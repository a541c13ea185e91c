"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.errors import storage_unavailable
from server.http import context
from server.openapi import Operation
from server.wire import HealthOut


async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    return JSONResponse(
        {
            "status": "ok",
            "liveConnections": state.channel.live_connections,
            "mediaSessions": len(state.media.sessions),
        }
    )


async def readyz(request: Request) -> JSONResponse:
    try:
        await context(request).database.ping()
    except Exception:
        raise storage_unavailable() from None
    return JSONResponse({"status": "ready"})


ROUTES = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]

OPERATIONS = [
    Operation("GET", "/healthz", "Process is alive", {200: HealthOut}, auth=False, tags=("health",)),
    Operation("GET", "/readyz", "MongoDB is reachable", {200: HealthOut}, errors=(503,), auth=False, tags=("health",)),
]
