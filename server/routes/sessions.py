"""Reading sessions: list, one session, its review details, and session token refresh."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import telemetry
from server.errors import session_not_found, validation_error
from server.http import context, principal, query_model
from server.openapi import Operation
from server.principals import Principal, SessionPrincipal
from server.sessions.review import REVIEW_EVENT_TYPES, build_review
from server.wire import Uuid
from server.wire_sessions import (
    EventSummary,
    SessionDetails,
    SessionListQuery,
    SessionListResponse,
    SessionOut,
    SessionTokenResponse,
)
from storage.models import ACTIVE_STATUSES, SessionDoc, SessionStatus

# Enough for hours of transcript lines; beyond it the details say `truncated`.
MAX_REVIEW_EVENTS = 5000

_session_id: TypeAdapter[str] = TypeAdapter(Uuid)
_NO_STORE = {"Cache-Control": "no-store"}


async def load_session(request: Request, *, write: bool = False) -> tuple[Principal, SessionDoc]:
    """The caller and the path's session, if the caller may read it (or act on it); else 404."""
    caller = await principal(request)
    try:
        session_id = _session_id.validate_python(request.path_params["sessionId"])
    except ValidationError:
        raise session_not_found() from None
    session = await context(request).service.get_for(caller, session_id, write=write)
    telemetry.tag_session(session.session_id, session.application_id)
    return caller, session


def session_response(session: SessionDoc, status_code: int = 200) -> JSONResponse:
    return JSONResponse(SessionOut.of(session).to_wire(), status_code=status_code, headers=_NO_STORE)


def encode_cursor(session: SessionDoc) -> str:
    raw = json.dumps([session.started_at.isoformat(), session.session_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(startedAt, sessionId) of the previous page's last session; 400 when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, session_id = json.loads(raw)
        parsed = datetime.fromisoformat(started_at)
        if parsed.tzinfo is None or not isinstance(session_id, str):
            raise ValueError("naive time or bad id")
        return parsed, _session_id.validate_python(session_id)
    except (ValueError, TypeError, binascii.Error, ValidationError):
        raise validation_error([{"field": "cursor", "message": "Invalid cursor"}]) from None


async def list_sessions(request: Request) -> JSONResponse:
    caller = await principal(request)
    query = query_model(request, SessionListQuery)
    if query.status is None:
        statuses = None
    elif query.status == "active":
        statuses = list(ACTIVE_STATUSES)
    else:
        statuses = [SessionStatus(query.status)]
    before = decode_cursor(query.cursor) if query.cursor else None
    # One extra row tells whether another page exists without a count query.
    found = await context(request).service.list_for(
        caller, statuses=statuses, application_id=query.application_id, limit=query.limit + 1, before=before
    )
    page = found[: query.limit]
    body = SessionListResponse(
        sessions=[SessionOut.of(s) for s in page],
        next_cursor=encode_cursor(page[-1]) if len(found) > query.limit else None,
    )
    return JSONResponse(body.to_wire(), headers=_NO_STORE)


async def get_session(request: Request) -> JSONResponse:
    _, session = await load_session(request)
    return session_response(session)


async def session_details(request: Request) -> JSONResponse:
    caller, session = await load_session(request)
    ctx = context(request)
    events = await ctx.events.list(session.session_id, types=REVIEW_EVENT_TYPES, limit=MAX_REVIEW_EVENTS + 1)
    counts = await ctx.events.count_by_type(session.session_id)
    # Expected answer points are for the reviewers, never for the candidate.
    staff = not isinstance(caller, SessionPrincipal) and caller.is_staff
    questions, unassigned = build_review(session, events[:MAX_REVIEW_EVENTS], include_expected=staff)
    body = SessionDetails(
        session=SessionOut.of(session),
        questions=questions,
        unassigned=unassigned,
        events=EventSummary(
            total=sum(counts.values()), by_type=dict(sorted(counts.items())), last_seq=session.last_seq
        ),
        truncated=len(events) > MAX_REVIEW_EVENTS,
    )
    return JSONResponse(body.to_wire(), headers=_NO_STORE)


async def refresh_token(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    ctx = context(request)
    ctx.service.require_active(session)
    issued = ctx.auth.issue_session_token(
        session_id=session.session_id, application_id=session.application_id, subject=session.candidate_id
    )
    body = SessionTokenResponse(session_id=session.session_id, token=issued.token, expires_at=issued.expires_at)
    return JSONResponse(body.to_wire(), headers=_NO_STORE)


ROUTES = [
    Route("/api/interview/sessions", list_sessions, methods=["GET"]),
    Route("/api/interview/sessions/{sessionId}", get_session, methods=["GET"]),
    Route("/api/interview/sessions/{sessionId}/details", session_details, methods=["GET"]),
    Route("/api/interview/sessions/{sessionId}/token", refresh_token, methods=["POST"]),
]

OPERATIONS = [
    Operation(
        "GET",
        "/api/interview/sessions",
        "The caller's sessions, newest first (staff: every session), with cursor pagination",
        {200: SessionListResponse},
        query=SessionListQuery,
        errors=(400, 401, 503),
        tags=("sessions",),
    ),
    Operation(
        "GET",
        "/api/interview/sessions/{sessionId}",
        "One session (its candidate, its session token, or staff)",
        {200: SessionOut},
        errors=(401, 404, 503),
        tags=("sessions",),
    ),
    Operation(
        "GET",
        "/api/interview/sessions/{sessionId}/details",
        "The session with its questions, answers and transcripts by question, and an event summary",
        {200: SessionDetails},
        errors=(401, 404, 503),
        tags=("sessions",),
    ),
    Operation(
        "POST",
        "/api/interview/sessions/{sessionId}/token",
        "A fresh session token for an active session (its candidate or its current session token)",
        {200: SessionTokenResponse},
        errors=(400, 401, 404, 503),
        tags=("sessions",),
    ),
]

__all__ = ["OPERATIONS", "ROUTES", "load_session", "session_response"]
