"""A demo candidate and application so a fresh `make run` has something to try."""

from __future__ import annotations

from server.sessions import utcnow
from storage.applications import ApplicationRepository
from storage.models import ApplicationDoc, InterviewSettings

DEMO_CANDIDATE_ID = "cand_demo"
DEMO_APPLICATION_ID = "app_demo"


async def seed_demo(applications: ApplicationRepository) -> ApplicationDoc:
    """Create the demo application once; later runs leave it as it is."""
    now = utcnow()
    application = ApplicationDoc(
        id=DEMO_APPLICATION_ID,
        candidate_id=DEMO_CANDIDATE_ID,
        candidate_name="Demo Candidate",
        job_title="Backend Engineer",
        interview=InterviewSettings(question_count=3, difficulty="mid"),
        created_at=now,
        updated_at=now,
    )
    await applications.upsert(application)
    return application
