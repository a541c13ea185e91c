"""The segment recorder: PCM in segments of a bounded length, the last one published on close."""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime.media.recorder import SegmentRecorder

SEGMENT_SECONDS = 0.01  # 160 samples, 320 bytes


@dataclass
class MemorySegment:
    data: bytearray = field(default_factory=bytearray)
    published: bool = False
    discarded: bool = False
    fail_publish: bool = False

    async def write(self, pcm: bytes) -> None:
        self.data.extend(pcm)

    async def publish(self) -> None:
        if self.fail_publish:
            raise OSError("store down")
        self.published = True

    async def discard(self) -> None:
        self.discarded = True


@dataclass
class MemorySink:
    segments: list[MemorySegment] = field(default_factory=list)
    fail_next_publish: bool = False

    async def open_segment(self) -> MemorySegment:
        segment = MemorySegment(fail_publish=self.fail_next_publish)
        self.fail_next_publish = False
        self.segments.append(segment)
        return segment

    def published(self) -> bytes:
        return b"".join(bytes(s.data) for s in self.segments if s.published)


async def _record(sink: MemorySink, chunks: list[bytes]) -> SegmentRecorder:
    recorder = SegmentRecorder(sink, segment_seconds=SEGMENT_SECONDS)
    recorder.start()
    for chunk in chunks:
        recorder.write(chunk)
    await recorder.aclose()
    return recorder


async def test_audio_is_split_into_segments_of_the_set_length() -> None:
    sink = MemorySink()
    pcm = bytes(range(256)) * 10  # 2,560 bytes: 8 full segments
    recorder = await _record(sink, [pcm[i : i + 100] for i in range(0, len(pcm), 100)] + [b"\x01\x02" * 10])
    assert recorder.error is None
    assert sink.published() == pcm + b"\x01\x02" * 10
    assert [len(s.data) for s in sink.segments] == [320] * 8 + [20]  # the last, short one published on close
    assert recorder.segments_published == 9


async def test_nothing_recorded_opens_no_segment() -> None:
    sink = MemorySink()
    await _record(sink, [])
    assert sink.segments == []


async def test_a_failed_segment_is_discarded_and_recording_goes_on() -> None:
    sink = MemorySink(fail_next_publish=True)
    first, second = b"\x11" * 320, b"\x22" * 100
    recorder = await _record(sink, [first, second])
    assert isinstance(recorder.error, OSError)
    assert sink.segments[0].discarded and not sink.segments[0].published
    assert sink.published() == second
