"""A session's event log over HTTP: paged reading, and the idempotent batch upload of client events."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import telemetry
from server.errors import AppError
from server.http import context, query_model, read_model
from server.openapi import Operation
from server.routes.sessions import load_session
from server.sessions.client_events import validate_client_payload
from server.sessions.event_log import NewClientEvent
from server.wire_sessions import (
    MAX_BATCH_BYTES,
    EventBatchRequest,
    EventBatchResponse,
    EventOut,
    EventsPage,
    EventsQuery,
)
from storage.models import EventDoc

logger = logging.getLogger(__name__)

# Named client events under this prefix are the browser's tracing events (seed EP5-S18).
TELEMETRY_PREFIX = "interview.session."


async def list_events(request: Request) -> JSONResponse:
    _, session = await load_session(request)
    query = query_model(request, EventsQuery)
    found = await context(request).events.list(session.session_id, after_seq=query.after_seq, limit=query.limit + 1)
    page = found[: query.limit]
    body = EventsPage(
        events=[EventOut.of(e) for e in page],
        next_after_seq=page[-1].seq if page else query.after_seq,
        has_more=len(found) > query.limit,
        last_seq=max(session.last_seq, page[-1].seq if page else 0),
    )
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "no-store"})


def _batch_item_error(index: int, event_id: str, error: AppError) -> AppError:
    """The payload error of one event, saying which event it was."""
    return AppError(
        error.status,
        error.code,
        f"events[{index}]: {error.message}",
        {"index": index, "id": event_id, "errors": error.details},
    )


def _forward_telemetry(session_id: str, application_id: str, accepted: list[EventDoc]) -> None:
    for event in accepted:
        name = event.payload.get("name") if event.type == "event" else None
        if isinstance(name, str) and name.startswith(TELEMETRY_PREFIX):
            inner: dict[str, Any] = event.payload.get("payload") or {}
            context_ = {**inner, "clientEventId": event.client_event_id, "ts": event.ts.isoformat()}
            telemetry.report_client_event(session_id, application_id, name, context_)


async def upload_events(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    body = await read_model(request, EventBatchRequest, max_bytes=MAX_BATCH_BYTES)
    events: list[NewClientEvent] = []
    # The batch is all or nothing at validation: one bad event refuses the request.
    for index, item in enumerate(body.events):
        try:
            payload = validate_client_payload(item.type, item.payload)
        except AppError as error:
            raise _batch_item_error(index, item.id, error) from None
        events.append(NewClientEvent(client_event_id=item.id, type=item.type, ts=item.ts, payload=payload))
    outcome = await context(request).service.ingest_client_events(session.session_id, events)
    _forward_telemetry(session.session_id, session.application_id, outcome.append.accepted)
    if outcome.rejected_ids:
        logger.info("refused %d late events", len(outcome.rejected_ids), extra={"session_id": session.session_id})
    response = EventBatchResponse(
        accepted=len(outcome.append.accepted),
        duplicates=len(outcome.append.duplicate_ids),
        last_seq=outcome.last_seq,
        rejected=outcome.rejected_ids,
    )
    return JSONResponse(response.to_wire())


ROUTES = [
    Route("/api/interview/sessions/{sessionId}/events", list_events, methods=["GET"]),
    Route("/api/interview/sessions/{sessionId}/events", upload_events, methods=["POST"]),
]

OPERATIONS = [
    Operation(
        "GET",
        "/api/interview/sessions/{sessionId}/events",
        "The session's event log in seq order, paged by afterSeq",
        {200: EventsPage},
        query=EventsQuery,
        errors=(400, 401, 404, 503),
        tags=("events",),
    ),
    Operation(
        "POST",
        "/api/interview/sessions/{sessionId}/events",
        "Upload client events (at most 500 and 1 MiB); idempotent by event id",
        {200: EventBatchResponse},
        request=EventBatchRequest,
        errors=(400, 401, 404, 413, 503),
        tags=("events",),
    ),
]
