"""Who is calling: a user (candidate, recruiter, admin) or one session's own token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    CANDIDATE = "candidate"
    RECRUITER = "recruiter"
    ADMIN = "admin"


@dataclass(frozen=True)
class UserPrincipal:
    subject: str
    role: Role = Role.CANDIDATE

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.RECRUITER, Role.ADMIN)


@dataclass(frozen=True)
class SessionPrincipal:
    """Holder of a session token: may act on that one session only."""

    session_id: str
    application_id: str
    subject: str
    token_id: str
    expires_at: datetime | None = None


Principal = UserPrincipal | SessionPrincipal
