"""Recruiter analytics over interview sessions: the report the store's one aggregation is shaped into."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from storage import SCORE_BUCKET_WIDTH, AnalyticsRows, CamelModel, SessionStatus


class CategoryCount(CamelModel):
    category: str
    count: int


class DailyPoint(CamelModel):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    total: int
    completed: int
    average_duration_seconds: float | None = None


class ScoreBucket(CamelModel):
    """Scored sessions with `from <= finalScore < to` (the last bucket includes 100)."""

    from_: int = Field(alias="from")
    to: int
    count: int


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
    scored_sessions: int = Field(default=0, description="Sessions with a final score")
    average_score: float | None = Field(default=None, description="Mean final score of the scored sessions")
    score_distribution: list[ScoreBucket] = Field(
        default_factory=list, description="Scored sessions by final score, every bucket listed (zero when empty)"
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def analytics_report(rows: AnalyticsRows, start: datetime, end: datetime) -> AnalyticsReport:
    # Every status is listed, zero when absent, so clients need no defaults.
    by_status = {status.value: 0 for status in SessionStatus}
    by_status.update(rows.by_status)
    return AnalyticsReport(
        from_=start,
        to=end,
        total_sessions=rows.total,
        completed_sessions=rows.completed,
        completion_rate=rows.completion_rate,
        average_duration_seconds=_rounded(rows.average_duration),
        sessions_by_status=by_status,
        question_categories=[CategoryCount(category=c, count=n) for c, n in rows.categories],
        daily=[
            DailyPoint(
                date=day.date,
                total=day.total,
                completed=day.completed,
                average_duration_seconds=_rounded(day.average_duration),
            )
            for day in rows.daily
        ],
        scored_sessions=rows.scored,
        average_score=_rounded(rows.average_score),
        score_distribution=[
            ScoreBucket(from_=low, to=low + SCORE_BUCKET_WIDTH, count=rows.score_buckets.get(low, 0))
            for low in range(0, 100, SCORE_BUCKET_WIDTH)
        ],
    )
