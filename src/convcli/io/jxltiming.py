"""JPEG XL animations timed: each frame's duration and the loop count written into its headers.

imagecodecs writes an animation of 10 ticks a second, each frame one tick
long, playing forever; its headers are read (:mod:`convcli.io.jxl`) and
written anew, bit by bit, with the durations and plays convcli was given.
"""

from __future__ import annotations

import io

from convcli.io import isobmff, jxl


def timed(data: bytes, durations: list[int], plays: int) -> bytes:
    """Time a JPEG XL animation: a bare codestream, or one in a container's parts (16 bits).

    A container's codestream parts (jxlp, one a frame) become one jxlc box,
    after its other boxes (its signature, ftyp, and the level, jxll).
    """
    if data.startswith(b"\xff\x0a"):
        return _retimed(data, durations, plays)
    boxes = list(isobmff.boxes(data))
    parts = [data[body + 4 * (kind == b"jxlp") : stop] for kind, body, stop, _ in boxes
             if kind in (b"jxlc", b"jxlp")]  # fmt: skip
    kept = [data[body - header : stop] for kind, body, stop, header in boxes
            if kind not in (b"jxlc", b"jxlp")]  # fmt: skip
    return b"".join(kept) + isobmff.box(b"jxlc", _retimed(b"".join(parts), durations, plays))


def _retimed(codestream: bytes, durations: list[int], plays: int) -> bytes:
    """Write each frame's duration (ms) and the plays (0: forever) into an animation's headers.

    imagecodecs counts 10 ticks a second, gives each frame one and plays
    forever. Its ticks become milliseconds, and the loop count and each
    frame's duration take the bits they need: the image's headers and each
    FrameHeader are written anew, bit by bit, to their padding to a byte;
    what follows each (its table of contents and sections) is copied.
    """
    reader = jxl.Bits(codestream, 16)  # past the signature
    image, *_ = jxl.image_metadata(reader, *jxl.size_header(reader))
    if image.animation is None or image.counted is not None:
        raise ValueError("not an animation whose frames convcli can time")
    timing = jxl.Bits(codestream, image.timing_at)
    timing.u32(*jxl.TICKS)
    over = timing.position
    timing.u32(*jxl.TICKS_OVER)
    loops = timing.position
    timing.u32(*jxl.LOOPS)
    header = _Writer()
    header.copy(codestream, 0, image.timing_at)
    header.u32(1000, jxl.TICKS)
    header.copy(codestream, over, loops)
    header.u32(plays, jxl.LOOPS)
    header.copy(codestream, timing.position, image.ends_at)
    pieces, left, end = [header.padded()], iter(durations), -(-image.ends_at // 8)
    for walked in jxl.walk(jxl.Codestream(io.BytesIO(codestream)), end, image):
        head = codestream[walked.offset : walked.offset + -(-walked.header_bits // 8)]
        if walked.shown and walked.timed_at is not None:
            frame, old = _Writer(), jxl.Bits(head, walked.timed_at)
            old.u32(*jxl.DURATION)
            frame.copy(head, 0, walked.timed_at)
            frame.u32(next(left), jxl.DURATION)
            frame.copy(head, old.position, walked.header_bits)
            head = frame.padded()
        pieces += [head, codestream[walked.offset + -(-walked.header_bits // 8) : walked.end]]
        end = walked.end
    return b"".join([*pieces, codestream[end:]])


class _Writer:
    """JPEG XL's bit writer: least significant bit first."""

    def __init__(self) -> None:
        self.value, self.count = 0, 0

    def write(self, value: int, count: int) -> None:
        self.value |= value << self.count
        self.count += count

    def u32(self, value: int, choices: tuple[tuple[int, int], ...]) -> None:
        """Write ``value`` in the first of the four distributions that holds it."""
        selector, (bits, offset) = next(
            (index, choice) for index, choice in enumerate(choices)
            if 0 <= value - choice[1] < 1 << choice[0]
        )  # fmt: skip
        self.write(selector, 2)
        self.write(value - offset, bits)

    def copy(self, data: bytes, start: int, end: int) -> None:
        """Copy the bits of ``data`` from ``start`` to ``end``."""
        if end > start:
            self.write(jxl.Bits(data, start).read(end - start), end - start)

    def padded(self) -> bytes:
        """Return the bits written, padded with zeros to a byte."""
        return self.value.to_bytes(-(-self.count // 8), "little")
