"""docs/protocol.md and docs/protocol.schema.json are generated from the protocol models, and current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from realtime.channel import ChannelConfig
from realtime.channel.protocol_doc import all_models, render, render_schema
from server.config import Settings
from tests.support import ROOT

DOCS = Path(ROOT) / "docs"
REGENERATE = "python -m realtime.channel.protocol_doc --write"


def test_protocol_doc_is_generated_from_the_models() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "realtime.channel.protocol_doc"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    committed = (DOCS / "protocol.md").read_text()
    assert committed == generated == render(), f"docs/protocol.md is stale: {REGENERATE}"
    for type_ in ("hello", "answer.submit", "session.complete", "welcome", "question", "token.refresh", "ack"):
        assert f"### `{type_}`" in committed


def test_schema_file_holds_every_message_model() -> None:
    committed = (DOCS / "protocol.schema.json").read_text()
    assert committed == render_schema(), f"docs/protocol.schema.json is stale: {REGENERATE}"
    definitions = json.loads(committed)["$defs"]
    assert {model.__name__ for model in all_models()} <= set(definitions)
    assert "protocol.schema.json" in (DOCS / "protocol.md").read_text()


def test_the_documented_defaults_are_the_settings_defaults() -> None:
    """The doc is rendered from the channel's own defaults; they must be the server's."""
    settings, channel = Settings(), ChannelConfig()
    assert (
        settings.ws_heartbeat_seconds,
        settings.ws_idle_timeout_seconds,
        settings.ws_hello_timeout_seconds,
        settings.ws_max_message_bytes,
        settings.ws_rate_limit_per_second,
        settings.ws_rate_limit_burst,
        settings.ws_send_queue_size,
        settings.token_refresh_before_seconds,
        settings.ws_prehello_per_ip,
        settings.ws_prehello_total,
        settings.ws_sessions_per_user,
    ) == (
        channel.heartbeat_seconds,
        channel.idle_timeout_seconds,
        channel.hello_timeout_seconds,
        channel.max_message_bytes,
        channel.rate_per_second,
        channel.rate_burst,
        channel.send_queue_size,
        channel.token_refresh_before_seconds,
        channel.prehello_per_ip,
        channel.prehello_total,
        channel.sessions_per_user,
    )
