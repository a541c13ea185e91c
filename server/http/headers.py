"""Headers every HTTP answer carries unless its route set its own: no sniffing, no caching.

API answers hold candidate names, recordings and errors: `Cache-Control: no-store` keeps
them out of shared and browser caches (the pages and client files set `no-cache` and an
ETag themselves, and keep them); `X-Content-Type-Options: nosniff` on everything.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


class DefaultHeaders:
    """Pure ASGI middleware: adds each of DEFAULTS that the response does not set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_defaults(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULTS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_defaults)
