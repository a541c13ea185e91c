"""HTTP edge helpers: bounded JSON bodies, model validation, caller identity and address."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from server.auth import bearer_token
from server.context import AppContext
from server.errors import AppError, ErrorCode, forbidden, missing_field, validation_error
from server.principals import Principal, UserPrincipal

ModelT = TypeVar("ModelT", bound=BaseModel)


def context(request: Request) -> AppContext:
    return request.app.state.context  # type: ignore[no-any-return]


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing anything over `max_bytes` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large", {"maxBytes": max_bytes})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large", {"maxBytes": max_bytes})
        chunks.append(chunk)
    return b"".join(chunks)


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()))


def validation_details(error: ValidationError) -> list[dict[str, str]]:
    return [{"field": _location(e), "message": e["msg"]} for e in error.errors(include_url=False)]


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    """Validate `data`; missing top-level fields answer MISSING_FIELD, the rest VALIDATION_ERROR."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        missing = [_location(e) for e in error.errors() if e["type"] == "missing"]
        if missing and len(missing) == error.error_count():
            raise missing_field(missing) from None
        raise validation_error(validation_details(error)) from None


async def read_model(request: Request, model: type[ModelT], max_bytes: int | None = None) -> ModelT:
    body = await read_body(request, max_bytes or context(request).settings.max_body_bytes)
    try:
        data = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AppError(400, ErrorCode.INVALID_JSON, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise validation_error([{"field": "", "message": "Body must be a JSON object"}])
    return parse_model(model, data)


def query_model(request: Request, model: type[ModelT]) -> ModelT:
    """Validate query parameters (a repeated parameter is refused)."""
    params = request.query_params
    if any(len(params.getlist(key)) > 1 for key in params):
        raise validation_error([{"field": "query", "message": "Repeated query parameters are not allowed"}])
    return parse_model(model, dict(params))


async def principal(request: Request) -> Principal:
    """The caller, from a user token or a session token."""
    token = bearer_token(request.headers.get("authorization"))
    return await context(request).auth.verify_any(token)


async def user(request: Request) -> UserPrincipal:
    token = bearer_token(request.headers.get("authorization"))
    return await context(request).auth.verify_user_token(token)


async def staff(request: Request) -> UserPrincipal:
    caller = await user(request)
    if not caller.is_staff:
        raise forbidden("Recruiter or admin role required")
    return caller


def client_ip(request: Request) -> str | None:
    """The socket peer, or X-Forwarded-For's client when the peer is a trusted proxy."""
    peer = request.client.host if request.client else None
    if peer is None:
        return None
    networks = context(request).trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not networks:
        return peer
    try:
        if not any(ipaddress.ip_address(peer) in net for net in networks):
            return peer
        # Walk from the nearest hop back, skipping our own proxies.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            address = ipaddress.ip_address(hop)
            if not any(address in net for net in networks):
                return str(address)
    except ValueError:
        return peer
    return peer
