"""The interview server: Starlette app, configuration, auth, HTTP routes and errors."""

from server.app import create_app
from server.config import Settings

__all__ = ["Settings", "create_app"]
