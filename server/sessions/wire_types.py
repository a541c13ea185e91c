"""Building blocks every edge's wire models share: safe ids and strict request models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, StringConstraints

from storage import CamelModel

# Ids are plain strings of safe characters: no operator objects, no oversized keys.
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]
Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
# Ids compare as text in the store, so one UUID has one spelling.
CanonicalUuid = Annotated[Uuid, AfterValidator(str.lower)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RequestModel(CamelModel):
    """Incoming bodies and messages refuse unknown fields (pydantic v2 never turns numbers into strings)."""

    model_config = ConfigDict(extra="forbid")
