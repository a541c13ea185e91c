"""A session's event log over HTTP: paged reading, and the idempotent batch upload of client events."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import load_session
from server.http.deps import deps
from server.http.request import parse_json_object, parse_model, query_model, read_body
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import (
    MAX_BATCH_BYTES,
    ClientEventIn,
    EventBatchEnvelope,
    EventBatchRequest,
    EventBatchResponse,
    EventOut,
    EventsPage,
    EventsQuery,
    NotApplied,
    RefusedEvent,
)
from server.sessions import (
    ApplyPolicy,
    DomainError,
    NewClientEvent,
    client_event_time,
    client_event_type,
    printable,
    validate_client_payload,
)

logger = logging.getLogger(__name__)

YIELD_EVERY = 50


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


def _first_field(details: Any) -> str | None:
    """The field a validation error's details name first, if any."""
    if isinstance(details, list) and details and isinstance(details[0], dict):
        field = details[0].get("field")
        return field if isinstance(field, str) else None
    if isinstance(details, dict) and isinstance(details.get("fields"), list) and details["fields"]:
        return str(details["fields"][0])
    return None


def _under(parent: str, field: str | None) -> str:
    return f"{parent}.{field}" if field else parent


@dataclass(frozen=True)
class _Refusal:
    item: RefusedEvent
    error: DomainError


def _refuse(index: int, raw: Any, error: DomainError, field: str | None) -> _Refusal:
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    event_id = printable(raw_id[:64]) if isinstance(raw_id, str) else None
    item = RefusedEvent(index=index, id=event_id, code=error.code.value, message=error.message, field=field)
    return _Refusal(item, error)


def _prepare(index: int, raw: Any, received: datetime) -> NewClientEvent | _Refusal:
    """One uploaded item as the event to store, or why it is refused (with the field, relative to the item)."""
    try:
        item = parse_model(ClientEventIn, raw)
    except DomainError as error:
        return _refuse(index, raw, error, _first_field(error.details))
    try:
        event_type = client_event_type(item.type)
    except DomainError as error:
        return _refuse(index, raw, error, "type")
    try:
        ts = client_event_time(item.ts, received)
    except DomainError as error:
        return _refuse(index, raw, error, "ts")
    try:
        payload = validate_client_payload(item.type, item.payload)
    except DomainError as error:
        return _refuse(index, raw, error, _under("payload", _first_field(error.details)))
    return NewClientEvent(client_event_id=item.id, type=event_type, ts=ts, payload=payload)


def _nothing_acceptable(refusals: list[_Refusal]) -> DomainError:
    """Every item was refused: the first one's error, as the whole request's, with every refusal listed."""
    first = refusals[0]
    details = {
        "index": first.item.index,
        "id": first.item.id,
        "field": first.item.field,
        "errors": first.error.details,
        "refused": [r.item.to_wire() for r in refusals],
    }
    return DomainError(first.error.code, f"events[{first.item.index}]: {first.error.message}", details)


async def upload_events(request: Request) -> JSONResponse:
    _, session = await load_session(request, write=True)
    envelope = parse_model(EventBatchEnvelope, parse_json_object(await read_body(request, MAX_BATCH_BYTES)))
    service = deps(request).service
    received = service.clock.now()
    events: list[NewClientEvent] = []
    refusals: list[_Refusal] = []
    # Each item stands alone: a bad one is refused for good, its neighbours are stored.
    for index, raw in enumerate(envelope.events):
        if index and index % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # a 500-event batch must not hold the event loop from other sessions
        prepared = _prepare(index, raw, received)
        if isinstance(prepared, _Refusal):
            refusals.append(prepared)
        else:
            events.append(prepared)
    if not events:
        raise _nothing_acceptable(refusals)
    log = {"session_id": session.session_id}
    if refusals:
        logger.info("refused %d of %d uploaded events", len(refusals), len(envelope.events), extra=log)
    # Offline uploads replay what happened: applied when still legal, otherwise kept with the reason.
    outcome = await service.ingest(session.session_id, events, policy=ApplyPolicy.REPLAY)
    if outcome.rejected_ids:
        logger.info("refused %d late events", len(outcome.rejected_ids), extra=log)
    response = EventBatchResponse(
        accepted=len(outcome.append.accepted),
        duplicates=len(outcome.append.duplicate_ids),
        last_seq=outcome.last_seq,
        rejected=outcome.rejected_ids,
        not_applied=[NotApplied(id=i, code=e.code.value, message=e.message) for i, e in outcome.not_applied.items()],
        refused=[r.item for r in refusals],
    )
    # `notApplied` and `refused` appear only when not empty, so existing clients see the same body.
    empty = {name for name in ("not_applied", "refused") if not getattr(response, name)}
    return JSONResponse(response.to_wire(exclude=empty or None))


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
