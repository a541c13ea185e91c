"""MongoDB storage: connection, stored models, repositories and indexes.

Every MongoDB operator and pipeline of the server lives in this package.
"""

from storage.analytics import SCORE_BUCKET_WIDTH, AnalyticsRows, DayRow, session_analytics_rows
from storage.applications import ApplicationRepository
from storage.change_feed import Change, ChangeFeed, ConnectionClaimed, EventStored, SeqsReserved, SessionDeleted
from storage.connections import Claim, ConnectionClaims
from storage.database import Database, Repositories
from storage.durability import Durability
from storage.embedded import EmbeddedMongo, free_port
from storage.errors import RecordingMissing, StorageError, StorageUnreachable, is_unreachable
from storage.events import EventRepository, Rejected
from storage.indexes import ensure_indexes
from storage.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Actor,
    ApplicationDoc,
    CamelModel,
    DeviceType,
    Difficulty,
    DimensionScore,
    EventDoc,
    EventSource,
    InterviewSettings,
    NetworkQuality,
    PointMatch,
    QuestionCategory,
    QuestionDoc,
    QuestionScore,
    QuestionSnapshot,
    RecordingKind,
    RecordingRef,
    RecordingSegment,
    ScoreBreakdown,
    ScoreReason,
    SessionDoc,
    SessionMetadata,
    SessionScores,
    SessionStatus,
    TombstoneDoc,
    TombstoneState,
)
from storage.questions import QuestionRepository, load_packaged_bank
from storage.rate_limits import RateDecision, RateLimiter, RateWindows
from storage.recordings import BUCKET as RECORDINGS_BUCKET
from storage.recordings import FilePart, FileUpload, RecordingFiles, StoredFile
from storage.seq_counter import Reservation, SeqCounter, SeqRange
from storage.sessions import SessionChanges, SessionFilter, SessionRepository
from storage.tombstones import TombstoneRepository

__all__ = [
    "ACTIVE_STATUSES",
    "RECORDINGS_BUCKET",
    "SCORE_BUCKET_WIDTH",
    "TERMINAL_STATUSES",
    "Actor",
    "AnalyticsRows",
    "ApplicationDoc",
    "ApplicationRepository",
    "CamelModel",
    "Change",
    "ChangeFeed",
    "Claim",
    "ConnectionClaimed",
    "ConnectionClaims",
    "Database",
    "DayRow",
    "DeviceType",
    "Difficulty",
    "DimensionScore",
    "Durability",
    "EmbeddedMongo",
    "EventDoc",
    "EventRepository",
    "EventSource",
    "EventStored",
    "FilePart",
    "FileUpload",
    "InterviewSettings",
    "NetworkQuality",
    "PointMatch",
    "QuestionCategory",
    "QuestionDoc",
    "QuestionRepository",
    "QuestionScore",
    "QuestionSnapshot",
    "RateDecision",
    "RateLimiter",
    "RateWindows",
    "RecordingFiles",
    "RecordingKind",
    "RecordingMissing",
    "RecordingRef",
    "RecordingSegment",
    "Rejected",
    "Repositories",
    "Reservation",
    "ScoreBreakdown",
    "ScoreReason",
    "SeqCounter",
    "SeqRange",
    "SeqsReserved",
    "SessionChanges",
    "SessionDeleted",
    "SessionDoc",
    "SessionFilter",
    "SessionMetadata",
    "SessionRepository",
    "SessionScores",
    "SessionStatus",
    "StorageError",
    "StorageUnreachable",
    "StoredFile",
    "TombstoneDoc",
    "TombstoneRepository",
    "TombstoneState",
    "ensure_indexes",
    "free_port",
    "is_unreachable",
    "load_packaged_bank",
    "session_analytics_rows",
]
