"""Client frames -> protocol messages, or the complaint to answer them with. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from realtime.messages import CLIENT_MESSAGE_ADAPTER, ClientEventMessage, HelloMessage, PongMessage, SignallingMessage
from server.sessions import ErrorCode, validation_details

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
    return value if isinstance(value, str) and len(value) <= 64 else None


def peek_id(frame: str | bytes) -> str | None:
    """The `id` of a frame, if it has one, without validating anything else."""
    if isinstance(frame, bytes) or len(frame) > 65536:
        return None
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    return message_id(data) if isinstance(data, dict) else None


def parse_hello(frame: str | bytes | None, max_bytes: int) -> HelloMessage | None:
    """The first frame as a `hello`, or None when it is anything else."""
    if not isinstance(frame, str) or len(frame) > max_bytes:
        return None
    try:
        return HelloMessage.model_validate(json.loads(frame))
    except (ValueError, ValidationError, RecursionError):
        return None


def parse_frame(frame: str | bytes, max_bytes: int) -> Parsed | Complaint | TooBig:
    """One frame after the hello."""
    if isinstance(frame, bytes):
        return Complaint(ErrorCode.VALIDATION_ERROR, "Binary frames are not part of the protocol")
    if len(frame) > max_bytes or len(frame.encode()) > max_bytes:
        return TooBig()  # uvicorn enforces ws_max_size already; this guards other servers
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return Complaint(ErrorCode.INVALID_JSON, "Message is not valid JSON")
    if not isinstance(data, dict):
        return Complaint(ErrorCode.VALIDATION_ERROR, "Message must be a JSON object")
    id = message_id(data)
    try:
        message = CLIENT_MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as error:
        if any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in error.errors()):
            name = str(data.get("type"))[:64]
            return Complaint(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"Unknown message type {name!r}", id=id)
        details = validation_details(error, drop_prefix=1)
        return Complaint(ErrorCode.VALIDATION_ERROR, "Invalid message", id=id, details=details)
    if isinstance(message, HelloMessage):
        return Complaint(ErrorCode.VALIDATION_ERROR, "hello was already received on this connection")
    return message
