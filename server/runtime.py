"""Turning settings into a running configuration: secrets and the embedded store."""

from __future__ import annotations

import atexit
import logging

from server.config import Settings
from server.secret_store import resolve_secrets
from storage.durability import detect
from storage.embedded import EmbeddedMongo

logger = logging.getLogger(__name__)

STORE_RECORD = "secantusd.pid"


def prepare_settings(settings: Settings) -> tuple[Settings, EmbeddedMongo | None]:
    """Resolve secrets, start the embedded store when MONGODB_URL is unset, resolve `auto` durability.

    The caller owns the returned store and stops it (the app's lifespan does, see
    `create_app(store=...)`); an atexit hook and the child's parent-death signal are the
    fallbacks. A store an earlier run left on the same files is waited for, or stopped,
    first (its PID is recorded in `<data-dir>/secantusd.pid`).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = resolve_secrets(settings)
    store = None
    if not settings.mongodb_url:
        store = EmbeddedMongo(settings.data_dir / "db", record=settings.data_dir / STORE_RECORD)
        store.start(log_path=settings.data_dir / "secantusd.log")
        atexit.register(store.stop)
        settings = settings.model_copy(update={"mongodb_url": store.url})
    if settings.store_durability == "auto" and settings.mongodb_url:
        durability = detect(settings.mongodb_url, settings.mongodb_timeout_ms)
        logger.info("acks wait for: %s", durability)
        settings = settings.model_copy(update={"store_durability": durability})
    return settings, store
