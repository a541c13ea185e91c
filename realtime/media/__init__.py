"""WebRTC media for live interviews: the server's peer connection to a candidate.

:class:`MediaPeer` answers the browser's offer (aiortc), hands the candidate's
audio on as 16 kHz mono s16le PCM and optionally records it as WAV.
"""

from realtime.media.audio import PCM_SAMPLE_RATE, PCM_SAMPLE_WIDTH
from realtime.media.errors import MediaError, MediaErrorCode
from realtime.media.ice import IceServerLike, rtc_ice_servers
from realtime.media.peer import MediaPeer, MediaStats, PeerState

__all__ = [
    "PCM_SAMPLE_RATE",
    "PCM_SAMPLE_WIDTH",
    "IceServerLike",
    "MediaError",
    "MediaErrorCode",
    "MediaPeer",
    "MediaStats",
    "PeerState",
    "rtc_ice_servers",
]
