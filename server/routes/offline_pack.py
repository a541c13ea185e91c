"""GET /api/interview/offline-pack: the questions a page caches before the interview starts.

If the server is unreachable when the candidate clicks "Start interview", the
browser runs the interview from this pack and uploads everything later. The pack
holds exactly the questions the server will ask (selection is deterministic per
application), so the uploaded answers line up with the server's question flow.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.errors import invalid_application
from server.http import context, query_model, user
from server.openapi import Operation
from server.sessions import question_payload, select_questions, utcnow
from server.wire import ApplicationSummary, QuestionOut, RequestModel, ResourceId
from storage.models import CamelModel


class OfflinePackQuery(RequestModel):
    application_id: ResourceId


class OfflinePackInterview(CamelModel):
    mode: str
    record: bool
    question_count: int


class OfflinePackResponse(CamelModel):
    application: ApplicationSummary
    application_status: str
    interview: OfflinePackInterview
    questions: list[QuestionOut]
    generated_at: datetime


async def offline_pack(request: Request) -> JSONResponse:
    caller = await user(request)
    query = query_model(request, OfflinePackQuery)
    ctx = context(request)
    application = await ctx.applications.get(query.application_id)
    # Owner only: staff get the same 404 as strangers (the pack is for the candidate's browser).
    if application is None or application.candidate_id != caller.subject:
        raise invalid_application()
    active = await ctx.sessions.find_active(application.id)
    if active is not None:
        questions = active.questions  # already chosen: the snapshot is what will be asked
    else:
        interview = application.interview
        bank = await ctx.questions.candidates(interview.categories, interview.difficulty)
        questions = select_questions(bank, interview, seed=application.id)
    total = len(questions)
    body = OfflinePackResponse(
        application=ApplicationSummary(
            id=application.id, job_title=application.job_title, candidate_name=application.candidate_name
        ),
        application_status=application.status,
        interview=OfflinePackInterview(
            mode=application.interview.mode,
            record=application.interview.record,
            question_count=total,
        ),
        questions=[QuestionOut.model_validate(question_payload(q, total)) for q in questions],
        generated_at=utcnow(),
    )
    # The browser keeps its own copy in IndexedDB; shared caches must not keep one at all.
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "private, no-store"})


ROUTES = [Route("/api/interview/offline-pack", offline_pack, methods=["GET"])]

OPERATIONS = [
    Operation(
        "GET",
        "/api/interview/offline-pack",
        "The questions the server will ask for an application, for offline use (owner only)",
        {200: OfflinePackResponse},
        query=OfflinePackQuery,
        errors=(400, 401, 404, 503),
        tags=("sessions",),
    )
]
