"""The HTTP edge: routes that parse, authorise, call the session service and serialise.

`http_routes()` lists every route (each carries its OpenAPI operation); the
composition root hands the handlers their dependencies (`HttpDeps`) as lifespan state.
"""

from server.http.deps import STATE_KEY, HttpDeps, deps
from server.http.errors import HttpError, on_domain_error, on_router_error, on_storage_error, on_unexpected
from server.http.middleware import http_middleware
from server.http.openapi import build_openapi
from server.http.routes import http_routes

__all__ = [
    "STATE_KEY",
    "HttpDeps",
    "HttpError",
    "build_openapi",
    "deps",
    "http_middleware",
    "http_routes",
    "on_domain_error",
    "on_router_error",
    "on_storage_error",
    "on_unexpected",
]
