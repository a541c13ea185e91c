"""Recording links: short-lived signed tokens that let a browser fetch one session's recording.

An `<audio>` element cannot send an Authorization header, and a user token must never
ride in a URL (access logs, browser history). So a reader who may read the session asks
for a link: a JWT (HS256) naming that session only, valid for LINK_TTL_SECONDS, with its
own `typ` and signed with a key derived from the session token secret, so it is neither
a session token nor a user token and cannot stand in for either (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from server.sessions.clock import SYSTEM_CLOCK, Clock
from server.sessions.errors import unauthorized

LINK_TOKEN_TYPE = "recording-link"
LINK_ALGORITHM = "HS256"
LINK_TTL_SECONDS = 300
# Separates this key from the session tokens' (same secret, different purpose).
_KEY_LABEL = b"interview recording link v1"


@dataclass(frozen=True)
class RecordingLink:
    token: str
    expires_at: datetime


class RecordingLinks:
    """Issues and verifies recording-link tokens."""

    def __init__(self, secret: str, *, ttl_seconds: int = LINK_TTL_SECONDS, clock: Clock = SYSTEM_CLOCK) -> None:
        self._key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).hexdigest()
        self.ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock

    def issue(self, session_id: str) -> RecordingLink:
        now = self._clock.now().replace(microsecond=0)
        expires_at = now + self.ttl
        claims = {"sid": session_id, "typ": LINK_TOKEN_TYPE, "iat": now, "exp": expires_at}
        return RecordingLink(jwt.encode(claims, self._key, algorithm=LINK_ALGORITHM), expires_at)

    def verify(self, token: str, session_id: str) -> None:
        """UNAUTHORIZED unless `token` is a valid, unexpired link to `session_id`'s recording."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[LINK_ALGORITHM],
                options={"require": ["sid", "typ", "exp", "iat"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise unauthorized("Invalid recording link") from error
        # Expiry against the injected clock (not PyJWT's), with no leeway: the link is minutes long.
        if claims.get("typ") != LINK_TOKEN_TYPE or claims.get("sid") != session_id:
            raise unauthorized("Invalid recording link")
        if not isinstance(claims.get("exp"), int) or self._clock.now().timestamp() >= claims["exp"]:
            raise unauthorized("This recording link has expired")
