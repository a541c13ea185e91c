"""Every HTTP route of the server, each module one resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

from server.http.routes import (
    analytics,
    applications,
    health,
    link_status,
    offline_pack,
    pages,
    recording,
    recording_links,
    scoring,
    session_actions,
    session_events,
    sessions,
    start_session,
)

_MODULES = (
    health,
    applications,
    start_session,
    link_status,
    offline_pack,
    pages,
    sessions,
    session_actions,
    scoring,
    session_events,
    analytics,
    recording,
    recording_links,
)


def http_routes() -> list[BaseRoute]:
    return [route for module in _MODULES for route in module.ROUTES]


__all__ = ["http_routes"]
