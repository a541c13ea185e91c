"""What HTTP handlers depend on, built once by the composition root and handed over as typed lifespan state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from server.config import Settings
from server.http.auth import Authenticator
from server.http.request import Network
from server.sessions import RecordingLinks, SessionService

STATE_KEY = "http"


@dataclass
class HttpDeps:
    settings: Settings
    service: SessionService
    auth: Authenticator
    trusted_proxies: list[Network]
    recording_links: RecordingLinks
    # Health probes: the store's ping, and counters the realtime side reports (connections, media...).
    ping_store: Callable[[], Awaitable[None]]
    live_status: Callable[[], dict[str, Any]] = field(default=lambda: {})


def deps(connection: HTTPConnection) -> HttpDeps:
    """The handler's dependencies (from the lifespan state of the app that serves it)."""
    value = getattr(connection.state, STATE_KEY, None)
    if not isinstance(value, HttpDeps):
        raise RuntimeError("the app was not started through its lifespan")
    return value
