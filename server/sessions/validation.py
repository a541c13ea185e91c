"""Turning a pydantic ValidationError into the documented `details` list: one helper for every edge."""

from __future__ import annotations

from pydantic import ValidationError

MAX_DETAILS = 20


def printable(text: str) -> str:
    """`text` safe to write back as UTF-8 JSON: a lone surrogate from the client becomes `\\udxxx`."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def validation_details(error: ValidationError, *, drop_prefix: int = 0) -> list[dict[str, str]]:
    """`[{"field": "a.b", "message": ...}]` for each problem (at most MAX_DETAILS).

    `drop_prefix` removes leading location parts that name no field of the
    caller's input (a discriminated union's tag, for instance). Field names and
    messages may quote the client's input, so both are made printable.
    """
    details = []
    for problem in error.errors(include_url=False)[:MAX_DETAILS]:
        location = problem["loc"][drop_prefix:] or problem["loc"]
        field = ".".join(str(part) for part in location)
        details.append({"field": printable(field), "message": printable(problem["msg"])})
    return details
