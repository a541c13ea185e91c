"""HTTP request and response bodies (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StringConstraints

from server.sessions import QuestionView
from server.sessions.wire_types import RequestModel, ResourceId, ShortText, Uuid
from storage import CamelModel, DeviceType, InterviewSettings, NetworkQuality


class ErrorBody(CamelModel):
    error: str
    code: str
    details: Any = None


class ClientMetadata(RequestModel):
    device_type: DeviceType | None = None
    network_quality: NetworkQuality | None = None
    user_agent: Annotated[str, StringConstraints(max_length=512)] | None = None


class StartSessionRequest(RequestModel):
    application_id: ResourceId
    client_session_id: Uuid | None = None
    metadata: ClientMetadata | None = None


class ApplicationSummary(CamelModel):
    id: str
    job_title: str
    candidate_name: str


class QuestionOut(QuestionView):
    """The question being asked."""


class StartSessionResponse(CamelModel):
    session_id: str
    token: str
    expires_at: datetime
    resumed: bool
    status: str
    application: ApplicationSummary
    current_question: QuestionOut | None = None


class InterviewSettingsIn(InterviewSettings):
    """An application's interview settings as a request gives them: unknown fields refused, booleans strict."""

    model_config = ConfigDict(extra="forbid")

    record: StrictBool = False


class CreateApplicationRequest(RequestModel):
    id: ResourceId | None = None
    candidate_id: ResourceId
    candidate_name: ShortText
    job_title: ShortText
    interview: InterviewSettingsIn | None = None


class ApplicationOut(CamelModel):
    id: str
    candidate_id: str
    candidate_name: str
    job_title: str
    status: str
    interview: InterviewSettings
    created_at: datetime | None = None


class HealthOut(CamelModel):
    status: str = Field(examples=["ok"])
    pid: int | None = Field(default=None, description="The process that answered (one of `--workers N`).")
    live_connections: int | None = Field(default=None, description="Open interview WebSockets in this process.")
    media_sessions: int | None = Field(default=None, description="Open WebRTC media sessions in this process.")
    transcriber: str | None = Field(default=None, description="`whisper` or `none`: is speech transcribed here?")
    voice: str | None = Field(default=None, description="The interviewer's voice, or null (the page speaks).")
    store_durability: str | None = Field(default=None, description="What an ack waits for: majority or acknowledged.")
    store_commands: dict[str, int] | None = Field(
        default=None, description="Store round trips this process has made: `total`, and by command name."
    )
    group_commit: dict[str, int] | None = Field(
        default=None, description="This process's group writer: batches, events and their store round trips."
    )


class OfflinePackQuery(RequestModel):
    application_id: ResourceId


class OfflinePackInterview(CamelModel):
    mode: str
    record: bool
    question_count: int


class OfflinePackResponse(CamelModel):
    application: ApplicationSummary
    application_status: str
    interview: OfflinePackInterview
    questions: list[QuestionOut]
    generated_at: datetime
