"""Stored documents as pydantic models; field names in MongoDB are camelCase, as on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Base for every wire and storage model: snake_case in Python, camelCase outside."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self, **kwargs: Any) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, **kwargs)

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class SessionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    ERROR = "error"


ACTIVE_STATUSES: tuple[SessionStatus, ...] = (SessionStatus.IN_PROGRESS, SessionStatus.PAUSED)
TERMINAL_STATUSES: tuple[SessionStatus, ...] = (
    SessionStatus.COMPLETED,
    SessionStatus.ABANDONED,
    SessionStatus.ERROR,
)


class QuestionCategory(StrEnum):
    TECHNICAL = "technical"
    BEHAVIORAL = "behavioral"
    SITUATIONAL = "situational"
    CULTURAL = "cultural"


class Difficulty(StrEnum):
    JUNIOR = "junior"
    MID = "mid"
    SENIOR = "senior"


class DeviceType(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"


class NetworkQuality(StrEnum):
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"


class InterviewSettings(CamelModel):
    """How an application's interview is run."""

    question_count: int = Field(default=5, ge=1, le=20)
    categories: list[QuestionCategory] = Field(
        default_factory=lambda: [
            QuestionCategory.TECHNICAL,
            QuestionCategory.BEHAVIORAL,
            QuestionCategory.SITUATIONAL,
            QuestionCategory.CULTURAL,
        ],
        min_length=1,
        max_length=4,
    )
    difficulty: Difficulty = Difficulty.MID
    role: str | None = Field(default=None, max_length=64)
    mode: str = Field(default="voice", pattern="^(voice|video|text)$")
    record: bool = False
    time_limit_seconds: int | None = Field(
        default=None, ge=10, le=3600, description="Every question's time limit; default: each question's own."
    )


class ApplicationDoc(CamelModel):
    id: str = Field(alias="_id")
    candidate_id: str
    candidate_name: str
    job_title: str
    status: str = "open"
    interview: InterviewSettings = Field(default_factory=InterviewSettings)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class QuestionDoc(CamelModel):
    """A question of the bank; `id` is stable so loading the bank is idempotent."""

    id: str = Field(alias="_id")
    text: str
    category: QuestionCategory
    difficulty: Difficulty
    time_limit_seconds: int = Field(ge=10, le=3600)
    expected_answer_points: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class QuestionSnapshot(CamelModel):
    """A question as asked in one session; copied so bank edits never rewrite history."""

    id: str
    number: int
    text: str
    category: QuestionCategory
    difficulty: Difficulty
    time_limit_seconds: int
    expected_answer_points: list[str] = Field(default_factory=list)


class SessionMetadata(CamelModel):
    user_agent: str | None = None
    ip_address: str | None = None
    device_type: DeviceType = DeviceType.DESKTOP
    network_quality: NetworkQuality | None = None


class ScoreBreakdown(CamelModel):
    clarity: float
    correctness: float
    depth: float


class RecordingKind(StrEnum):
    """Where a session's recording lives."""

    FILE = "file"  # a local file of one process (before recordings moved to GridFS)
    UPLOAD = "upload"  # one GridFS file: an offline client's upload, served as it is
    LIVE = "live"  # GridFS segments of raw PCM (16 kHz mono s16le), served as one WAV


class RecordingSegment(CamelModel):
    """One GridFS file of a live recording: a stretch of raw PCM, at most a minute by default."""

    file_id: str
    bytes: int
    started_at: datetime


class RecordingRef(CamelModel):
    """The session's recording; documents written before GridFS have only `path` (kind `file`)."""

    kind: RecordingKind = RecordingKind.FILE
    content_type: str
    bytes: int | None = None
    path: str | None = None  # kind `file`
    file_id: str | None = None  # kind `upload`
    segments: list[RecordingSegment] = Field(default_factory=list)  # kind `live`, in recording order

    def ordered_segments(self) -> list[RecordingSegment]:
        """The live recording's segments in the order they were recorded."""
        return sorted(self.segments, key=lambda s: s.started_at)


class ScoreReason(CamelModel):
    """One human-readable reason behind a score, with the evidence it rests on."""

    text: str
    evidence: list[str] = Field(default_factory=list)


class DimensionScore(CamelModel):
    """One dimension (correctness, clarity or depth) of an answer's score, 0-100, and why."""

    score: float = Field(ge=0, le=100)
    reasons: list[ScoreReason] = Field(default_factory=list)


class PointMatch(CamelModel):
    """How well an answer covers one of the question's expected answer points."""

    point: str
    covered: bool
    similarity: float = Field(description="Combined similarity used for the decision, 0-1")
    lexical: float = Field(description="Share of the point's key terms found in the answer, 0-1")
    cosine: float | None = Field(default=None, description="Embedding cosine with the closest part of the answer")
    matched_terms: list[str] = Field(default_factory=list)
    excerpt: str | None = Field(default=None, description="The part of the answer closest to the point")


class QuestionScore(CamelModel):
    """The scores of one question of a session, each with its explanation."""

    question_id: str
    number: int
    answered: bool
    source: str = Field(description="What was scored: `typed`, `spoken`, `typed+spoken` or `none`")
    words: int
    final_score: float
    correctness: DimensionScore
    clarity: DimensionScore
    depth: DimensionScore
    points: list[PointMatch] = Field(default_factory=list)
    reasons: list[ScoreReason] = Field(default_factory=list, description="How the final score was made")


class SessionScores(CamelModel):
    """A session's scores by question, as computed by one version of the scorer (it assists a human reviewer)."""

    scorer_version: str
    method: str = Field(description="`embedding` (with lexical overlap) or `lexical`")
    model: str | None = None
    scored_at: datetime
    based_on_seq: int = Field(description="The event log's last seq when the answers were read")
    final_score: float
    breakdown: ScoreBreakdown
    questions: list[QuestionScore]
    reasons: list[ScoreReason] = Field(default_factory=list)
    notice: str


class SessionDoc(CamelModel):
    """An interview session (collection `interviewSessions`)."""

    session_id: str
    application_id: str
    candidate_id: str
    client_session_id: str | None = None
    status: SessionStatus
    started_at: datetime
    completed_at: datetime | None = None
    duration: float | None = None
    final_score: float | None = None
    score_breakdown: ScoreBreakdown | None = None
    metadata: SessionMetadata = Field(default_factory=SessionMetadata)
    questions: list[QuestionSnapshot] = Field(default_factory=list)
    current_question_number: int = 1
    asked_question_number: int = 0
    # Questions with a recorded answer (`answer.recorded`): each is answered at most once.
    answered_question_ids: list[str] = Field(default_factory=list)
    question_asked_at: datetime | None = None
    question_elapsed_seconds: float = 0.0
    last_seq: int = 0  # the highest seq stored
    seq_reserved: int = 0  # the highest seq reserved by any writer (see storage/seq_counter.py)
    active_since: datetime | None = None
    active_seconds: float = 0.0
    last_activity_at: datetime | None = None
    connected_until: datetime | None = None
    recording: RecordingRef | None = None
    scores: SessionScores | None = None
    version: int = 0
    created_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def current_question(self) -> QuestionSnapshot | None:
        index = self.current_question_number - 1
        return self.questions[index] if 0 <= index < len(self.questions) else None

    def reached_question(self, question_id: str | None) -> QuestionSnapshot | None:
        """The question with this id if the flow has reached it (the current one or an earlier one)."""
        for question in self.questions[: self.current_question_number]:
            if question.id == question_id:
                return question
        return None

    def question_remaining_seconds(self, now: datetime) -> float | None:
        """Time left for the current question; None when no question is running."""
        question = self.current_question()
        if question is None or self.asked_question_number != self.current_question_number:
            return None
        elapsed = self.question_elapsed_seconds
        if self.status == SessionStatus.IN_PROGRESS and self.question_asked_at is not None:
            elapsed += (now - self.question_asked_at).total_seconds()
        return max(0.0, question.time_limit_seconds - elapsed)


class EventSource(StrEnum):
    SERVER = "server"
    CLIENT = "client"


class EventDoc(CamelModel):
    """One entry of a session's event log (collection `sessionEvents`)."""

    session_id: str
    seq: int
    type: str
    ts: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    source: EventSource
    client_event_id: str | None = None
    received_at: datetime | None = None
    # Set (to the session id) on a client command until it has been applied or refused, so a
    # command stored just before a crash is applied on the session's next ingest or connection.
    apply_pending: str | None = None


class TombstoneState(StrEnum):
    DELETING = "deleting"
    DELETED = "deleted"


class Actor(CamelModel):
    """Who asked for a deletion: a user's role and subject, or `system` (retention)."""

    role: str
    subject: str


class TombstoneDoc(CamelModel):
    """A deleted session (collection `sessionTombstones`): written before anything is deleted, kept after."""

    session_id: str
    application_id: str | None = None
    candidate_id: str | None = None
    deleted_at: datetime
    actor: Actor
    reason: str = "request"  # `request` (DELETE) or `retention`
    local_recording: str | None = None  # a recording from before GridFS: the file to remove, on the process that has it
    state: TombstoneState = TombstoneState.DELETING
    finished_at: datetime | None = None
