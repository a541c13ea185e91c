"""Session tokens: short-lived JWTs that let their holder act on one session, and nothing else.

They carry `typ: "interview"` and are signed with their own secret, so a user token
can never stand in for one (the HTTP edge refuses user tokens with that `typ`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from server.sessions.clock import SYSTEM_CLOCK, Clock
from server.sessions.errors import unauthorized
from server.sessions.principals import SessionPrincipal

SESSION_TOKEN_TYPE = "interview"
SESSION_ALGORITHM = "HS256"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    token_id: str


class SessionTokens:
    """Issues and verifies session tokens."""

    def __init__(
        self, secret: str, *, ttl_seconds: int = 1800, leeway_seconds: int = 30, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._secret = secret
        self.ttl = timedelta(seconds=ttl_seconds)
        self._leeway = leeway_seconds
        self._clock = clock

    def issue(self, *, session_id: str, application_id: str, subject: str) -> IssuedToken:
        now = self._clock.now().replace(microsecond=0)
        expires_at = now + self.ttl
        token_id = uuid.uuid4().hex
        claims = {
            "sid": session_id,
            "app": application_id,
            "sub": subject,
            "typ": SESSION_TOKEN_TYPE,
            "jti": token_id,
            "iat": now,
            "exp": expires_at,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=SESSION_ALGORITHM), expires_at, token_id)

    def issue_for(self, principal: SessionPrincipal) -> IssuedToken:
        """A fresh token for the same session and holder."""
        return self.issue(
            session_id=principal.session_id, application_id=principal.application_id, subject=principal.subject
        )

    def verify(self, token: str) -> SessionPrincipal:
        """The holder of a valid session token; UNAUTHORIZED otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[SESSION_ALGORITHM],
                leeway=self._leeway,
                options={"require": ["sid", "app", "sub", "typ", "jti", "exp", "iat"]},
            )
        except jwt.PyJWTError as error:
            raise unauthorized("Invalid or expired session token") from error
        if claims.get("typ") != SESSION_TOKEN_TYPE:
            raise unauthorized("Not a session token")
        return SessionPrincipal(
            session_id=str(claims["sid"]),
            application_id=str(claims["app"]),
            subject=str(claims["sub"]),
            token_id=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), self._clock.now().tzinfo),
        )
