"""GET /api/interview/link-status: what the candidate's link leads to, before the setup screen.

The page asks once when it opens: a link to an unknown application, to an interview
already submitted, or with a token that is invalid or expired each gets its own
message and next step instead of a setup screen that fails only after Start. Two
reads at most, and never rate limited (nothing is created).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import user
from server.http.deps import deps
from server.http.request import query_model
from server.http.routing import ApiRoute, Operation
from server.http.wire import ApplicationSummary, OfflinePackInterview, OfflinePackQuery
from server.sessions import LinkState
from storage import CamelModel


class LinkProgress(CamelModel):
    status: str = Field(description="`in_progress` or `paused`.")
    question_number: int = Field(description="The question being asked (1-based).")
    question_count: int


class LinkStatusResponse(CamelModel):
    status: Literal["not_found", "completed", "open", "in_progress"] = Field(
        description="not_found: no such application for this candidate; completed: already submitted; "
        "open: Start creates the session; in_progress: Start resumes it."
    )
    application: ApplicationSummary | None = None
    interview: OfflinePackInterview | None = None
    progress: LinkProgress | None = Field(default=None, description="The active session, when `in_progress`.")


async def link_status(request: Request) -> JSONResponse:
    caller = await user(request)  # 401 with details.reason `invalid` or `expired`
    query = query_model(request, OfflinePackQuery)
    link = await deps(request).service.link_status(caller, query.application_id)
    body = LinkStatusResponse(status=link.state.value)
    application, session = link.application, link.session
    if application is not None:
        body.application = ApplicationSummary(
            id=application.id, job_title=application.job_title, candidate_name=application.candidate_name
        )
        settings = application.interview
        count = len(session.questions) if session is not None else settings.question_count
        body.interview = OfflinePackInterview(mode=settings.mode, record=settings.record, question_count=count)
    if link.state == LinkState.IN_PROGRESS and session is not None:
        body.progress = LinkProgress(
            status=session.status.value,
            question_number=min(session.current_question_number, len(session.questions)),
            question_count=len(session.questions),
        )
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "private, no-store"})


ROUTES = [
    ApiRoute(
        "/api/interview/link-status",
        link_status,
        Operation(
            "What an interview link leads to: not found, already submitted, open or in progress (owner only)",
            {200: LinkStatusResponse},
            query=OfflinePackQuery,
            errors=(400, 401, 503),
            tags=("sessions",),
        ),
    )
]
