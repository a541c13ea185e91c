"""Development secrets: generated once and kept in the data dir so restarts keep tokens valid."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from server.config import Settings

logger = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"


def _load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        return dict(json.loads(path.read_text("utf-8")))
    values = {"authJwtSecret": secrets.token_urlsafe(48), "sessionTokenSecret": secrets.token_urlsafe(48)}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    logger.warning("generated development secrets in %s", path)
    return values


def resolve_secrets(settings: Settings) -> Settings:
    """Fill unset secrets; in production refuse to start without explicit ones.

    Runs once at start-up (before the event loop serves requests), so the small
    file read here does not block anyone.
    """
    needs_user_secret = settings.auth_jwt_secret is None and settings.auth_jwks_url is None
    needs_session_secret = settings.session_token_secret is None
    if not (needs_user_secret or needs_session_secret):
        return settings
    if settings.env == "production":
        raise RuntimeError("ENV=production requires SESSION_TOKEN_SECRET and AUTH_JWT_SECRET (or AUTH_JWKS_URL)")
    stored = _load_or_create(settings.data_dir / SECRETS_FILE)
    updates: dict[str, SecretStr] = {}
    if needs_user_secret:
        updates["auth_jwt_secret"] = SecretStr(stored["authJwtSecret"])
    if needs_session_secret:
        updates["session_token_secret"] = SecretStr(stored["sessionTokenSecret"])
    return settings.model_copy(update=updates)
