"""The HTTP edge's middleware stack, outermost first: CORS, then default headers."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from server.config import Settings
from server.http.headers import DefaultHeaders

# What a page on another origin may send and read (tokens travel in Authorization, never in cookies).
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "Range", "If-None-Match", "If-Range"]
CORS_EXPOSED = ["Retry-After", "Content-Range", "Content-Length", "ETag"]


def http_middleware(settings: Settings) -> list[Middleware]:
    """CORS for the origins in ALLOWED_ORIGINS and PUBLIC_URL; every answer gets the default headers."""
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=sorted(settings.browser_origins),
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_credentials=False,
            max_age=600,
        ),
        Middleware(DefaultHeaders),
    ]
