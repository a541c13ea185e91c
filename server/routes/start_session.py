"""POST /api/interview/start-session: the candidate clicks "Start interview"."""

from __future__ import annotations

import sentry_sdk
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import telemetry
from server.errors import rate_limited
from server.http import client_ip, context, read_model, user
from server.openapi import Operation
from server.sessions import question_payload
from server.wire import StartSessionRequest, StartSessionResponse
from storage.models import DeviceType, SessionMetadata


async def start_session(request: Request) -> JSONResponse:
    caller = await user(request)
    body = await read_model(request, StartSessionRequest, max_bytes=16 * 1024)
    ctx = context(request)
    settings = ctx.settings
    with sentry_sdk.start_span(op="interview.start_session", name="start-session"):
        decision = await ctx.rate_limiter.hit(
            f"start-session:{caller.subject}:{body.application_id}",
            settings.start_session_rate_limit,
            settings.start_session_rate_window_seconds,
        )
        if not decision.allowed:
            raise rate_limited(decision.retry_after_seconds)
        client = body.metadata
        metadata = SessionMetadata(
            user_agent=(client.user_agent if client and client.user_agent else request.headers.get("user-agent", ""))[
                :512
            ],
            ip_address=client_ip(request),
            device_type=(client.device_type if client and client.device_type else DeviceType.DESKTOP),
            network_quality=client.network_quality if client else None,
        )
        outcome = await ctx.service.start(
            candidate_id=caller.subject,
            application_id=body.application_id,
            client_session_id=body.client_session_id,
            metadata=metadata,
        )
    session, application = outcome.session, outcome.application
    telemetry.tag_session(session.session_id, application.id)
    if outcome.created:
        telemetry.report_session_started(session.session_id, application.id, resumed=False)
    issued = ctx.auth.issue_session_token(
        session_id=session.session_id, application_id=application.id, subject=caller.subject
    )
    question = session.current_question()
    response = StartSessionResponse(
        session_id=session.session_id,
        token=issued.token,
        expires_at=issued.expires_at,
        resumed=not outcome.created,
        status=session.status.value,
        application={
            "id": application.id,
            "job_title": application.job_title,
            "candidate_name": application.candidate_name,
        },
        current_question=question_payload(question, len(session.questions)) if question and session.is_active else None,
    )
    return JSONResponse(
        response.to_wire(), status_code=201 if outcome.created else 200, headers={"Cache-Control": "no-store"}
    )


ROUTES = [Route("/api/interview/start-session", start_session, methods=["POST"])]

OPERATIONS = [
    Operation(
        "POST",
        "/api/interview/start-session",
        "Start (or resume) the interview session of an application",
        {201: StartSessionResponse, 200: StartSessionResponse},
        request=StartSessionRequest,
        errors=(400, 401, 404, 413, 429, 503),
        tags=("sessions",),
    )
]
