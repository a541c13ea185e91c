"""Server configuration, read once from the environment at start-up."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the server; see docs/configuration.md for each one."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path(".interview-data"), validation_alias="INTERVIEW_DATA_DIR")
    public_url: str | None = None

    # Storage. When mongodb_url is unset the CLI starts the embedded store.
    mongodb_url: str | None = None
    mongodb_db: str = "interview"
    mongodb_timeout_ms: int = Field(default=2000, ge=100, le=60000)

    # Auth: user tokens come from the hiring platform, session tokens from us.
    auth_jwt_secret: SecretStr | None = None
    auth_jwks_url: str | None = None
    auth_jwt_audience: str | None = None
    auth_jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    session_token_secret: SecretStr | None = None
    session_token_ttl_seconds: int = Field(default=1800, ge=60, le=24 * 3600)

    # HTTP hardening.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024 + 64 * 1024, ge=1024)
    start_session_rate_limit: int = Field(default=3, ge=1)
    start_session_rate_window_seconds: int = Field(default=600, ge=1)

    # Session lifecycle.
    session_abandon_after_seconds: int = Field(default=1800, ge=5)
    abandon_sweep_seconds: int = Field(default=60, ge=1)
    late_upload_grace_seconds: int = Field(default=24 * 3600, ge=0)

    # Realtime channel.
    ws_heartbeat_seconds: float = Field(default=20.0, gt=0)
    ws_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    ws_hello_timeout_seconds: float = Field(default=5.0, gt=0)
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_rate_limit_per_second: float = Field(default=20.0, gt=0)
    ws_rate_limit_burst: int = Field(default=60, ge=1)
    ws_send_queue_size: int = Field(default=256, ge=8)
    token_refresh_before_seconds: int = Field(default=300, ge=10)

    # Media and transcription.
    ice_servers: str = "[]"
    # Local addresses offered as ICE host candidates; empty = every interface.
    media_host_addresses: Annotated[list[str], NoDecode] = Field(default_factory=list)
    transcriber: Literal["whisper", "none"] = "none"
    whisper_model: str | None = None
    transcribe_workers: int = Field(default=2, ge=1, le=32)
    transcribe_threads: int = Field(default=1, ge=1, le=32)  # CTranslate2 threads per worker
    # Silence that ends an utterance: shorter gives faster finals, longer fewer splits.
    speech_end_silence_ms: int = Field(default=400, ge=100, le=5000)
    recordings_dir: Path | None = None

    # Observability.
    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    sentry_environment: str | None = None
    log_level: str = "INFO"

    seed_demo: bool = False

    @field_validator("allowed_origins", "trusted_proxies", "media_host_addresses", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]
