"""Turning a pydantic ValidationError into the documented `details` list: one helper for every edge."""

from __future__ import annotations

from pydantic import ValidationError

MAX_DETAILS = 20


def validation_details(error: ValidationError, *, drop_prefix: int = 0) -> list[dict[str, str]]:
    """`[{"field": "a.b", "message": ...}]` for each problem (at most MAX_DETAILS).

    `drop_prefix` removes leading location parts that name no field of the
    caller's input (a discriminated union's tag, for instance).
    """
    details = []
    for problem in error.errors(include_url=False)[:MAX_DETAILS]:
        location = problem["loc"][drop_prefix:] or problem["loc"]
        details.append({"field": ".".join(str(part) for part in location), "message": problem["msg"]})
    return details
