"""Logging set-up: one line per record, with the session id when there is one."""

from __future__ import annotations

import logging


class _SessionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "session_id"):
            record.session_id = "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_SessionFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [session=%(session_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
