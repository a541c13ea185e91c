"""POST /api/interview/start-session: the candidate clicks "Start interview"."""

from __future__ import annotations

import sentry_sdk
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import tag_session, user
from server.http.deps import deps
from server.http.request import client_ip, read_model
from server.http.routing import ApiRoute, Operation
from server.http.wire import ApplicationSummary, QuestionOut, StartSessionRequest, StartSessionResponse
from storage import DeviceType, SessionMetadata

MAX_START_BODY = 16 * 1024


async def start_session(request: Request) -> JSONResponse:
    caller = await user(request)
    body = await read_model(request, StartSessionRequest, MAX_START_BODY)
    http = deps(request)
    with sentry_sdk.start_span(op="interview.start_session", name="start-session"):
        client = body.metadata
        metadata = SessionMetadata(
            user_agent=(client.user_agent if client and client.user_agent else request.headers.get("user-agent", ""))[
                :512
            ],
            ip_address=client_ip(request, http.trusted_proxies),
            device_type=(client.device_type if client and client.device_type else DeviceType.DESKTOP),
            network_quality=client.network_quality if client else None,
        )
        outcome = await http.service.start(
            candidate_id=caller.subject,
            application_id=body.application_id,
            client_session_id=body.client_session_id,
            metadata=metadata,
        )
    session, application = outcome.session, outcome.application
    tag_session(session.session_id, application.id)
    issued = http.auth.sessions.issue(
        session_id=session.session_id, application_id=application.id, subject=caller.subject
    )
    question = session.current_question()
    response = StartSessionResponse(
        session_id=session.session_id,
        token=issued.token,
        expires_at=issued.expires_at,
        resumed=not outcome.created,
        status=session.status.value,
        application=ApplicationSummary(
            id=application.id, job_title=application.job_title, candidate_name=application.candidate_name
        ),
        current_question=QuestionOut.of(question, len(session.questions)) if question and session.is_active else None,
    )
    return JSONResponse(
        response.to_wire(), status_code=201 if outcome.created else 200, headers={"Cache-Control": "no-store"}
    )


ROUTES = [
    ApiRoute(
        "/api/interview/start-session",
        start_session,
        Operation(
            "Start (or resume) the interview session of an application",
            {201: StartSessionResponse, 200: StartSessionResponse},
            request=StartSessionRequest,
            errors=(400, 401, 404, 413, 429, 503),
            tags=("sessions",),
        ),
        methods=("POST",),
    )
]
