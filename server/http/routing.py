"""Routes that carry their own OpenAPI operation, so nothing lists a path twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """The OpenAPI description of one route (method and path come from the route itself)."""

    summary: str
    responses: dict[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    auth: bool = True
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class ApiRoute(Route):
    """A Starlette route with the operation it documents (for every method but HEAD)."""

    def __init__(
        self, path: str, endpoint: Endpoint, operation: Operation, methods: tuple[str, ...] = ("GET",)
    ) -> None:
        super().__init__(path, endpoint, methods=list(methods))
        self.operation = operation
        self.documented_methods = [m for m in methods if m != "HEAD"]
