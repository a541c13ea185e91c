"""Reading sessions: list, one session, its review details, and session token refresh."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.http.callers import is_staff, load_session, path_session_id, principal
from server.http.deps import deps
from server.http.request import query_model
from server.http.routes.analytics import instant
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import (
    EventSummary,
    SessionDetails,
    SessionListQuery,
    SessionListResponse,
    SessionOut,
    SessionTokenResponse,
)
from server.sessions import SessionQuery, build_review, integrity_signals, validation_error
from server.sessions.wire_types import Uuid
from storage import ACTIVE_STATUSES, SessionDoc, SessionStatus

# Enough for hours of transcript lines; beyond it the details say `truncated`.
MAX_REVIEW_EVENTS = 5000

_session_id: TypeAdapter[str] = TypeAdapter(Uuid)
NO_STORE = {"Cache-Control": "no-store"}


def session_response(session: SessionDoc, status_code: int = 200, *, staff: bool = False) -> JSONResponse:
    return JSONResponse(SessionOut.of(session, staff=staff).to_wire(), status_code=status_code, headers=NO_STORE)


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
        statuses = []
    elif query.status == "active":
        statuses = list(ACTIVE_STATUSES)
    else:
        statuses = [SessionStatus(query.status)]
    started_from = instant(query.from_, end=False, field="from")
    started_before = instant(query.to, end=True, field="to")
    if started_from is not None and started_before is not None and started_from >= started_before:
        raise validation_error([{"field": "from", "message": "from must be before to"}])
    wanted = SessionQuery(
        statuses=statuses,
        application_id=query.application_id,
        started_from=started_from,
        started_before=started_before,
        min_score=query.min_score,
        max_score=query.max_score,
        # One extra row tells whether another page exists without a count query.
        limit=query.limit + 1,
        before=decode_cursor(query.cursor) if query.cursor else None,
    )
    found = await deps(request).service.list_for(caller, wanted)
    page = found[: query.limit]
    body = SessionListResponse(
        sessions=[SessionOut.of(s, staff=is_staff(caller)) for s in page],
        next_cursor=encode_cursor(page[-1]) if len(found) > query.limit else None,
    )
    return JSONResponse(body.to_wire(), headers=NO_STORE)


async def get_session(request: Request) -> JSONResponse:
    caller, session = await load_session(request)
    return session_response(session, staff=is_staff(caller))


async def session_details(request: Request) -> JSONResponse:
    caller, session = await load_session(request)
    events, counts = await deps(request).service.review_events(session.session_id, MAX_REVIEW_EVENTS + 1)
    # Expected answer points, scores and integrity signals are for the reviewers, never for the candidate.
    staff = is_staff(caller)
    read = events[:MAX_REVIEW_EVENTS]
    questions, unassigned = build_review(session, read, include_expected=staff)
    body = SessionDetails(
        session=SessionOut.of(session, staff=staff),
        questions=questions,
        unassigned=unassigned,
        events=EventSummary(
            total=sum(counts.values()), by_type=dict(sorted(counts.items())), last_seq=session.last_seq
        ),
        truncated=len(events) > MAX_REVIEW_EVENTS,
        scores=session.scores if staff else None,
        integrity=integrity_signals(session, read)[1] if staff else None,
    )
    return JSONResponse(body.to_wire(), headers=NO_STORE)


async def refresh_token(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    http = deps(request)
    http.service.require_active(session)
    issued = http.auth.sessions.issue(
        session_id=session.session_id, application_id=session.application_id, subject=session.candidate_id
    )
    body = SessionTokenResponse(session_id=session.session_id, token=issued.token, expires_at=issued.expires_at)
    return JSONResponse(body.to_wire(), headers=NO_STORE)


async def delete_session(request: Request) -> Response:
    """Delete the session with its events and recording (its candidate's user token, or an admin)."""
    caller = await principal(request)
    await deps(request).service.deletion.delete(caller, path_session_id(request))
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    ApiRoute(
        "/api/interview/sessions",
        list_sessions,
        Operation(
            "The caller's sessions, newest first (staff: every session), filtered by status, application,"
            " start date and (staff) score range, with cursor pagination",
            {200: SessionListResponse},
            query=SessionListQuery,
            errors=(400, 401, 403, 503),
            tags=("sessions",),
        ),
    ),
    ApiRoute(
        "/api/interview/sessions/{sessionId}",
        get_session,
        Operation(
            "One session (its candidate, its session token, or staff)",
            {200: SessionOut},
            errors=(401, 404, 503),
            tags=("sessions",),
        ),
    ),
    ApiRoute(
        "/api/interview/sessions/{sessionId}",
        delete_session,
        Operation(
            "Delete the session, its events and its recording for good (its candidate's user token, or an"
            " admin); a tombstone records who did it",
            {204: None},
            errors=(401, 404, 503),
            tags=("sessions",),
        ),
        methods=("DELETE",),
    ),
    ApiRoute(
        "/api/interview/sessions/{sessionId}/details",
        session_details,
        Operation(
            "The session with its questions, answers and transcripts by question, an event summary and"
            " (staff only) its scores with their explanations and its integrity signals",
            {200: SessionDetails},
            errors=(401, 404, 503),
            tags=("sessions",),
        ),
    ),
    ApiRoute(
        "/api/interview/sessions/{sessionId}/token",
        refresh_token,
        Operation(
            "A fresh session token for an active session (its candidate or its current session token)",
            {200: SessionTokenResponse},
            errors=(400, 401, 404, 503),
            tags=("sessions",),
        ),
        methods=("POST",),
    ),
]
