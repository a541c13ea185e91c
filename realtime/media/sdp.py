"""Validation of browser offers and trickled ICE candidates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceCandidate
from aiortc import sdp as aiortc_sdp

from realtime.media.errors import MediaError, MediaErrorCode

__all__ = ["Offer", "parse_candidate", "parse_offer"]

_SENDING = ("sendrecv", "sendonly")


@dataclass(frozen=True)
class Offer:
    """An offer that passed validation."""

    sdp: str
    ice_ufrag: str
    """ICE username fragment of the first media section; a new one means an ICE restart."""
    has_video: bool


def parse_offer(text: str) -> Offer:
    """Check that ``text`` is an SDP offer that sends audio.

    :raises MediaError: ``BAD_SDP`` if it cannot be parsed, lacks ICE
        credentials, or has no audio m-line the browser sends on.
    """
    if not isinstance(text, str) or not text.strip():
        raise MediaError(MediaErrorCode.BAD_SDP, "the offer is empty")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises assorted built-in errors
        raise MediaError(MediaErrorCode.BAD_SDP, f"the offer is not valid SDP: {exc!r}") from exc
    media = description.media
    if not any(m.kind == "audio" and m.port != 0 and (m.direction or "sendrecv") in _SENDING for m in media):
        raise MediaError(MediaErrorCode.BAD_SDP, "the offer has no audio m-line sending audio")
    credentials = [(m.ice.usernameFragment, m.ice.password) if m.ice else (None, None) for m in media]
    if not all(ufrag and password for ufrag, password in credentials):
        raise MediaError(MediaErrorCode.BAD_SDP, "the offer lacks ICE credentials")
    ufrag = credentials[0][0]
    assert ufrag is not None
    return Offer(sdp=text, ice_ufrag=ufrag, has_video=any(m.kind == "video" for m in media))


def parse_candidate(payload: Mapping[str, Any] | None) -> RTCIceCandidate | None:
    """Convert a browser ``RTCIceCandidateInit`` dictionary to aiortc's candidate.

    Returns ``None`` for end-of-candidates (a null payload or an empty
    ``candidate`` string).

    :raises MediaError: ``BAD_CANDIDATE`` if the candidate line is malformed or
        names neither ``sdpMid`` nor ``sdpMLineIndex``.
    """
    if payload is None:
        return None
    line = payload.get("candidate")
    if line is None or (isinstance(line, str) and not line.strip()):
        return None
    if not isinstance(line, str):
        raise MediaError(MediaErrorCode.BAD_CANDIDATE, "candidate must be a string")
    line = line.strip().removeprefix("a=").removeprefix("candidate:")
    sdp_mid = payload.get("sdpMid")
    sdp_mline_index = payload.get("sdpMLineIndex")
    if sdp_mid is None and sdp_mline_index is None:
        raise MediaError(MediaErrorCode.BAD_CANDIDATE, "candidate needs sdpMid or sdpMLineIndex")
    if sdp_mline_index is not None and (isinstance(sdp_mline_index, bool) or not isinstance(sdp_mline_index, int)):
        raise MediaError(MediaErrorCode.BAD_CANDIDATE, "sdpMLineIndex must be an integer")
    try:
        bits = line.split()
        if len(bits) < 8 or bits[6] != "typ":
            raise ValueError("expected '<foundation> <component> <protocol> <priority> <ip> <port> typ <type>'")
        candidate = aiortc_sdp.candidate_from_sdp(line)
    except (ValueError, IndexError, AssertionError) as exc:
        raise MediaError(MediaErrorCode.BAD_CANDIDATE, f"malformed candidate: {exc}") from exc
    candidate.sdpMid = None if sdp_mid is None else str(sdp_mid)
    candidate.sdpMLineIndex = sdp_mline_index
    return candidate
