"""The HTTP edge's error mapping: one table from domain codes to statuses, and the exception handlers."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from server.sessions import DomainError, ErrorCode, is_unreachable, storage_unavailable

logger = logging.getLogger(__name__)

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.MISSING_FIELD: 400,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.EVENT_TYPE_NOT_ALLOWED: 400,
    ErrorCode.UNKNOWN_MESSAGE_TYPE: 400,
    ErrorCode.ALREADY_COMPLETED: 400,
    ErrorCode.SESSION_ALREADY_COMPLETED: 400,
    ErrorCode.SESSION_NOT_ACTIVE: 400,
    ErrorCode.SESSION_NOT_ENDED: 400,
    ErrorCode.INVALID_TRANSITION: 400,
    ErrorCode.QUESTION_MISMATCH: 400,
    ErrorCode.WEBRTC_ERROR: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID_APPLICATION: 404,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.APPLICATION_EXISTS: 409,
    ErrorCode.RECORDING_EXISTS: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}
# Said in the OpenAPI document for each status an operation declares.
STATUS_TEXT = {
    400: "Invalid request (MISSING_FIELD, VALIDATION_ERROR, INVALID_JSON, or a state error)",
    401: "Missing or invalid token (UNAUTHORIZED)",
    403: "Role not allowed (FORBIDDEN)",
    404: "Not found, or not yours (same answer for both)",
    409: "Conflict (APPLICATION_EXISTS, RECORDING_EXISTS)",
    413: "Body too large (PAYLOAD_TOO_LARGE)",
    415: "Unsupported content type (VALIDATION_ERROR)",
    416: "Range not satisfiable (VALIDATION_ERROR); see Content-Range",
    429: "Rate limited (RATE_LIMITED); see Retry-After",
    503: "Storage unavailable (STORAGE_UNAVAILABLE)",
}
_ROUTER_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 401: ErrorCode.UNAUTHORIZED}
_ROUTER_MESSAGES = {404: "Not found", 405: "Method not allowed"}


class HttpError(DomainError):
    """An error only the HTTP edge raises, with a status the table does not give (e.g. 415), and its headers."""

    def __init__(
        self, status: int, code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code, message, details)
        self.status = status
        self.headers = headers or {}


def status_of(error: DomainError) -> int:
    return error.status if isinstance(error, HttpError) else STATUS_BY_CODE.get(error.code, 400)


def headers_of(error: DomainError) -> dict[str, str]:
    if isinstance(error, HttpError) and error.headers:
        return error.headers
    if error.code == ErrorCode.UNAUTHORIZED:
        return {"WWW-Authenticate": "Bearer"}
    if error.code == ErrorCode.RATE_LIMITED and isinstance(error.details, dict):
        return {"Retry-After": str(error.details.get("retryAfterSeconds", 1))}
    return {}


def error_response(error: DomainError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=status_of(error), headers={**headers_of(error), **(headers or {})})


async def on_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(exc)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    router = request.scope.get("router")
    methods: set[str] = set()
    for route in getattr(router, "routes", []):
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods.update(route.methods)
    return sorted(methods)


async def on_router_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _ROUTER_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    message = _ROUTER_MESSAGES.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := allowed_methods(request)):
        headers["Allow"] = ", ".join(methods)
    return error_response(HttpError(exc.status_code, code, message), headers=headers)


async def on_storage_error(request: Request, exc: Exception) -> Response:
    """503 when the store did not answer in time; any other store failure is unexpected (500)."""
    if not is_unreachable(exc):
        return await on_unexpected(request, exc)
    logger.warning("storage unavailable: %s", type(exc).__name__)
    return error_response(storage_unavailable())


async def on_unexpected(_request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(DomainError(ErrorCode.INTERNAL_ERROR, "Internal server error"))
