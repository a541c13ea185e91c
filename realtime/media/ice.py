"""ICE server configuration: one model for aiortc and for the browser."""

from __future__ import annotations

from typing import Any

import pydantic
from aiortc import RTCIceServer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["IceServerConfig", "parse_ice_servers"]

_SCHEMES = ("stun", "stuns", "turn", "turns")


class IceServerConfig(BaseModel):
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
            if ":" not in url or scheme not in _SCHEMES:
                raise ValueError(f"URL must start with one of {', '.join(_SCHEMES)}: {url!r}")
        return value

    @model_validator(mode="after")
    def _check_turn_credentials(self) -> IceServerConfig:
        is_turn = any(url.lower().startswith("turn") for url in self.url_list())
        if is_turn and (self.username is None or self.credential is None):
            raise ValueError("a TURN server needs a username and a credential")
        return self

    def url_list(self) -> list[str]:
        """The URLs as a list, whichever shape they were given in."""
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)

    def to_aiortc(self) -> RTCIceServer:
        """Convert to aiortc's :class:`~aiortc.RTCIceServer`."""
        return RTCIceServer(urls=self.url_list(), username=self.username, credential=self.credential)

    def to_browser(self) -> dict[str, Any]:
        """Serialise to the browser's ``RTCIceServer`` JSON shape (unset fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)


_ICE_SERVER_LIST = pydantic.TypeAdapter(list[IceServerConfig])


def parse_ice_servers(json_text: str) -> list[IceServerConfig]:
    """Parse the ``ICE_SERVERS`` setting: a JSON array of ``RTCIceServer`` objects.

    A single object is accepted as a one-element list, and an empty or blank
    string means no ICE servers.

    :raises ValueError: if the text is not JSON of that shape; the message never
        repeats the input, so credentials stay out of logs.
    """
    if not json_text.strip():
        return []
    text = json_text.strip()
    if text.startswith("{"):
        text = f"[{text}]"
    try:
        return _ICE_SERVER_LIST.validate_json(text)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ValueError(f"invalid ICE_SERVERS: {problems}") from None
