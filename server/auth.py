"""User tokens (from the hiring platform) and session tokens (ours), both JWTs.

The two never substitute for each other: session tokens carry `typ: "interview"`
and are signed with their own secret; user tokens carrying that `typ` are refused.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from server.config import Settings
from server.errors import unauthorized
from server.principals import Role, SessionPrincipal, UserPrincipal

SESSION_TOKEN_TYPE = "interview"
SESSION_ALGORITHM = "HS256"
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    token_id: str


class Authenticator:
    """Verifies user tokens and issues/verifies session tokens."""

    def __init__(
        self,
        *,
        user_secret: str | None,
        session_secret: str,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
        session_ttl_seconds: int = 1800,
    ) -> None:
        if not user_secret and not jwks_url:
            raise ValueError("either a user token secret or a JWKS URL is required")
        self._user_secret = user_secret
        self._session_secret = session_secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds
        self.session_ttl = timedelta(seconds=session_ttl_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The authenticator for resolved settings (secrets already filled in)."""
        if settings.session_token_secret is None:
            raise ValueError("secrets must be resolved before building the authenticator")
        return cls(
            user_secret=settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None,
            session_secret=settings.session_token_secret.get_secret_value(),
            jwks_url=settings.auth_jwks_url,
            audience=settings.auth_jwt_audience,
            issuer=settings.auth_jwt_issuer,
            leeway_seconds=settings.jwt_leeway_seconds,
            session_ttl_seconds=settings.session_token_ttl_seconds,
        )

    # ----- user tokens --------------------------------------------------------

    async def verify_user_token(self, token: str) -> UserPrincipal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP: keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: object = signing_key.key
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                key, algorithms = self._user_secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except (jwt.PyJWTError, ValueError) as error:
            raise unauthorized("Invalid or expired user token") from error
        if claims.get("typ") == SESSION_TOKEN_TYPE:
            raise unauthorized("A session token cannot be used here")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise unauthorized("Invalid token subject")
        try:
            role = Role(claims.get("role", Role.CANDIDATE.value))
        except ValueError as error:
            raise unauthorized("Unknown role in token") from error
        return UserPrincipal(subject=subject, role=role)

    def issue_user_token(self, subject: str, role: Role = Role.CANDIDATE, ttl: timedelta = timedelta(days=7)) -> str:
        """A user token signed with the HS256 secret (for local use, demos and tests)."""
        if not self._user_secret:
            raise ValueError("user tokens can only be issued with AUTH_JWT_SECRET")
        now = datetime.now(UTC)
        claims = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self._user_secret, algorithm="HS256")

    # ----- session tokens -----------------------------------------------------

    def issue_session_token(self, *, session_id: str, application_id: str, subject: str) -> IssuedToken:
        now = datetime.now(UTC).replace(microsecond=0)
        expires_at = now + self.session_ttl
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
        return IssuedToken(jwt.encode(claims, self._session_secret, algorithm=SESSION_ALGORITHM), expires_at, token_id)

    def verify_session_token(self, token: str) -> SessionPrincipal:
        try:
            claims = jwt.decode(
                token,
                self._session_secret,
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
        )

    async def verify_any(self, token: str) -> UserPrincipal | SessionPrincipal:
        """For endpoints that take either kind: a session token is tried first."""
        try:
            return self.verify_session_token(token)
        except Exception:
            return await self.verify_user_token(token)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    if not authorization:
        raise unauthorized()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise unauthorized()
    return token
