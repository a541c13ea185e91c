"""A session's event log over HTTP: paged reading, and the idempotent batch upload of client events."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import load_session
from server.http.deps import deps
from server.http.request import query_model, read_model
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import (
    MAX_BATCH_BYTES,
    EventBatchRequest,
    EventBatchResponse,
    EventOut,
    EventsPage,
    EventsQuery,
    NotApplied,
)
from server.sessions import ApplyPolicy, DomainError, NewClientEvent, client_event_type, validate_client_payload

logger = logging.getLogger(__name__)


async def list_events(request: Request) -> JSONResponse:
    _, session = await load_session(request)
    query = query_model(request, EventsQuery)
    found = await deps(request).service.events_after(session.session_id, query.after_seq, limit=query.limit + 1)
    page = found[: query.limit]
    body = EventsPage(
        events=[EventOut.of(e) for e in page],
        next_after_seq=page[-1].seq if page else query.after_seq,
        has_more=len(found) > query.limit,
        last_seq=max(session.last_seq, page[-1].seq if page else 0),
    )
    return JSONResponse(body.to_wire(), headers={"Cache-Control": "no-store"})


def _batch_item_error(index: int, event_id: str, error: DomainError) -> DomainError:
    """The payload error of one event, saying which event it was."""
    return DomainError(
        error.code, f"events[{index}]: {error.message}", {"index": index, "id": event_id, "errors": error.details}
    )


async def upload_events(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    body = await read_model(request, EventBatchRequest, MAX_BATCH_BYTES)
    events: list[NewClientEvent] = []
    # The batch is all or nothing at validation: one bad event refuses the request.
    for index, item in enumerate(body.events):
        try:
            payload = validate_client_payload(item.type, item.payload)
            event_type = client_event_type(item.type)
        except DomainError as error:
            raise _batch_item_error(index, item.id, error) from None
        events.append(NewClientEvent(client_event_id=item.id, type=event_type, ts=item.ts, payload=payload))
    # Offline uploads replay what happened: applied when still legal, otherwise kept with the reason.
    outcome = await deps(request).service.ingest(session.session_id, events, policy=ApplyPolicy.REPLAY)
    if outcome.rejected_ids:
        logger.info("refused %d late events", len(outcome.rejected_ids), extra={"session_id": session.session_id})
    response = EventBatchResponse(
        accepted=len(outcome.append.accepted),
        duplicates=len(outcome.append.duplicate_ids),
        last_seq=outcome.last_seq,
        rejected=outcome.rejected_ids,
        not_applied=[NotApplied(id=i, code=e.code.value, message=e.message) for i, e in outcome.not_applied.items()],
    )
    # `notApplied` appears only when something was not applied, so existing clients see the same body.
    return JSONResponse(response.to_wire(exclude=None if response.not_applied else {"not_applied"}))


_EVENTS = "/api/interview/sessions/{sessionId}/events"
ROUTES = [
    ApiRoute(
        _EVENTS,
        list_events,
        Operation(
            "The session's event log in seq order, paged by afterSeq",
            {200: EventsPage},
            query=EventsQuery,
            errors=(400, 401, 404, 503),
            tags=("events",),
        ),
    ),
    ApiRoute(
        _EVENTS,
        upload_events,
        Operation(
            "Upload client events (at most 500 and 1 MiB); idempotent by event id; commands applied as a replay",
            {200: EventBatchResponse},
            request=EventBatchRequest,
            errors=(400, 401, 404, 413, 503),
            tags=("events",),
        ),
        methods=("POST",),
    ),
]
