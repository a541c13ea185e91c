"""Building blocks every edge's wire models share: safe ids and strict request models."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, StringConstraints

from storage import CamelModel

# Ids are plain strings of safe characters: no operator objects, no oversized keys.
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]
Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
# Ids compare as text in the store, so one UUID has one spelling.
CanonicalUuid = Annotated[Uuid, AfterValidator(str.lower)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestModel(CamelModel):
    """Incoming bodies and messages refuse unknown fields (pydantic v2 never turns numbers into strings)."""

    model_config = ConfigDict(extra="forbid")


def canonical_origin(text: str) -> str | None:
    """`text` as a browser's Origin header spells it (`scheme://host[:port]`, lower case, no default port).

    None when it is not an http(s) origin; a path, query or user name makes it none either.
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def url_origin(url: str) -> str | None:
    """The canonical origin of a URL (its path, query and fragment dropped); None if it is not http(s)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return canonical_origin(f"{parts.scheme}://{parts.netloc}")


def browser_origins(allowed: tuple[str, ...] | list[str], public_url: str | None) -> frozenset[str]:
    """ALLOWED_ORIGINS and PUBLIC_URL's origin, canonical: where a browser page may call from."""
    found = [canonical_origin(origin) for origin in allowed] + [url_origin(public_url) if public_url else None]
    return frozenset(origin for origin in found if origin is not None)
