"""Recruiter analytics over interview sessions: one MongoDB `$facet` aggregation, no Python loops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from storage.models import CamelModel, SessionStatus
from storage.sessions import SessionRepository

TOP_CATEGORIES = 10

_COMPLETED = {"$eq": ["$status", SessionStatus.COMPLETED.value]}
# $avg ignores nulls, so this is the mean duration of completed sessions only.
_COMPLETED_DURATION = {"$avg": {"$cond": [_COMPLETED, "$duration", None]}}


class CategoryCount(CamelModel):
    category: str
    count: int


class DailyPoint(CamelModel):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    total: int
    completed: int
    average_duration_seconds: float | None = None


class AnalyticsReport(CamelModel):
    """Sessions started in [from, to)."""

    from_: datetime = Field(alias="from")
    to: datetime
    total_sessions: int
    completed_sessions: int
    completion_rate: float = Field(description="completed / total (0 when there are none)")
    average_duration_seconds: float | None = Field(description="Mean active time of completed sessions")
    sessions_by_status: dict[str, int]
    question_categories: list[CategoryCount] = Field(description="Categories of the questions asked, most common first")
    daily: list[DailyPoint] = Field(description="Per UTC day; days without sessions are omitted")


def analytics_pipeline(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The aggregation: match the window, then every figure in one `$facet`."""
    return [
        {"$match": {"startedAt": {"$gte": start, "$lt": end}}},
        {
            "$facet": {
                "totals": [
                    {
                        "$group": {
                            "_id": None,
                            "total": {"$sum": 1},
                            "completed": {"$sum": {"$cond": [_COMPLETED, 1, 0]}},
                            "averageDuration": _COMPLETED_DURATION,
                        }
                    }
                ],
                "byStatus": [{"$group": {"_id": "$status", "count": {"$sum": 1}}}, {"$sort": {"_id": 1}}],
                # Asked questions only: the snapshot's first `askedQuestionNumber` entries.
                "categories": [
                    {"$unwind": "$questions"},
                    {"$match": {"$expr": {"$lte": ["$questions.number", "$askedQuestionNumber"]}}},
                    {"$group": {"_id": "$questions.category", "count": {"$sum": 1}}},
                    {"$sort": {"count": -1, "_id": 1}},
                    {"$limit": TOP_CATEGORIES},
                ],
                "daily": [
                    {
                        "$group": {
                            "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$startedAt"}},
                            "total": {"$sum": 1},
                            "completed": {"$sum": {"$cond": [_COMPLETED, 1, 0]}},
                            "averageDuration": _COMPLETED_DURATION,
                        }
                    },
                    {"$sort": {"_id": 1}},
                ],
            }
        },
        {
            "$project": {
                "byStatus": 1,
                "categories": 1,
                "daily": 1,
                "totals": {
                    "$ifNull": [{"$arrayElemAt": ["$totals", 0]}, {"total": 0, "completed": 0, "averageDuration": None}]
                },
            }
        },
        {
            "$addFields": {
                "completionRate": {
                    "$cond": [
                        {"$gt": ["$totals.total", 0]},
                        {"$round": [{"$divide": ["$totals.completed", "$totals.total"]}, 4]},
                        0,
                    ]
                }
            }
        },
    ]


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def session_analytics(sessions: SessionRepository, start: datetime, end: datetime) -> AnalyticsReport:
    """Run the pipeline and shape its single result document."""
    rows = await sessions.aggregate(analytics_pipeline(start, end))
    result = rows[0] if rows else {}
    totals = result.get("totals") or {}
    # Every status is listed, zero when absent, so clients need no defaults.
    by_status = {status.value: 0 for status in SessionStatus}
    by_status.update({str(row["_id"]): int(row["count"]) for row in result.get("byStatus", [])})
    return AnalyticsReport(
        from_=start,
        to=end,
        total_sessions=int(totals.get("total", 0)),
        completed_sessions=int(totals.get("completed", 0)),
        completion_rate=float(result.get("completionRate", 0)),
        average_duration_seconds=_rounded(totals.get("averageDuration")),
        sessions_by_status=by_status,
        question_categories=[
            CategoryCount(category=str(row["_id"]), count=int(row["count"])) for row in result.get("categories", [])
        ],
        daily=[
            DailyPoint(
                date=str(row["_id"]),
                total=int(row["total"]),
                completed=int(row["completed"]),
                average_duration_seconds=_rounded(row.get("averageDuration")),
            )
            for row in result.get("daily", [])
        ],
    )
