"""The HTTP edge's middleware stack, outermost first: CORS, default headers, per-client limits."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from server.config import Settings
from server.http.deps import HttpDeps
from server.http.headers import DefaultHeaders
from server.http.limits import ClientLimits, HttpLimits

# What a page on another origin may send and read (tokens travel in Authorization, never in cookies).
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "Range", "If-None-Match", "If-Range"]
CORS_EXPOSED = ["Retry-After", "Content-Range", "Content-Length", "ETag"]


class ApiCors:
    """CORS for the API only: the pages and client files are same-origin, and CORS's `Vary: Origin` on them
    would keep the service worker's cached copies from matching a module script's request (it sends Origin)."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.cors if scope["type"] == "http" and scope["path"].startswith("/api/") else self.app
        await handler(scope, receive, send)


def http_middleware(settings: Settings, deps: HttpDeps) -> list[Middleware]:
    """CORS for the origins in ALLOWED_ORIGINS and PUBLIC_URL; every answer gets the default headers
    (429s and CORS answers too); then each client's limits."""
    limits = HttpLimits(
        rate_per_second=settings.http_rate_limit_per_second,
        burst=settings.http_rate_limit_burst,
        upload_concurrency=settings.upload_concurrency,
        upload_bytes_per_minute=settings.upload_bytes_per_minute,
        largest_body=settings.max_body_bytes,
    )
    return [
        Middleware(ApiCors, origins=sorted(settings.browser_origins)),
        Middleware(DefaultHeaders),
        Middleware(ClientLimits, limits=limits, auth=deps.auth, trusted_proxies=deps.trusted_proxies),
    ]
