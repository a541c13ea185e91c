"""User tokens: JWTs from the hiring platform (HS256 secret or a JWKS), verified at the HTTP edge.

Session tokens are the core's (server/sessions/tokens.py); a user token carrying
the session token `typ` is refused, so the two never substitute for each other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt

from server.sessions import Role, SessionPrincipal, SessionTokens, UserPrincipal, unauthorized
from server.sessions.tokens import SESSION_TOKEN_TYPE

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
MAX_TOKEN_CHARS = 8192


class UserTokens:
    """Verifies user tokens (and issues HS256 ones for local use, demos and tests)."""

    def __init__(
        self,
        *,
        secret: str | None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("either a user token secret or a JWKS URL is required")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    async def verify(self, token: str) -> UserPrincipal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP: keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: object = signing_key.key
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as error:
            raise unauthorized("The user token has expired", "expired") from error
        except (jwt.PyJWTError, ValueError) as error:
            raise unauthorized("Invalid user token", "invalid") from error
        if claims.get("typ") == SESSION_TOKEN_TYPE:
            raise unauthorized("A session token cannot be used here", "invalid")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise unauthorized("Invalid token subject", "invalid")
        try:
            role = Role(claims.get("role", Role.CANDIDATE.value))
        except ValueError as error:
            raise unauthorized("Unknown role in token", "invalid") from error
        return UserPrincipal(subject=subject, role=role)

    def issue(self, subject: str, role: Role = Role.CANDIDATE, ttl: timedelta = timedelta(days=7)) -> str:
        """A user token signed with the HS256 secret."""
        if not self._secret:
            raise ValueError("user tokens can only be issued with AUTH_JWT_SECRET")
        now = datetime.now(UTC)
        claims = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self._secret, algorithm="HS256")


class Authenticator:
    """Both kinds of bearer token the HTTP API accepts."""

    def __init__(self, users: UserTokens, sessions: SessionTokens) -> None:
        self.users = users
        self.sessions = sessions

    async def verify_any(self, token: str) -> UserPrincipal | SessionPrincipal:
        """For endpoints that take either kind: a session token is tried first."""
        try:
            return self.sessions.verify(token)
        except Exception:
            return await self.users.verify(token)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    if not authorization:
        raise unauthorized()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    return token
