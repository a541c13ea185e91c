"""Settings: ICE servers parsed once (and converted for aiortc), list settings, secrets kept out of errors."""

from __future__ import annotations

import json

import pytest
from aiortc import RTCIceServer

from realtime.media import rtc_ice_servers
from server.config import IceServer, Settings


def test_ice_servers_parse_and_convert() -> None:
    settings = Settings(
        ice_servers=json.dumps(
            [
                {"urls": "stun:stun.example.org:3478"},
                {"urls": ["turn:turn.example.org:3478?transport=udp"], "username": "u", "credential": "secret"},
            ]
        )
    )
    servers = settings.ice_servers
    assert [s.to_browser() for s in servers] == [
        {"urls": "stun:stun.example.org:3478"},
        {"urls": ["turn:turn.example.org:3478?transport=udp"], "username": "u", "credential": "secret"},
    ]
    assert rtc_ice_servers(servers)[1] == RTCIceServer(
        urls=["turn:turn.example.org:3478?transport=udp"], username="u", credential="secret"
    )
    assert "secret" not in repr(servers[1])
    assert Settings(ice_servers="").ice_servers == []
    assert Settings(ice_servers='{"urls": "stun:a.example"}').ice_servers == [IceServer(urls="stun:a.example")]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '[{"urls": []}]',
        '[{"urls": "http://example.org"}]',
        '[{"urls": "turn:t.example", "credential": "hunter2"}]',
        '[{"urls": "stun:s.example", "extra": 1}]',
    ],
)
def test_ice_servers_rejects_bad_config_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        Settings(ice_servers=text)
    assert "hunter2" not in str(raised.value)


def test_ice_servers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICE_SERVERS", '[{"urls": ["stun:env.example:3478"]}]')
    assert Settings().ice_servers == [IceServer(urls=["stun:env.example:3478"])]


def test_list_settings_take_commas_or_json() -> None:
    assert Settings(allowed_origins="https://a.example, https://b.example").allowed_origins == [
        "https://a.example",
        "https://b.example",
    ]
    assert Settings(trusted_proxies='["10.0.0.0/8"]').trusted_proxies == ["10.0.0.0/8"]
