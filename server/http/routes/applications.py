"""Applications: created by recruiters, readable by their candidate."""

from __future__ import annotations

import uuid

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import staff, user
from server.http.deps import deps
from server.http.request import read_model
from server.http.routing import ApiRoute, Operation
from server.http.wire import ApplicationOut, CreateApplicationRequest
from server.sessions import invalid_application
from server.sessions.wire_types import ResourceId
from storage import ApplicationDoc, InterviewSettings

_id_adapter: TypeAdapter[str] = TypeAdapter(ResourceId)


def application_out(application: ApplicationDoc) -> dict[str, object]:
    return ApplicationOut.model_validate(application.model_dump()).to_wire()


def valid_id(value: str) -> bool:
    try:
        _id_adapter.validate_python(value)
    except ValidationError:
        return False
    return True


async def create_application(request: Request) -> JSONResponse:
    await staff(request)
    http = deps(request)
    body = await read_model(request, CreateApplicationRequest, http.settings.max_body_bytes)
    now = http.service.clock.now()
    application = ApplicationDoc(
        id=body.id or f"app_{uuid.uuid4().hex[:12]}",
        candidate_id=body.candidate_id,
        candidate_name=body.candidate_name,
        job_title=body.job_title,
        interview=body.interview or InterviewSettings(),
        created_at=now,
        updated_at=now,
    )
    await http.service.create_application(application)
    return JSONResponse(application_out(application), status_code=201)


async def get_application(request: Request) -> JSONResponse:
    caller = await user(request)
    application_id = request.path_params["applicationId"]
    if not valid_id(application_id):
        raise invalid_application()
    application = await deps(request).service.application_for(caller, application_id)
    return JSONResponse(application_out(application))


ROUTES = [
    ApiRoute(
        "/api/applications",
        create_application,
        Operation(
            "Create an application (recruiter or admin)",
            {201: ApplicationOut},
            request=CreateApplicationRequest,
            errors=(400, 401, 403, 409, 413, 503),
            tags=("applications",),
        ),
        methods=("POST",),
    ),
    ApiRoute(
        "/api/applications/{applicationId}",
        get_application,
        Operation(
            "Read an application (its candidate, or staff)",
            {200: ApplicationOut},
            errors=(401, 404, 503),
            tags=("applications",),
        ),
    ),
]
