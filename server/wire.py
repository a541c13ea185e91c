"""HTTP request and response bodies (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from storage.models import (
    CamelModel,
    DeviceType,
    Difficulty,
    InterviewSettings,
    NetworkQuality,
    QuestionCategory,
)

# Ids are plain strings of safe characters: no operator objects, no oversized keys.
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]
Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RequestModel(CamelModel):
    """Request bodies refuse unknown fields (pydantic v2 never turns numbers into strings)."""

    model_config = ConfigDict(extra="forbid")


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


class QuestionOut(CamelModel):
    number: int
    total: int
    id: str
    text: str
    category: QuestionCategory
    difficulty: Difficulty
    time_limit_seconds: int


class StartSessionResponse(CamelModel):
    session_id: str
    token: str
    expires_at: datetime
    resumed: bool
    status: str
    application: ApplicationSummary
    current_question: QuestionOut | None = None


class CreateApplicationRequest(RequestModel):
    id: ResourceId | None = None
    candidate_id: ResourceId
    candidate_name: ShortText
    job_title: ShortText
    interview: InterviewSettings | None = None


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
    live_connections: int | None = Field(default=None, description="Open interview WebSockets in this process.")
    media_sessions: int | None = Field(default=None, description="Open WebRTC media sessions in this process.")
