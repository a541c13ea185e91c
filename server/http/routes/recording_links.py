"""Short-lived signed links to one session's recording, for `<audio src>` (no token of the reader in the URL).

`POST /api/interview/sessions/{id}/recording-link` (anyone who may read the session) answers
`{url, expiresAt}`; the URL (`/api/interview/recordings/{id}?sig=...`) serves that session's
recording, Range requests included, and nothing else, until it expires. Its `sig` is kept out
of the access log (server/logs.py) and of Sentry (server/telemetry.py).
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.http.callers import load_session, tag_session
from server.http.deps import deps
from server.http.request import query_model
from server.http.routes.recording import UPLOAD_TYPES, recording_response
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import RecordingLinkQuery, RecordingLinkResponse
from server.sessions import DomainError, ErrorCode, session_not_found
from server.sessions.wire_types import Uuid

LINK_PATH = "/api/interview/recordings/{sessionId}"
_session_id: TypeAdapter[str] = TypeAdapter(Uuid)


async def create_link(request: Request) -> JSONResponse:
    _caller, session = await load_session(request)
    if session.recording is None:
        raise DomainError(ErrorCode.NOT_FOUND, "This session has no recording")
    link = deps(request).recording_links.issue(session.session_id)
    url = f"/api/interview/recordings/{session.session_id}?sig={quote(link.token, safe='')}"
    body = RecordingLinkResponse(url=url, expires_at=link.expires_at)
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "no-store"})


async def linked_recording(request: Request) -> Response:
    query = query_model(request, RecordingLinkQuery)
    try:
        session_id = _session_id.validate_python(request.path_params["sessionId"])
    except ValidationError:
        raise session_not_found() from None
    http = deps(request)
    # The signature first: without a valid link nobody learns whether the session exists.
    http.recording_links.verify(query.sig, session_id)
    session = await http.service.find(session_id)
    if session is None:
        raise session_not_found()
    tag_session(session.session_id, session.application_id)
    response = await recording_response(request, session)
    response.headers["Cache-Control"] = "private, no-store"
    return response


ROUTES = [
    ApiRoute(
        "/api/interview/sessions/{sessionId}/recording-link",
        create_link,
        Operation(
            "A short-lived signed URL (about 5 minutes) that serves this session's recording and nothing else",
            {200: RecordingLinkResponse},
            errors=(401, 404, 503),
            tags=("recordings",),
        ),
        methods=("POST",),
    ),
    ApiRoute(
        LINK_PATH,
        linked_recording,
        Operation(
            "The recording a signed link names (Range requests supported); the link is the only credential",
            {200: None, 206: None},
            query=RecordingLinkQuery,
            errors=(400, 401, 404, 416, 503),
            auth=False,
            tags=("recordings",),
            extra={"x-content-types": ["audio/wav", *UPLOAD_TYPES]},
        ),
        methods=("GET",),
    ),
]
