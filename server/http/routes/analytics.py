"""GET /api/interview/analytics: session figures for recruiters and admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.http.callers import staff
from server.http.deps import deps
from server.http.request import query_model
from server.http.routing import ApiRoute, Operation
from server.http.wire_sessions import AnalyticsQuery
from server.sessions import AnalyticsReport, validation_error

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)
# Bounds far enough from datetime's own limits that no window arithmetic or UTC conversion overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def instant(value: datetime | date | None, *, end: bool, field: str) -> datetime | None:
    """A datetime as given; a date as midnight UTC (the next midnight for an end, so the day counts)."""
    if value is None:
        return None
    instant = value if isinstance(value, datetime) else datetime.combine(value, time(0), tzinfo=UTC)
    if not EARLIEST <= instant < LATEST:
        message = f"{field} must lie between {EARLIEST.year} and {LATEST.year}"
        raise validation_error([{"field": field, "message": message}], message)
    return instant + timedelta(days=1) if end and not isinstance(value, datetime) else instant


def window(query: AnalyticsQuery, now: datetime) -> tuple[datetime, datetime]:
    """[from, to): defaults to the last 30 days; at most 366 days."""
    end = instant(query.to, end=True, field="to") or now
    start = instant(query.from_, end=False, field="from") or end - DEFAULT_WINDOW
    if start >= end:
        raise validation_error([{"field": "from", "message": "from must be before to"}])
    if end - start > MAX_WINDOW:
        raise validation_error([{"field": "to", "message": f"The window is at most {MAX_WINDOW.days} days"}])
    return start, end


async def analytics(request: Request) -> JSONResponse:
    await staff(request)
    service = deps(request).service
    start, end = window(query_model(request, AnalyticsQuery), service.clock.now())
    report = await service.analytics(start, end)
    return JSONResponse(report.to_wire(), headers={"Cache-Control": "no-store"})


ROUTES = [
    ApiRoute(
        "/api/interview/analytics",
        analytics,
        Operation(
            "Session totals, completion rate, durations, statuses, question categories and a daily trend (staff)",
            {200: AnalyticsReport},
            query=AnalyticsQuery,
            errors=(400, 401, 403, 503),
            tags=("analytics",),
        ),
    )
]
