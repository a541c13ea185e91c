"""The object graph of one app, built once from settings: the store, the core, the edges' dependencies."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from realtime.channel import Channel, ChannelConfig, ChannelContext
from realtime.media import rtc_ice_servers
from realtime.speech import SpeechCache, create_speech_engine
from realtime.transcription import create_transcriber
from realtime.webrtc import MediaRuntime, signalling_factory
from server.config import Settings
from server.http import HttpDeps
from server.http.auth import Authenticator, UserTokens
from server.http.request import client_address
from server.sessions import (
    SYSTEM_CLOCK,
    Clock,
    RecordingLinks,
    ServiceConfig,
    SessionService,
    SessionTokens,
    StartLimit,
)
from server.sessions.scoring import ScoringConfig
from server.telemetry import SentryObserver
from storage import (
    Change,
    ChangeFeed,
    ConnectionClaimed,
    Database,
    Durability,
    EventStored,
    QuestionDoc,
    SeqsReserved,
    SessionDeleted,
)

# The score sweep looks this much further back than the late-upload grace (a day of servers down).
SCORE_SWEEP_MARGIN = timedelta(days=1)


def user_tokens(settings: Settings) -> UserTokens:
    return UserTokens(
        secret=settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None,
        jwks_url=settings.auth_jwks_url,
        audience=settings.auth_jwt_audience,
        issuer=settings.auth_jwt_issuer,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def session_tokens(settings: Settings, clock: Clock) -> SessionTokens:
    if settings.session_token_secret is None:
        raise ValueError("secrets must be resolved before building the app")
    return SessionTokens(
        settings.session_token_secret.get_secret_value(),
        ttl_seconds=settings.session_token_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
        clock=clock,
    )


def recording_links(settings: Settings, clock: Clock) -> RecordingLinks:
    if settings.session_token_secret is None:
        raise ValueError("secrets must be resolved before building the app")
    return RecordingLinks(settings.session_token_secret.get_secret_value(), clock=clock)


def media_runtime(settings: Settings) -> MediaRuntime:
    engine = create_speech_engine(settings.voice, settings.piper_model)
    return MediaRuntime(
        transcriber=create_transcriber(
            settings.transcriber, settings.whisper_model, settings.transcribe_workers, settings.transcribe_threads
        ),
        ice_servers=rtc_ice_servers(settings.ice_servers),
        voice=SpeechCache(engine, settings.speech_cache_path / engine.voice.replace(":", "-")) if engine else None,
        speech_end_silence_ms=settings.speech_end_silence_ms,
        recording_segment_seconds=settings.recording_segment_seconds,
        host_addresses=list(settings.media_host_addresses),
    )


def channel_config(settings: Settings, media: MediaRuntime) -> ChannelConfig:
    return ChannelConfig(
        heartbeat_seconds=settings.ws_heartbeat_seconds,
        idle_timeout_seconds=settings.ws_idle_timeout_seconds,
        hello_timeout_seconds=settings.ws_hello_timeout_seconds,
        max_message_bytes=settings.ws_max_message_bytes,
        rate_per_second=settings.ws_rate_limit_per_second,
        rate_burst=settings.ws_rate_limit_burst,
        prehello_per_ip=settings.ws_prehello_per_ip,
        prehello_total=settings.ws_prehello_total,
        sessions_per_user=settings.ws_sessions_per_user,
        send_queue_size=settings.ws_send_queue_size,
        token_refresh_before_seconds=settings.token_refresh_before_seconds,
        ice_servers=[server.to_browser() for server in settings.ice_servers],
        allowed_origins=tuple(settings.allowed_origins),
        public_url=settings.public_url,
        transcription=media.transcribes,
        voice=media.voice_name,
    )


@dataclass
class Assembly:
    settings: Settings
    database: Database
    service: SessionService
    channel: Channel
    media: MediaRuntime
    http: HttpDeps
    bank: list[QuestionDoc] | None = None  # the packaged question bank, once read

    @classmethod
    def build(cls, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Assembly:
        if settings.mongodb_url is None:
            raise ValueError("MONGODB_URL must be resolved before building the app")
        durability: Durability = "acknowledged" if settings.store_durability == "acknowledged" else "majority"
        database = Database(settings.mongodb_url, settings.mongodb_db, settings.mongodb_timeout_ms, durability)
        service = SessionService(
            database.repositories(),
            clock=clock,
            config=ServiceConfig(
                abandon_after_seconds=settings.session_abandon_after_seconds,
                late_upload_grace_seconds=settings.late_upload_grace_seconds,
                start_limit=StartLimit(settings.start_session_rate_limit, settings.start_session_rate_window_seconds),
                retention_days=settings.retention_days,
                scoring=ScoringConfig(
                    method=settings.scorer,
                    threads=settings.scoring_threads,
                    background=True,
                    sweep_seconds=settings.score_sweep_seconds,
                    sweep_horizon=timedelta(seconds=settings.late_upload_grace_seconds) + SCORE_SWEEP_MARGIN,
                ),
            ),
            observer=SentryObserver(),
        )
        tokens = session_tokens(settings, clock)
        media = media_runtime(settings)
        channel = Channel(
            ChannelContext(
                config=channel_config(settings, media),
                service=service,
                tokens=tokens,
                clock=clock,
                signalling=signalling_factory(service, media),
                client_address=functools.partial(client_address, trusted_proxies=settings.trusted_proxy_networks()),
            )
        )
        http = HttpDeps(
            settings=settings,
            service=service,
            auth=Authenticator(user_tokens(settings), tokens),
            trusted_proxies=settings.trusted_proxy_networks(),
            recording_links=recording_links(settings, clock),
            ping_store=database.ping,
            live_status=lambda: {
                "liveConnections": channel.live_connections,
                "mediaSessions": len(media.sessions),
                "transcriber": "whisper" if media.transcribes else "none",
                "voice": media.voice_name,
                "storeDurability": database.durability,
                "storeCommands": {"total": database.commands.total, **database.commands.by_name},
                "storeMillis": database.commands.millis_by_name,
                "groupCommit": dict(service.write_stats),
            },
        )
        return cls(settings, database, service, channel, media, http)

    def change_feed(self) -> ChangeFeed:
        """What other processes stored, for the live connections of this one."""
        return self.database.change_feed(self._on_change, self.service.connections.holds)

    def _on_change(self, change: Change) -> None:
        if isinstance(change, EventStored):
            self.service.connections.stored_elsewhere(change.event)
        elif isinstance(change, ConnectionClaimed):
            self.channel.claimed_elsewhere(change.session_id, change.connection_id, change.epoch)
        elif isinstance(change, SeqsReserved):
            self.service.connections.reserved_elsewhere(change.session_id, change.pending)
        elif isinstance(change, SessionDeleted):
            self.channel.session_deleted(change.session_id)
