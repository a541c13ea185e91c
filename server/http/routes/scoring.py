"""POST /api/interview/sessions/{id}/score: a reviewer asks for an ended session to be scored again now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import load_session, staff
from server.http.deps import deps
from server.http.routes.sessions import NO_STORE
from server.http.routing import ApiRoute, Operation
from storage import SessionScores


async def score_session(request: Request) -> JSONResponse:
    await staff(request)  # 403 for candidates and session tokens, before anything is read
    _, session = await load_session(request)
    scores = await deps(request).service.score(session.session_id)
    return JSONResponse(scores.to_wire(), headers=NO_STORE)


ROUTES = [
    ApiRoute(
        "/api/interview/sessions/{sessionId}/score",
        score_session,
        Operation(
            "Score an ended session now (recruiter, admin) and store it; idempotent, recomputable."
            " The scores assist a human reviewer",
            {200: SessionScores},
            errors=(400, 401, 403, 404, 503),
            tags=("sessions",),
        ),
        methods=("POST",),
    ),
]
