"""Who is calling: the bearer token's principal, a role check, and the path's session."""

from __future__ import annotations

import sentry_sdk
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from server.http.auth import bearer_token
from server.http.deps import deps
from server.sessions import Principal, SessionPrincipal, UserPrincipal, forbidden, session_not_found
from server.sessions.wire_types import Uuid
from storage import SessionDoc

_session_id: TypeAdapter[str] = TypeAdapter(Uuid)


async def principal(request: Request) -> Principal:
    """The caller, from a user token or a session token."""
    token = bearer_token(request.headers.get("authorization"))
    return await deps(request).auth.verify_any(token)


async def user(request: Request) -> UserPrincipal:
    token = bearer_token(request.headers.get("authorization"))
    return await deps(request).auth.users.verify(token)


async def staff(request: Request) -> UserPrincipal:
    caller = await user(request)
    if not caller.is_staff:
        raise forbidden("Recruiter or admin role required")
    return caller


def is_staff(caller: Principal) -> bool:
    """A recruiter or admin user token (a session token never is)."""
    return not isinstance(caller, SessionPrincipal) and caller.is_staff


def tag_session(session_id: str, application_id: str | None = None) -> None:
    """Tag everything this request reports to Sentry with its session."""
    sentry_sdk.set_tag("session_id", session_id)
    if application_id:
        sentry_sdk.set_tag("application_id", application_id)


def path_session_id(request: Request) -> str:
    """The path's session id; a malformed one is a 404 like any session that is not there."""
    try:
        return _session_id.validate_python(request.path_params["sessionId"])
    except ValidationError:
        raise session_not_found() from None


async def load_session(request: Request, *, write: bool = False) -> tuple[Principal, SessionDoc]:
    """The caller and the path's session, if the caller may read it (or act on it); else 404."""
    caller = await principal(request)
    session = await deps(request).service.get_for(caller, path_session_id(request), write=write)
    tag_session(session.session_id, session.application_id)
    return caller, session
