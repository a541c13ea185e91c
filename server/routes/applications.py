"""Applications: created by recruiters, readable by their candidate."""

from __future__ import annotations

import uuid

from pydantic import TypeAdapter
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.errors import AppError, ErrorCode, invalid_application
from server.http import context, read_model, staff, user
from server.openapi import Operation
from server.sessions import utcnow
from server.wire import ApplicationOut, CreateApplicationRequest, ResourceId
from storage.models import ApplicationDoc, InterviewSettings

_id_adapter: TypeAdapter[str] = TypeAdapter(ResourceId)


def application_out(application: ApplicationDoc) -> dict[str, object]:
    return ApplicationOut.model_validate(application.model_dump()).to_wire()


async def create_application(request: Request) -> JSONResponse:
    await staff(request)
    body = await read_model(request, CreateApplicationRequest)
    ctx = context(request)
    now = utcnow()
    application = ApplicationDoc(
        id=body.id or f"app_{uuid.uuid4().hex[:12]}",
        candidate_id=body.candidate_id,
        candidate_name=body.candidate_name,
        job_title=body.job_title,
        interview=body.interview or InterviewSettings(),
        created_at=now,
        updated_at=now,
    )
    try:
        await ctx.applications.insert(application)
    except DuplicateKeyError:
        raise AppError(409, ErrorCode.APPLICATION_EXISTS, "An application with this id exists") from None
    return JSONResponse(application_out(application), status_code=201)


async def get_application(request: Request) -> JSONResponse:
    caller = await user(request)
    application_id = request.path_params["applicationId"]
    if not valid_id(application_id):
        raise invalid_application()
    application = await context(request).service.application_for(caller, application_id)
    return JSONResponse(application_out(application))


def valid_id(value: str) -> bool:
    try:
        _id_adapter.validate_python(value)
    except ValueError:
        return False
    return True


ROUTES = [
    Route("/api/applications", create_application, methods=["POST"]),
    Route("/api/applications/{applicationId}", get_application, methods=["GET"]),
]

OPERATIONS = [
    Operation(
        "POST",
        "/api/applications",
        "Create an application (recruiter or admin)",
        {201: ApplicationOut},
        request=CreateApplicationRequest,
        errors=(400, 401, 403, 409, 413, 503),
        tags=("applications",),
    ),
    Operation(
        "GET",
        "/api/applications/{applicationId}",
        "Read an application (its candidate, or staff)",
        {200: ApplicationOut},
        errors=(401, 404, 503),
        tags=("applications",),
    ),
]
