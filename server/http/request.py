"""Reading requests at the HTTP edge: bounded bodies, JSON objects, models, query strings, the client IP."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request

from server.sessions import (
    MAX_JSON_DEPTH,
    DomainError,
    ErrorCode,
    missing_field,
    nests_deeper_than,
    payload_too_large,
    unstorable,
    validation_details,
    validation_error,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing anything over `max_bytes` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise payload_too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise payload_too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_deep() -> DomainError:
    message = f"Body is nested deeper than {MAX_JSON_DEPTH} levels"
    return validation_error([{"field": "", "message": message}], message)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object, or INVALID_JSON / VALIDATION_ERROR (nesting is bounded before parsing)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError(ErrorCode.INVALID_JSON, "Request body is not valid JSON") from None
    if nests_deeper_than(text, MAX_JSON_DEPTH):
        raise _too_deep()
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError:
        raise DomainError(ErrorCode.INVALID_JSON, "Request body is not valid JSON") from None
    except RecursionError:  # pragma: no cover - nests_deeper_than refuses such bodies first
        raise _too_deep() from None
    if not isinstance(data, dict):
        raise validation_error([{"field": "", "message": "Body must be a JSON object"}])
    return data


def require_storable(data: Any, root: str = "") -> None:
    """VALIDATION_ERROR naming the field when `data` holds something the store cannot keep."""
    problem = unstorable(data, root)
    if problem is not None:
        raise validation_error([{"field": problem.field, "message": problem.message}], problem.message)


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    """Validate `data`; missing top-level fields answer MISSING_FIELD, the rest VALIDATION_ERROR."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        missing = [".".join(str(p) for p in e["loc"]) for e in error.errors() if e["type"] == "missing"]
        if missing and len(missing) == error.error_count():
            raise missing_field(missing) from None
        raise validation_error(validation_details(error)) from None


async def read_model(request: Request, model: type[ModelT], max_bytes: int) -> ModelT:
    """The body as `model`; anything the store could not keep is refused first."""
    data = parse_json_object(await read_body(request, max_bytes))
    require_storable(data)
    return parse_model(model, data)


def query_model(request: Request, model: type[ModelT]) -> ModelT:
    """Validate query parameters (a repeated parameter is refused)."""
    params = request.query_params
    if any(len(params.getlist(key)) > 1 for key in params):
        raise validation_error([{"field": "query", "message": "Repeated query parameters are not allowed"}])
    return parse_model(model, dict(params))


def client_ip(request: HTTPConnection, trusted_proxies: list[Network]) -> str | None:
    """The socket peer, or X-Forwarded-For's client when the peer is a trusted proxy."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted_proxies)


def client_address(peer: str | None, forwarded: str | None, trusted_proxies: list[Network]) -> str | None:
    """`peer`, or the client that X-Forwarded-For (`forwarded`) names when `peer` is a trusted proxy."""
    if peer is None:
        return None
    if not forwarded or not trusted_proxies:
        return peer
    try:
        if not any(ipaddress.ip_address(peer) in net for net in trusted_proxies):
            return peer
        # Walk from the nearest hop back, skipping our own proxies.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            address = ipaddress.ip_address(hop)
            if not any(address in net for net in trusted_proxies):
                return str(address)
    except ValueError:
        return peer
    return peer
