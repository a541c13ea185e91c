"""Everything a request handler needs, built once per app by `create_app`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from server.auth import Authenticator
from server.config import Settings
from server.sessions import EventLog, SessionHub, SessionService
from storage import (
    ApplicationRepository,
    Database,
    EventRepository,
    QuestionRepository,
    RateLimiter,
    SessionRepository,
)


@dataclass
class AppContext:
    settings: Settings
    database: Database
    auth: Authenticator
    applications: ApplicationRepository
    sessions: SessionRepository
    events: EventRepository
    questions: QuestionRepository
    rate_limiter: RateLimiter
    hub: SessionHub
    service: SessionService
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    storage_ready: bool = False

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        if settings.mongodb_url is None:
            raise ValueError("MONGODB_URL must be resolved before building the app")
        database = Database(settings.mongodb_url, settings.mongodb_db, settings.mongodb_timeout_ms)
        c = database.collections
        applications = ApplicationRepository(c.applications)
        sessions = SessionRepository(c.sessions)
        events = EventRepository(c.events)
        questions = QuestionRepository(c.questions)
        hub = SessionHub()
        service = SessionService(
            applications=applications,
            sessions=sessions,
            questions=questions,
            event_log=EventLog(sessions, events, hub),
            abandon_after_seconds=settings.session_abandon_after_seconds,
            late_upload_grace_seconds=settings.late_upload_grace_seconds,
        )
        auth = Authenticator.from_settings(settings)
        return cls(
            settings=settings,
            database=database,
            auth=auth,
            applications=applications,
            sessions=sessions,
            events=events,
            questions=questions,
            rate_limiter=RateLimiter(c.rate_limits),
            hub=hub,
            service=service,
            trusted_proxies=settings.trusted_proxy_networks(),
        )
