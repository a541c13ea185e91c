"""Client frames -> protocol messages, or the complaint to answer them with. Pure.

Frames are limited in characters (Unicode code points of their JSON text), not bytes, so
a maximum-size answer fits whatever its script. Nesting is bounded before parsing, and a
frame holding something the store could not keep is refused here, naming its `id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from realtime.messages import CLIENT_MESSAGE_ADAPTER, ClientEventMessage, HelloMessage, PongMessage, SignallingMessage
from server.sessions import MAX_JSON_DEPTH, ErrorCode, nests_deeper_than, printable, unstorable, validation_details

Parsed = ClientEventMessage | SignallingMessage | PongMessage


@dataclass(frozen=True)
class Complaint:
    """Why a frame is not a message of the protocol (answered with `error`, counted as garbage)."""

    code: ErrorCode
    message: str
    id: str | None = None
    details: Any = None


@dataclass(frozen=True)
class TooBig:
    """A frame over the size limit (closed with 1009)."""


def message_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    return printable(value) if isinstance(value, str) and len(value) <= 64 else None


def _json(frame: str) -> Any:
    """The frame's JSON value; ValueError when it is not JSON or nests too deeply."""
    if nests_deeper_than(frame, MAX_JSON_DEPTH):
        raise ValueError("nested too deeply")
    try:
        return json.loads(frame)
    except RecursionError:  # pragma: no cover - nests_deeper_than refuses such frames first
        raise ValueError("nested too deeply") from None


def peek_id(frame: str | bytes) -> str | None:
    """The `id` of a frame, if it has one, without validating anything else."""
    if isinstance(frame, bytes) or len(frame) > 65536:
        return None
    try:
        data = _json(frame)
    except ValueError:
        return None
    return message_id(data) if isinstance(data, dict) else None


def parse_hello(frame: str | bytes | None, max_chars: int) -> HelloMessage | None:
    """The first frame as a `hello`, or None when it is anything else."""
    if not isinstance(frame, str) or len(frame) > max_chars:
        return None
    try:
        return HelloMessage.model_validate(_json(frame))
    except (ValueError, ValidationError):
        return None


def parse_frame(frame: str | bytes, max_chars: int) -> Parsed | Complaint | TooBig:
    """One frame after the hello; `max_chars` bounds its length in characters."""
    if isinstance(frame, bytes):
        return Complaint(ErrorCode.VALIDATION_ERROR, "Binary frames are not part of the protocol")
    if len(frame) > max_chars:
        return TooBig()
    try:
        data = _json(frame)
    except ValueError:
        return Complaint(ErrorCode.INVALID_JSON, "Message is not valid JSON")
    if not isinstance(data, dict):
        return Complaint(ErrorCode.VALIDATION_ERROR, "Message must be a JSON object")
    id = message_id(data)
    problem = unstorable(data)
    if problem is not None:
        details = [{"field": problem.field, "message": problem.message}]
        return Complaint(ErrorCode.VALIDATION_ERROR, f"Invalid message: {problem.message}", id=id, details=details)
    try:
        message = CLIENT_MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as error:
        if any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in error.errors()):
            name = printable(str(data.get("type"))[:64])
            return Complaint(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"Unknown message type {name!r}", id=id)
        details = validation_details(error, drop_prefix=1)
        return Complaint(ErrorCode.VALIDATION_ERROR, "Invalid message", id=id, details=details)
    if isinstance(message, HelloMessage):
        return Complaint(ErrorCode.VALIDATION_ERROR, "hello was already received on this connection")
    return message
