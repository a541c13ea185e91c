"""A demo candidate and application so a fresh `scripts/run` has something to try."""

from __future__ import annotations

from datetime import datetime

from storage import ApplicationDoc, Difficulty, InterviewSettings

DEMO_CANDIDATE_ID = "cand_demo"
DEMO_APPLICATION_ID = "app_demo"


def demo_application(now: datetime) -> ApplicationDoc:
    """The demo application; the service creates it once and later runs leave it as it is."""
    return ApplicationDoc(
        id=DEMO_APPLICATION_ID,
        candidate_id=DEMO_CANDIDATE_ID,
        candidate_name="Demo Candidate",
        job_title="Backend Engineer",
        interview=InterviewSettings(question_count=3, difficulty=Difficulty.MID),
        created_at=now,
        updated_at=now,
    )
