"""Sentry: optional, tagged by session id; with no DSN nothing is sent and nothing fails."""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk

from server.config import Settings
from server.logs import redact_signatures
from server.sessions import TRACED_CLIENT_EVENTS, EventType
from storage import EventDoc, SessionDoc

logger = logging.getLogger(__name__)


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
        for key in ("url", "query_string"):
            if isinstance(request.get(key), str):
                request[key] = redact_signatures(request[key])
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


class SentryObserver:
    """Reports session starts and the browser's tracing events to Sentry, tagged with the session."""

    def session_started(self, session: SessionDoc) -> None:
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("session_id", session.session_id)
            scope.set_tag("application_id", session.application_id)
            scope.set_context(
                "session", {"sessionId": session.session_id, "applicationId": session.application_id, "resumed": False}
            )
            sentry_sdk.capture_message("interview.session.started", level="info")

    def client_events_stored(self, session_id: str, application_id: str, events: list[EventDoc]) -> None:
        for event in events:
            name = event.payload.get("name") if event.type == EventType.EVENT else None
            if isinstance(name, str) and name in TRACED_CLIENT_EVENTS:
                inner: dict[str, Any] = event.payload.get("payload") or {}
                context = {**inner, "clientEventId": event.client_event_id, "ts": event.ts.isoformat()}
                self._report(session_id, application_id, name, context)

    @staticmethod
    def _report(session_id: str, application_id: str, name: str, payload: dict[str, Any]) -> None:
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("session_id", session_id)
            scope.set_tag("application_id", application_id)
            scope.set_tag("source", "client")
            scope.set_context("client_event", {k: v for k, v in payload.items() if k != "token"})
            sentry_sdk.capture_message(name, level="warning" if name != "interview.session.started" else "info")
