"""Sentry: optional, tagged by session id; with no DSN nothing is sent and nothing fails."""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk

from server.config import Settings

logger = logging.getLogger(__name__)

# Client events that the browser reports for tracing (seed EP5-S18's analytics events).
FORWARDED_CLIENT_EVENTS = frozenset(
    {"interview.session.started", "interview.session.api_failed", "interview.session.offline_mode"}
)


def _strip_secrets(event: Any, _hint: Any) -> Any:
    """Never ship tokens: drop auth headers and cookies from request data."""
    request = event.get("request") if isinstance(event, dict) else None
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in ("authorization", "cookie", "sec-websocket-protocol"):
                    headers[name] = "[Filtered]"
        request.pop("cookies", None)
    return event


def init_sentry(settings: Settings) -> bool:
    """Initialise sentry-sdk when SENTRY_DSN is set; returns whether it is on."""
    if not settings.sentry_dsn:
        return False
    from sentry_sdk.integrations.starlette import StarletteIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment or settings.env,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        integrations=[StarletteIntegration()],
        send_default_pii=False,
        before_send=_strip_secrets,
    )
    logger.info("sentry enabled")
    return True


def tag_session(session_id: str, application_id: str | None = None) -> None:
    """Tag everything the current request or connection reports with its session."""
    sentry_sdk.set_tag("session_id", session_id)
    if application_id:
        sentry_sdk.set_tag("application_id", application_id)


def report_session_started(session_id: str, application_id: str, resumed: bool) -> None:
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("session_id", session_id)
        scope.set_tag("application_id", application_id)
        scope.set_context("session", {"sessionId": session_id, "applicationId": application_id, "resumed": resumed})
        sentry_sdk.capture_message("interview.session.started", level="info")


def report_client_event(session_id: str, application_id: str, name: str, payload: dict[str, Any]) -> None:
    """Forward the browser's tracing events (offline mode, API failures) to Sentry."""
    if name not in FORWARDED_CLIENT_EVENTS:
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("session_id", session_id)
        scope.set_tag("application_id", application_id)
        scope.set_tag("source", "client")
        scope.set_context("client_event", {k: v for k, v in payload.items() if k != "token"})
        sentry_sdk.capture_message(name, level="warning" if name != "interview.session.started" else "info")
