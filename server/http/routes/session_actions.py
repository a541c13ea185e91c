"""Acting on a session: pause, resume, complete, and answering the current question (all strict)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.http.callers import load_session
from server.http.deps import deps
from server.http.request import parse_json_object, parse_model, read_body, read_model
from server.http.routes.sessions import session_response
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import AnswerRequest, AnswerResponse, SessionOut, TransitionRequest
from server.sessions import Command, EventType, validate_client_payload

_MAX_TRANSITION_BODY = 4 * 1024
# A 20,000-character answer, even sent as escaped JSON (12 bytes per emoji), fits.
_MAX_ANSWER_BODY = 512 * 1024


async def _transition_body(request: Request) -> TransitionRequest:
    """The optional body of pause/resume/complete: empty means no precondition."""
    raw = await read_body(request, _MAX_TRANSITION_BODY)
    if not raw.strip():
        return TransitionRequest()
    return parse_model(TransitionRequest, parse_json_object(raw))


def _transition(command_type: EventType) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        _, session = await load_session(request, write=True)
        body = await _transition_body(request)
        # Without a stated precondition the request acts on the status it just read,
        # so two concurrent requests that both saw `in_progress` cannot both win.
        command = Command(type=command_type, expected_status=body.expected_status or session.status)
        updated = await deps(request).service.command(session.session_id, command)
        return session_response(updated)

    endpoint.__name__ = command_type.value.replace(".", "_")
    return endpoint


async def submit_answer(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    body = await read_model(request, AnswerRequest, _MAX_ANSWER_BODY)
    payload = validate_client_payload(
        EventType.ANSWER_SUBMIT,
        {
            "questionId": body.question_id,
            "text": body.text,
            "startedAt": body.started_at.isoformat(),
            "endedAt": body.ended_at.isoformat(),
        },
    )
    outcome = await deps(request).service.submit_answer(session.session_id, body.id, body.question_id, payload)
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


# action -> (command, OpenAPI summary)
_TRANSITIONS = {
    "pause": (EventType.SESSION_PAUSE, "Pause an in-progress session"),
    "resume": (EventType.SESSION_RESUME, "Resume a paused session; its question timer runs again"),
    "complete": (EventType.SESSION_COMPLETE, "Complete an in-progress or paused session"),
}
_SESSION = "/api/interview/sessions/{sessionId}"
# The body of a transition may be omitted altogether.
_OPTIONAL_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TransitionRequest"}}},
    }
}

ROUTES = [
    *(
        ApiRoute(
            f"{_SESSION}/{action}",
            _transition(command),
            Operation(
                f"{summary} (body optional: expectedStatus)",
                {200: SessionOut},
                request=TransitionRequest,
                errors=(400, 401, 404, 413, 503),
                tags=("sessions",),
                extra=_OPTIONAL_BODY,
            ),
            methods=("POST",),
        )
        for action, (command, summary) in _TRANSITIONS.items()
    ),
    ApiRoute(
        f"{_SESSION}/answers",
        submit_answer,
        Operation(
            "Answer the current question (idempotent by id) and move to the next",
            {201: AnswerResponse, 200: AnswerResponse},
            request=AnswerRequest,
            errors=(400, 401, 404, 413, 503),
            tags=("sessions",),
        ),
        methods=("POST",),
    ),
]
