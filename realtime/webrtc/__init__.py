"""WebRTC for live interviews: signalling on the interview socket and each session's media.

The composition root builds one `MediaRuntime` per process and plugs
`signalling_factory(...)` into the channel; the channel never imports this package.
"""

from realtime.webrtc.media_session import MediaSession
from realtime.webrtc.runtime import MediaRuntime
from realtime.webrtc.signalling import WebRTCSignalling, signalling_factory

__all__ = ["MediaRuntime", "MediaSession", "WebRTCSignalling", "signalling_factory"]
