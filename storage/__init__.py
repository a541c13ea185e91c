"""MongoDB storage: connection, stored models, repositories and indexes."""

from storage.applications import ApplicationRepository
from storage.database import Database
from storage.embedded import EmbeddedMongo, free_port
from storage.events import EventRepository
from storage.indexes import ensure_indexes
from storage.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ApplicationDoc,
    CamelModel,
    DeviceType,
    Difficulty,
    EventDoc,
    EventSource,
    InterviewSettings,
    NetworkQuality,
    QuestionCategory,
    QuestionDoc,
    QuestionSnapshot,
    RecordingRef,
    ScoreBreakdown,
    SessionDoc,
    SessionMetadata,
    SessionStatus,
)
from storage.questions import QuestionRepository, load_packaged_bank
from storage.rate_limits import RateDecision, RateLimiter
from storage.sessions import SessionRepository

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "ApplicationDoc",
    "ApplicationRepository",
    "CamelModel",
    "Database",
    "DeviceType",
    "Difficulty",
    "EmbeddedMongo",
    "EventDoc",
    "EventRepository",
    "EventSource",
    "InterviewSettings",
    "NetworkQuality",
    "QuestionCategory",
    "QuestionDoc",
    "QuestionRepository",
    "QuestionSnapshot",
    "RateDecision",
    "RateLimiter",
    "RecordingRef",
    "ScoreBreakdown",
    "SessionDoc",
    "SessionMetadata",
    "SessionRepository",
    "SessionStatus",
    "ensure_indexes",
    "free_port",
    "load_packaged_bank",
]
