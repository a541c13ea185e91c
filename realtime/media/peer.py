"""The server side of a candidate's WebRTC peer connection (aiortc)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCIceCandidate, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from realtime.media.connection import MediaStats, PeerConnection, SessionLog
from realtime.media.errors import MediaError, MediaErrorCode
from realtime.media.notifier import StateNotifier
from realtime.media.outbound import FrameSource, OutboundAudioTrack
from realtime.media.recorder import SegmentRecorder, SegmentSink
from realtime.media.sdp import Offer, parse_candidate, parse_offer
from realtime.media.tracks import consume_audio, drain_track

__all__ = ["MediaPeer", "MediaStats", "PeerState"]

logger = logging.getLogger(__name__)

PeerState = Literal["new", "connecting", "connected", "disconnected", "failed", "closed"]

# aiortc connection states that map one-to-one; "new" is never reported again
# and aiortc's "closed" is handled separately (see _on_pc_state).
_PC_STATES: dict[str, PeerState] = {
    "connecting": "connecting",
    "connected": "connected",
    "failed": "failed",
}
_MAX_EARLY_CANDIDATES = 64


class MediaPeer:
    """Receives a candidate's audio (and optionally video) over WebRTC.

    The signalling layer feeds it the browser's offer, trickled candidates and
    restart offers, and closes it when the session ends. Audio reaches
    ``on_audio`` as 16 kHz mono signed 16-bit little-endian PCM, one chunk per
    received frame, called on the event loop; it must not block.

    State changes are awaited in order on ``on_state`` from a task the peer
    owns: ``"connecting"``, ``"connected"``, ``"disconnected"``, ``"failed"``
    and finally ``"closed"`` (only after :meth:`close`). aiortc has no
    "disconnected" state of its own, so the peer reports it when a connected
    peer receives no audio for ``stall_timeout`` seconds (it returns to
    "connected" with the next frame), or when the browser closes its side
    (recoverable only through :meth:`restart`).

    Video is never recorded or decoded for use (out of scope): a video track is
    read and its frames dropped whatever ``accept_video`` says, because aiortc
    buffers unread frames without bound. ``accept_video`` only changes logging.

    aiortc gathers every local candidate before the answer is returned, so the
    answer SDP carries them (with ``a=end-of-candidates``): the server never trickles.

    With ``voice``, each negotiated connection sends an outbound audio track that
    plays what the voice produces (the interviewer's questions), on the same
    transceiver as the candidate's microphone.

    If ``recording`` is given, the candidate's audio (the same 16 kHz PCM) is
    handed to it in segments of at most ``segment_seconds`` by a task of the
    recorder's own; :meth:`close` publishes the last one.
    """

    def __init__(
        self,
        *,
        session_id: str,
        ice_servers: list[RTCIceServer],
        on_audio: Callable[[bytes], None],
        on_state: Callable[[str], Awaitable[None]],
        recording: SegmentSink | None = None,
        segment_seconds: float = 60.0,
        accept_video: bool = False,
        stall_timeout: float = 5.0,
        voice: FrameSource | None = None,
    ) -> None:
        self._session_id = session_id
        self._configuration = RTCConfiguration(iceServers=list(ice_servers))
        self._on_audio = on_audio
        self._accept_video = accept_video
        self._voice = voice
        self._stall_timeout = stall_timeout
        self._log = SessionLog(logger, {"session_id": session_id})
        self._recorder = (
            SegmentRecorder(recording, segment_seconds=segment_seconds, log=self._log)
            if recording is not None
            else None
        )

        # Serialises offers, restarts and candidates, so that a candidate is
        # applied to the connection negotiated before it.
        self._lock = asyncio.Lock()
        self._conn: PeerConnection | None = None
        self._conns: set[PeerConnection] = set()
        self._early_candidates: list[tuple[RTCIceCandidate | None, str | None]] = []
        self._state: PeerState = "new"
        self._notifier: StateNotifier[PeerState] = StateNotifier(
            on_state, name=f"media-peer:{session_id}:state", log=self._log
        )
        self._closed = False
        self._closing: asyncio.Task[None] | None = None
        self.stats = MediaStats()
        """What the peer has received so far."""

    @property
    def session_id(self) -> str:
        """The interview session this peer belongs to."""
        return self._session_id

    @property
    def state(self) -> PeerState:
        """The connection state: one of the :data:`PeerState` values."""
        return self._state

    @property
    def recorder(self) -> SegmentRecorder | None:
        """The recorder of the candidate's audio, if it is recorded."""
        return self._recorder

    async def __aenter__(self) -> MediaPeer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def handle_offer(self, sdp: str) -> str:
        """Answer the browser's offer and return the answer SDP.

        A later offer with the same ICE credentials renegotiates the current
        connection; one with a new ICE username fragment is an ICE restart and
        is handled like :meth:`restart`.

        :raises MediaError: ``BAD_SDP`` if the offer is invalid or sends no
            audio; ``NEGOTIATION_FAILED`` if no answer could be produced;
            ``PEER_CLOSED`` after :meth:`close`.
        """
        async with self._lock:
            self._check_open()
            offer = parse_offer(sdp)
            conn = self._conn
            if conn is not None and conn.ice_ufrag == offer.ice_ufrag:
                self._log.info("renegotiating")
                return await self._negotiate(conn, offer)
            return await self._replace_connection(offer)

    async def restart(self, sdp: str) -> str:
        """Handle an ICE restart offer (sent after a network change) and return the answer.

        aiortc cannot restart ICE on an existing connection (its ICE transport
        starts once and keeps its credentials), so a restart replaces the
        connection: a new ``RTCPeerConnection`` answers the new offer, then the
        old one is closed and its readers cancelled. Callbacks, statistics and
        the recording carry over, so audio resumes in the same stream.

        The new answer has new ICE credentials, a new DTLS fingerprint and new
        SSRCs. The tested client behaviour is a browser that makes a new
        ``RTCPeerConnection`` for the restart; a browser restarting in place
        (``restartIce()``) must accept the changed fingerprint as a DTLS
        restart, which has not been tested here.

        :raises MediaError: as :meth:`handle_offer`; a rejected restart offer
            leaves the current connection in place.
        """
        async with self._lock:
            self._check_open()
            return await self._replace_connection(parse_offer(sdp))

    async def add_ice_candidate(self, candidate: Mapping[str, Any] | None) -> None:
        """Add a candidate trickled by the browser (``RTCIceCandidateInit`` JSON).

        A null payload or an empty ``candidate`` means end-of-candidates.
        Candidates whose ``usernameFragment`` belongs to a replaced connection
        are ignored, and candidates that arrive before the offer are kept and
        applied once it is answered.

        :raises MediaError: ``BAD_CANDIDATE`` if the candidate is malformed or
            rejected; ``PEER_CLOSED`` after :meth:`close`.
        """
        self._check_open()
        parsed = parse_candidate(candidate)
        ufrag = candidate.get("usernameFragment") if candidate is not None else None
        async with self._lock:
            self._check_open()
            if self._conn is None:
                if len(self._early_candidates) >= _MAX_EARLY_CANDIDATES:
                    raise MediaError(MediaErrorCode.BAD_CANDIDATE, "too many candidates before the offer")
                self._early_candidates.append((parsed, ufrag))
                return
            await self._add_candidate(self._conn, parsed, ufrag)

    async def close(self) -> None:
        """Close the connection, cancel and await every task, finish the recording.

        Idempotent and safe to call concurrently. If the caller is cancelled,
        the shutdown still completes in a task the peer keeps.
        """
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.create_task(self._shutdown(), name=f"media-peer:{self._session_id}:close")
        await asyncio.shield(self._closing)

    # -- negotiation -------------------------------------------------------

    async def _replace_connection(self, offer: Offer) -> str:
        """Answer ``offer`` on a new connection, then retire the current one."""
        old = self._conn
        conn = self._open_connection(offer)
        try:
            answer = await self._negotiate(conn, offer)
        except BaseException:
            await self._dispose(conn)
            raise
        self._conn = conn
        self.stats.connections += 1
        if old is not None:
            self._log.info("ICE restart: replacing the peer connection")
            await self._dispose(old)
        self._set_state(_PC_STATES.get(conn.pc.connectionState, "connecting"))
        return answer

    def _open_connection(self, offer: Offer) -> PeerConnection:
        """Create a peer connection wired to this peer's handlers."""
        self._start_background()
        conn = PeerConnection(pc=RTCPeerConnection(self._configuration), ice_ufrag=offer.ice_ufrag)
        self._conns.add(conn)
        conn.pc.on("connectionstatechange", lambda: self._on_pc_state(conn))
        conn.pc.on("track", lambda track: self._on_track(conn, track))
        return conn

    async def _negotiate(self, conn: PeerConnection, offer: Offer) -> str:
        """Apply ``offer`` to ``conn`` and return the answer SDP."""
        pc = conn.pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        except Exception as exc:
            raise self._wrap(exc, MediaErrorCode.BAD_SDP, "the offer was rejected") from exc
        early, self._early_candidates = self._early_candidates, []
        for candidate, ufrag in early:
            try:
                await self._add_candidate(conn, candidate, ufrag)
            except MediaError as exc:
                self._log.warning("early candidate dropped: %s", exc.message)
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            raise self._wrap(exc, MediaErrorCode.NEGOTIATION_FAILED, "could not answer the offer") from exc
        self._check_open()
        return pc.localDescription.sdp

    async def _add_candidate(self, conn: PeerConnection, candidate: RTCIceCandidate | None, ufrag: str | None) -> None:
        if ufrag and ufrag != conn.ice_ufrag:
            self._log.debug("candidate for ICE ufrag %s ignored (current %s)", ufrag, conn.ice_ufrag)
            return
        try:
            await conn.pc.addIceCandidate(candidate)
        except Exception as exc:
            raise self._wrap(exc, MediaErrorCode.BAD_CANDIDATE, "the candidate was rejected") from exc

    def _wrap(self, exc: Exception, code: MediaErrorCode, what: str) -> MediaError:
        if isinstance(exc, MediaError):
            return exc
        if self._closed:
            return MediaError(MediaErrorCode.PEER_CLOSED, "the peer was closed")
        self._log.info("%s: %r", what, exc)
        return MediaError(code, f"{what}: {exc}")

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError(MediaErrorCode.PEER_CLOSED, "the peer is closed")

    # -- events from aiortc ------------------------------------------------

    def _on_pc_state(self, conn: PeerConnection) -> None:
        if conn is not self._conn or self._closed:
            return  # a replaced connection, or our own shutdown
        pc_state = conn.pc.connectionState
        if pc_state == "closed":
            # We did not close it: the browser closed its side (DTLS close_notify).
            self._set_state("disconnected")
        elif pc_state in _PC_STATES:
            self._set_state(_PC_STATES[pc_state])

    def _on_track(self, conn: PeerConnection, track: MediaStreamTrack) -> None:
        if conn.disposed or self._closed:
            return
        reader: Coroutine[Any, Any, None]
        if track.kind == "audio" and conn.audio_track is None:
            conn.audio_track = track
            if self._voice is not None:
                # Answered on the same transceiver (sendrecv): the candidate hears the interviewer.
                conn.outbound = OutboundAudioTrack(self._voice)
                conn.pc.addTrack(conn.outbound)
            reader = consume_audio(
                track,
                deliver=lambda pcm: self._deliver_audio(conn, pcm),
                on_stall=lambda: self._on_stall(conn),
                stall_timeout=self._stall_timeout,
            )
        elif track.kind == "audio":
            self._log.info("extra audio track %s is drained, not heard", track.id)
            reader = drain_track(track, on_frame=lambda: None)
        elif track.kind == "video":
            self._log.info(
                "video track %s (%s)",
                track.id,
                "accepted, not recorded" if self._accept_video else "dropped",
            )
            reader = drain_track(track, on_frame=self._count_video_frame)
        else:
            return
        task = asyncio.create_task(
            self._run_reader(reader, track.kind), name=f"media-peer:{self._session_id}:{track.kind}"
        )
        conn.readers.add(task)
        task.add_done_callback(conn.readers.discard)

    async def _run_reader(self, reader: Coroutine[Any, Any, None], kind: str) -> None:
        try:
            await reader
        except Exception:
            self._log.exception("%s track reader failed", kind)
        else:
            self._log.debug("%s track ended", kind)

    def _deliver_audio(self, conn: PeerConnection, pcm: bytes) -> None:
        self.stats.audio_frames += 1
        if self._state == "disconnected" and conn is self._conn and conn.pc.connectionState == "connected":
            self._set_state("connected")
        if not pcm:
            return
        self.stats.audio_bytes += len(pcm)
        if self._recorder is not None:
            self._recorder.write(pcm)
        try:
            self._on_audio(pcm)
        except Exception:
            self._log.exception("on_audio callback failed")

    def _on_stall(self, conn: PeerConnection) -> None:
        if conn is self._conn and self._state == "connected":
            self._log.warning("no audio for %.1f s", self._stall_timeout)
            self._set_state("disconnected")

    def _count_video_frame(self) -> None:
        self.stats.video_frames += 1

    # -- state notifications and shutdown ----------------------------------

    def _set_state(self, state: PeerState) -> None:
        if state == self._state or self._state == "closed":
            return
        self._log.info("state %s -> %s", self._state, state)
        self._state = state
        self._notifier.put(state)

    def _start_background(self) -> None:
        """Start the state notifier and the recorder (both need a running loop)."""
        self._notifier.start()
        if self._recorder is not None:
            self._recorder.start()

    async def _dispose(self, conn: PeerConnection) -> None:
        """Close ``conn``'s peer connection and cancel and await its readers (idempotent)."""
        if conn.disposed:
            return
        conn.disposed = True
        self._conns.discard(conn)
        try:
            await conn.pc.close()
        except Exception:
            self._log.warning("error while closing the peer connection", exc_info=True)
        if conn.outbound is not None:
            conn.outbound.stop()
        readers = list(conn.readers)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    async def _shutdown(self) -> None:
        self._log.info("closing")
        try:
            for conn in list(self._conns):
                await self._dispose(conn)
            self._conn = None
        finally:
            try:
                if self._recorder is not None:
                    await self._recorder.aclose()
            finally:
                self._set_state("closed")
                await self._notifier.flush()
        self._log.info("closed (%s)", self.stats)
