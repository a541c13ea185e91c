"""Logging set-up: one line per record, with the session id when there is one."""

from __future__ import annotations

import logging
import re

# The `sig` of a recording link (server/http/routes/recording_links.py) is a credential for minutes.
_SIGNATURE = re.compile(r"(^|[?&])sig=[^&\s\"]+")


def redact_signatures(text: str) -> str:
    """`text` with every `sig=` query value replaced by `[redacted]`."""
    return _SIGNATURE.sub(r"\1sig=[redacted]", text)


class _RedactSignatures(logging.Filter):
    """uvicorn's access log prints the path with its query string: never the signature of a link."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_signatures(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_signatures(record.msg)
        return True


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
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactSignatures) for f in access.filters):
        access.addFilter(_RedactSignatures())
