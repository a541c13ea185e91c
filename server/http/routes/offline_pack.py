"""GET /api/interview/offline-pack: the questions a page caches before the interview starts.

If the server is unreachable when the candidate clicks "Start interview", the
browser runs the interview from this pack and uploads everything later. The pack
holds exactly the questions the server will ask (selection is deterministic per
application), so the uploaded answers line up with the server's question flow.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import user
from server.http.deps import deps
from server.http.request import query_model
from server.http.routing import ApiRoute, Operation
from server.http.wire import (
    ApplicationSummary,
    OfflinePackInterview,
    OfflinePackQuery,
    OfflinePackResponse,
    QuestionOut,
)


async def offline_pack(request: Request) -> JSONResponse:
    caller = await user(request)
    query = query_model(request, OfflinePackQuery)
    pack = await deps(request).service.offline_pack(caller, query.application_id)
    application = pack.application
    body = OfflinePackResponse(
        application=ApplicationSummary(
            id=application.id, job_title=application.job_title, candidate_name=application.candidate_name
        ),
        application_status=application.status,
        interview=OfflinePackInterview(
            mode=application.interview.mode,
            record=application.interview.record,
            question_count=len(pack.questions),
        ),
        questions=[QuestionOut.model_validate(q.model_dump()) for q in pack.questions],
        generated_at=pack.generated_at,
    )
    # The browser keeps its own copy in IndexedDB; shared caches must not keep one at all.
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "private, no-store"})


ROUTES = [
    ApiRoute(
        "/api/interview/offline-pack",
        offline_pack,
        Operation(
            "The questions the server will ask for an application, for offline use (owner only)",
            {200: OfflinePackResponse},
            query=OfflinePackQuery,
            errors=(400, 401, 404, 503),
            tags=("sessions",),
        ),
    )
]
