"""Session analytics as one MongoDB `$facet` aggregation, returned as plain typed rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.models import SessionStatus
from storage.sessions import SessionRepository

TOP_CATEGORIES = 10
SCORE_BUCKET_WIDTH = 10  # finalScore 0-100 in buckets [0, 10), [10, 20) ... [90, 100]

_COMPLETED = {"$eq": ["$status", SessionStatus.COMPLETED.value]}
# $avg ignores nulls, so this is the mean duration of completed sessions only.
_COMPLETED_DURATION = {"$avg": {"$cond": [_COMPLETED, "$duration", None]}}


@dataclass(frozen=True)
class DayRow:
    date: str
    total: int
    completed: int
    average_duration: float | None


@dataclass(frozen=True)
class AnalyticsRows:
    """Sessions started in [start, end), counted by the store."""

    total: int = 0
    completed: int = 0
    completion_rate: float = 0.0
    average_duration: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)
    categories: list[tuple[str, int]] = field(default_factory=list)
    daily: list[DayRow] = field(default_factory=list)
    scored: int = 0
    average_score: float | None = None
    score_buckets: dict[int, int] = field(default_factory=dict)  # bucket's lower bound -> sessions


_LAST_BUCKET = 100 - SCORE_BUCKET_WIDTH
_SCORED = {"$match": {"finalScore": {"$type": "number"}}}


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
                "scores": [
                    _SCORED,
                    {"$group": {"_id": None, "scored": {"$sum": 1}, "averageScore": {"$avg": "$finalScore"}}},
                ],
                # A score of 100 goes in the last bucket, so there are exactly 100 / SCORE_BUCKET_WIDTH.
                "scoreBuckets": [
                    _SCORED,
                    {
                        "$group": {
                            "_id": {
                                "$min": [
                                    _LAST_BUCKET,
                                    {
                                        "$multiply": [
                                            {"$floor": {"$divide": ["$finalScore", SCORE_BUCKET_WIDTH]}},
                                            SCORE_BUCKET_WIDTH,
                                        ]
                                    },
                                ]
                            },
                            "count": {"$sum": 1},
                        }
                    },
                ],
            }
        },
        {
            "$project": {
                "byStatus": 1,
                "categories": 1,
                "daily": 1,
                "scores": 1,
                "scoreBuckets": 1,
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


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def session_analytics_rows(sessions: SessionRepository, start: datetime, end: datetime) -> AnalyticsRows:
    """Run the pipeline and read its single result document."""
    rows = await sessions.aggregate(analytics_pipeline(start, end))
    result = rows[0] if rows else {}
    totals = result.get("totals") or {}
    scores = (result.get("scores") or [{}])[0]
    return AnalyticsRows(
        total=int(totals.get("total", 0)),
        completed=int(totals.get("completed", 0)),
        completion_rate=float(result.get("completionRate", 0)),
        average_duration=_float(totals.get("averageDuration")),
        by_status={str(row["_id"]): int(row["count"]) for row in result.get("byStatus", [])},
        categories=[(str(row["_id"]), int(row["count"])) for row in result.get("categories", [])],
        daily=[
            DayRow(
                date=str(row["_id"]),
                total=int(row["total"]),
                completed=int(row["completed"]),
                average_duration=_float(row.get("averageDuration")),
            )
            for row in result.get("daily", [])
        ],
        scored=int(scores.get("scored", 0)),
        average_score=_float(scores.get("averageScore")),
        score_buckets={int(row["_id"]): int(row["count"]) for row in result.get("scoreBuckets", [])},
    )
