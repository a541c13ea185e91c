"""ASGI entry point for process managers: `uvicorn --factory server.asgi:create`."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.config import Settings
from server.logs import configure_logging
from server.runtime import prepare_settings
from server.telemetry import init_sentry


def create() -> Starlette:
    settings = Settings()
    configure_logging(settings.log_level)
    init_sentry(settings)
    settings, store = prepare_settings(settings)
    return create_app(settings, store=store)
