"""MongoDB storage: connection, stored models, repositories and indexes.

Every MongoDB operator and pipeline of the server lives in this package.
"""

from storage.analytics import AnalyticsRows, DayRow, session_analytics_rows
from storage.applications import ApplicationRepository
from storage.database import Database, Repositories
from storage.embedded import EmbeddedMongo, free_port
from storage.errors import StorageError, StorageUnreachable, is_unreachable
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
from storage.sessions import SessionChanges, SessionFilter, SessionRepository

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "AnalyticsRows",
    "ApplicationDoc",
    "ApplicationRepository",
    "CamelModel",
    "Database",
    "DayRow",
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
    "Repositories",
    "ScoreBreakdown",
    "SessionChanges",
    "SessionDoc",
    "SessionFilter",
    "SessionMetadata",
    "SessionRepository",
    "SessionStatus",
    "StorageError",
    "StorageUnreachable",
    "ensure_indexes",
    "free_port",
    "is_unreachable",
    "load_packaged_bank",
    "session_analytics_rows",
]
