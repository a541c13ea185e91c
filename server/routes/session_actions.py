"""Acting on a session: pause, resume, complete, and answering the current question."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.errors import AppError, ErrorCode, validation_error
from server.http import context, parse_model, read_body, read_model
from server.openapi import Operation
from server.routes.sessions import load_session, session_response
from server.sessions.client_events import validate_client_payload
from server.wire_sessions import AnswerRequest, AnswerResponse, SessionOut, TransitionRequest
from storage.models import SessionStatus

_MAX_TRANSITION_BODY = 4 * 1024
_MAX_ANSWER_BODY = 128 * 1024


async def _transition_body(request: Request) -> TransitionRequest:
    """The optional body of pause/resume/complete: empty means no precondition."""
    raw = await read_body(request, _MAX_TRANSITION_BODY)
    if not raw.strip():
        return TransitionRequest()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AppError(400, ErrorCode.INVALID_JSON, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise validation_error([{"field": "", "message": "Body must be a JSON object"}])
    return parse_model(TransitionRequest, data)


def _transition(target: SessionStatus) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        _, session = await load_session(request, write=True)
        body = await _transition_body(request)
        # Without a stated precondition the request acts on the status it just read,
        # so two concurrent requests that both saw `in_progress` cannot both win.
        expected = body.expected_status or session.status
        updated = await context(request).service.transition(session.session_id, target, expected=expected)
        return session_response(updated)

    endpoint.__name__ = f"{target.value}_session"
    return endpoint


async def submit_answer(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    body = await read_model(request, AnswerRequest, max_bytes=_MAX_ANSWER_BODY)
    payload = validate_client_payload(
        "answer.submit",
        {
            "questionId": body.question_id,
            "text": body.text,
            "startedAt": body.started_at.isoformat(),
            "endedAt": body.ended_at.isoformat(),
        },
    )
    outcome = await context(request).service.submit_answer(session.session_id, body.id, body.question_id, payload)
    session_out = SessionOut.of(outcome.session)
    response = AnswerResponse(
        answer_id=body.id,
        question_id=body.question_id,
        duplicate=outcome.duplicate,
        seq=outcome.seq,
        next_question=session_out.current_question,  # null once the session has ended
        session=session_out,
    )
    return JSONResponse(response.to_wire(), status_code=200 if outcome.duplicate else 201)


# action -> (target status, OpenAPI summary)
_TRANSITIONS = {
    "pause": (SessionStatus.PAUSED, "Pause an in-progress session"),
    "resume": (SessionStatus.IN_PROGRESS, "Resume a paused session; its question timer runs again"),
    "complete": (SessionStatus.COMPLETED, "Complete an in-progress or paused session"),
}
_SESSION = "/api/interview/sessions/{sessionId}"

ROUTES = [
    *(
        Route(f"{_SESSION}/{action}", _transition(target), methods=["POST"])
        for action, (target, _) in _TRANSITIONS.items()
    ),
    Route(f"{_SESSION}/answers", submit_answer, methods=["POST"]),
]

# The body of a transition may be omitted altogether.
_OPTIONAL_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TransitionRequest"}}},
    }
}

OPERATIONS = [
    *(
        Operation(
            "POST",
            f"{_SESSION}/{action}",
            f"{summary} (body optional: expectedStatus)",
            {200: SessionOut},
            request=TransitionRequest,
            errors=(400, 401, 404, 413, 503),
            tags=("sessions",),
            extra=_OPTIONAL_BODY,
        )
        for action, (_, summary) in _TRANSITIONS.items()
    ),
    Operation(
        "POST",
        f"{_SESSION}/answers",
        "Answer the current question (idempotent by id) and move to the next",
        {201: AnswerResponse, 200: AnswerResponse},
        request=AnswerRequest,
        errors=(400, 401, 404, 413, 503),
        tags=("sessions",),
    ),
]
