"""JPEG XL's headers, read bit by bit (ISO/IEC 18181-1): the size, the samples and the frames.

The codestream opens with a SizeHeader and the ImageMetadata; an animation's
frames follow, each a FrameHeader, a table of contents (the byte length of
each of its sections) and the sections. Its frames are counted, and their
durations read, by reading each FrameHeader and its table of contents and
stepping over the sections, decoding no pixel. A frame is shown (one of the
frames a decoder gives) when it is a regular frame that is the last or has a
duration; the others are layers composed into the next one shown.

Two things stand in the way, both entropy-coded: a colour profile of the
file's own (it comes before the frames) and a permuted table of contents.
An animation with either is read as its first frame, with a note; so is one
with a preview picture before its frames.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from convcli.limits import MAX_FRAMES

HEADER_BYTES = 1 << 20  # the headers before the first frame fit, without a colour profile
MAX_EXTRA_CHANNELS = 256
MAX_SECTIONS = 1 << 22  # of all frames together: 10,000 frames of 3840x2160 have 1.4 million
FRAME_HEADER = 1 << 10  # bytes read for a FrameHeader: enough but for long names and extensions
MAX_FRAME_HEADER = 1 << 16  # bytes of a FrameHeader (its name, extensions...) before its TOC
_MAX_BOXES = 4096
_MAX_PARTS = 4096
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_SIZES = ((9, 1), (13, 1), (18, 1), (30, 1))
_REGULAR, _DC, _REFERENCE_ONLY, _SKIP_PROGRESSIVE = range(4)
_MODULAR = 1
_USE_DC_FRAME = 32  # a FrameHeader flag
_XYB = 2
# The distributions of an AnimationHeader's fields and a frame's duration: (bits, offset)
TICKS, TICKS_OVER = ((0, 100), (0, 1000), (10, 1), (30, 1)), ((0, 1), (0, 1001), (8, 1), (10, 1))
LOOPS, DURATION = ((0, 0), (3, 0), (16, 0), (32, 0)), ((0, 0), (0, 1), (8, 0), (32, 0))


@dataclass(frozen=True)
class Header:
    """What a JPEG XL's headers say, decoding no pixel.

    ``width`` and ``height`` are the picture's as shown (after its
    orientation); ``durations`` are each shown frame's, in milliseconds,
    for an animation whose frames were counted (else empty), and ``plays``
    its loop count (0: forever).
    """

    width: int
    height: int
    bits: int
    samples: int
    frames: int = 1
    durations: tuple[int, ...] = ()
    plays: int | None = None


class Bits:
    """JPEG XL's bit reader: least significant bit first, within ``data``."""

    def __init__(self, data: bytes, position: int = 0) -> None:
        self.data, self.position = data, position

    def read(self, count: int) -> int:
        """Read ``count`` bits as an unsigned integer."""
        start = self.position >> 3
        if (self.position + count + 7) >> 3 > len(self.data):
            raise IndexError("past the end of the bytes read")
        chunk = int.from_bytes(self.data[start : start + (count + 14) // 8 + 1], "little")
        self.position += count
        return (chunk >> (self.position - count - 8 * start)) & ((1 << count) - 1)

    def u32(self, *choices: tuple[int, int]) -> int:
        """One of four distributions, by a 2-bit selector: (bits to read, offset)."""
        bits, offset = choices[self.read(2)]
        return self.read(bits) + offset

    def u64(self) -> int:
        """Read a U64: up to 64 bits, by a 2-bit selector and 8-bit groups."""
        selector = self.read(2)
        if selector < 3:
            return 0 if selector == 0 else 1 + self.read(4) if selector == 1 else 17 + self.read(8)
        value, shift = self.read(12), 12
        while self.read(1):
            if shift == 60:
                return value | self.read(4) << 60
            value |= self.read(8) << shift
            shift += 8
        return value

    def enum(self) -> int:
        """Read an enum: a U32 of its own distributions."""
        return self.u32((0, 0), (0, 1), (4, 2), (6, 18))

    def skip(self, count: int) -> None:
        """Step over ``count`` bits."""
        if (self.position + count + 7) >> 3 > len(self.data):
            raise IndexError("past the end of the bytes read")
        self.position += count

    def to_byte(self) -> None:
        """Step to the next whole byte (the padding after a header)."""
        self.position = -(-self.position // 8) * 8


@dataclass(frozen=True)
class _Image:
    """The ImageMetadata fields the frames' headers depend on."""

    width: int  # as coded, before the orientation
    height: int
    xyb: bool
    extra: int
    animation: tuple[int, int, int, bool] | None  # a second's ticks (over), plays, timecodes
    counted: str | None  # why the frames cannot be counted, if so
    profile: bool = False  # a colour profile of its own, which imagecodecs' decoder does not give
    timing_at: int = 0  # the bit where the animation's timing starts
    ends_at: int = 0  # the bit where the headers end, before their padding to a byte


def read_header(stream: BinaryIO) -> Header:
    """Read a JPEG XL's size and samples, and an animation's frames and their durations.

    Raises
    ------
    ValueError
        When its headers are cut short or broken.
    """
    parts = Codestream(stream)
    reader, (image, shown, bits, samples) = _image_header(parts)
    if image.animation is None:
        return Header(*shown, bits, samples)
    try:
        if image.counted is not None:
            raise _Uncounted(image.counted)
        reader.to_byte()
        durations = _frames(parts, reader.position // 8, image)
    except _Uncounted as reason:
        warnings.warn(
            f"a JPEG XL animation with {reason}: its first frame is read, "
            "the others are not (counting them needs an entropy decoder)",
            stacklevel=4,
        )
        return Header(*shown, bits, samples)
    numerator, denominator, plays, _ = image.animation
    milliseconds = tuple(round(ticks * 1000 * denominator / numerator) for ticks in durations)
    return Header(*shown, bits, samples, len(durations), milliseconds, plays)


def has_own_profile(stream: BinaryIO) -> bool:
    """Whether a JPEG XL has a colour profile of its own (entropy-coded, before its frames).

    Raises
    ------
    ValueError
        When its headers are cut short or broken.
    """
    _, (image, *_) = _image_header(Codestream(stream))
    return image.profile


def _image_header(parts: Codestream) -> tuple[Bits, tuple[_Image, tuple[int, int], int, int]]:
    """Read the signature, SizeHeader and ImageMetadata: the reader, past them, and those."""
    reader = Bits(parts.read(0, HEADER_BYTES))
    if reader.read(16) != 0x0AFF:
        raise ValueError("not a JPEG XL codestream")
    return reader, image_metadata(reader, *size_header(reader))


class Codestream:
    """A bare codestream, or the one in a container's jxlc box or jxlp boxes, read by offset."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        stream.seek(0)
        if stream.read(2) == b"\xff\x0a":
            self.parts = [(0, 0, stream.seek(0, 2))]  # (codestream offset, file offset, length)
        else:
            self.parts = self._boxed()

    def _boxed(self) -> list[tuple[int, int, int]]:
        parts: list[tuple[int, int, int]] = []
        position, end, total = 0, self.stream.seek(0, 2), 0
        for _ in range(_MAX_BOXES):
            self.stream.seek(position)
            head = self.stream.read(16)
            if len(head) < 8 or len(parts) > _MAX_PARTS:
                break
            size, kind = struct.unpack_from(">I4s", head)
            header = 8
            if size == 1:
                (size,) = struct.unpack_from(">Q", head, 8)
                header = 16
            elif size == 0:
                size = end - position
            if size < header:
                raise ValueError(f"corrupt: a {kind!r} box of {size} bytes")
            skip = {b"jxlc": 0, b"jxlp": 4}.get(kind)  # jxlp: a 4-byte index first
            length = min(size, end - position) - header - (skip or 0)
            if skip is not None and length > 0:
                parts.append((total, position + header + skip, length))
                total += length
            position += size
        if not parts:
            raise ValueError("no codestream (jxlc, jxlp)")
        return parts

    def read(self, offset: int, count: int) -> bytes:
        """Read up to ``count`` bytes of the codestream from ``offset``, across its parts."""
        chunks = []
        for start, at, length in self.parts:
            if start + length <= offset or count <= 0:
                continue
            skip = max(0, offset - start)
            self.stream.seek(at + skip)
            chunk = self.stream.read(min(count, length - skip))
            chunks.append(chunk)
            offset, count = offset + len(chunk), count - len(chunk)
        return b"".join(chunks)

    @property
    def length(self) -> int:
        """The codestream's length in bytes, its parts together."""
        start, _, length = self.parts[-1]
        return start + length


def size_header(reader: Bits) -> tuple[int, int]:
    """Read a SizeHeader: width and height."""
    small = reader.read(1)
    height = (reader.read(5) + 1) * 8 if small else reader.u32(*_SIZES)
    ratio = reader.read(3)
    if ratio:
        across, down = _RATIOS[ratio]
        return height * across // down, height
    return ((reader.read(5) + 1) * 8 if small else reader.u32(*_SIZES)), height


def _preview(reader: Bits) -> None:
    """Read past a PreviewHeader (its size, in its own distributions)."""
    div8 = reader.read(1)
    for side in range(2):
        if side and reader.read(3):  # a ratio: no width of its own
            return
        if div8:
            reader.u32((0, 16), (0, 32), (5, 1), (9, 33))
        else:
            reader.u32((6, 1), (8, 65), (10, 321), (12, 1345))


def image_metadata(
    reader: Bits, width: int, height: int
) -> tuple[_Image, tuple[int, int], int, int]:
    """Read the ImageMetadata: the image's record, its size as shown, bits and samples."""
    if reader.read(1):  # all_default: 8-bit RGB, XYB, no animation
        return _Image(width, height, True, 0, None, None), (width, height), 8, 3
    turned, animation, preview, timing_at = False, None, False, 0
    extra_fields = reader.read(1)
    if extra_fields:
        turned = reader.read(3) >= 4  # EXIF's orientation 5 to 8, less one: its decoder turns it
        if reader.read(1):
            size_header(reader)  # intrinsic size
        if reader.read(1):
            _preview(reader)
            preview = True
        if reader.read(1):  # an animation: its timing
            timing_at = reader.position
            animation = (
                reader.u32(*TICKS),
                reader.u32(*TICKS_OVER),
                reader.u32(*LOOPS),
                bool(reader.read(1)),
            )
    bits = _bit_depth(reader)
    reader.read(1)  # modular_16bit_buffers
    extra = reader.u32((0, 0), (0, 1), (4, 2), (12, 1))
    if extra > MAX_EXTRA_CHANNELS:
        raise ValueError(f"{extra} extra channels")
    alpha = False
    for _ in range(extra):  # each read whole, to reach the colour space after them
        alpha = _extra_channel_is_alpha(reader) or alpha
    xyb = bool(reader.read(1))
    grey, profile = _colour(reader)
    samples = (1 if grey else 3) + alpha
    shown = (height, width) if turned else (width, height)
    if animation is None:  # a still picture: the rest is not needed
        return _Image(width, height, xyb, extra, None, None, profile), shown, bits, samples
    if extra_fields:
        _tone_mapping(reader)
    _extensions(reader)
    _transform(reader, xyb)
    before = "its own colour profile" if profile else "a preview picture" if preview else None
    counted = before and f"{before} before its frames"
    image = _Image(
        width, height, xyb, extra, animation, counted, profile, timing_at, reader.position
    )
    return image, shown, bits, samples


def _bit_depth(reader: Bits) -> int:
    if reader.read(1):  # float samples
        bits = reader.u32((0, 32), (0, 16), (0, 24), (6, 1))
        reader.read(4)  # exponent bits
        return bits
    return reader.u32((0, 8), (0, 10), (0, 12), (6, 1))


def _extra_channel_is_alpha(reader: Bits) -> bool:
    """Read past an ExtraChannelInfo; whether it is alpha."""
    if reader.read(1):  # all_default: 8-bit alpha
        return True
    kind = reader.enum()
    _bit_depth(reader)
    reader.u32((0, 0), (0, 3), (0, 4), (3, 1))  # dim_shift
    _name(reader)
    if kind == 0:
        reader.read(1)  # alpha_associated
    elif kind == 2:  # a spot colour: four half floats
        reader.skip(64)
    elif kind == 5:  # a colour filter array channel
        reader.u32((0, 1), (2, 0), (4, 3), (8, 19))
    return kind == 0


def _name(reader: Bits) -> None:
    reader.skip(8 * reader.u32((0, 0), (4, 0), (5, 16), (10, 48)))


def _colour(reader: Bits) -> tuple[bool, bool]:
    """Read a ColourEncoding: whether it is grey, and whether an ICC profile follows the headers."""
    if reader.read(1):  # all_default: sRGB
        return False, False
    want_icc = bool(reader.read(1))
    space = reader.enum()
    if not want_icc and space != _XYB and reader.enum() == 2:  # a custom white point
        _custom_xy(reader)
    if not want_icc and space not in (1, _XYB) and reader.enum() == 2:  # custom primaries
        for _ in range(3):  # red, green, blue
            _custom_xy(reader)
    if not want_icc:
        if space != _XYB:  # the transfer function
            if reader.read(1):
                reader.skip(24)  # a gamma
            else:
                reader.enum()
        reader.enum()  # rendering intent
    return space == 1, want_icc


def _custom_xy(reader: Bits) -> None:
    for _ in range(2):
        reader.u32((19, 0), (19, 524288), (20, 1048576), (21, 2097152))


def _tone_mapping(reader: Bits) -> None:
    if not reader.read(1):  # all_default
        reader.skip(16 + 16 + 1 + 16)  # intensity target, minimum nits, relative, linear below


def _extensions(reader: Bits) -> None:
    """Read past an Extensions bundle: a mask, then each extension's length in bits."""
    mask = reader.u64()
    lengths = [reader.u64() for bit in range(64) if mask >> bit & 1]
    reader.skip(sum(lengths))


def _transform(reader: Bits, xyb: bool) -> None:
    """Read past the CustomTransformData that ends the image's metadata."""
    if reader.read(1):  # default_m
        return
    if xyb and not reader.read(1):  # an opsin inverse matrix not all default
        reader.skip(16 * 16)
    mask = reader.read(3)  # custom upsampling weights
    reader.skip(16 * (15 * (mask & 1) + 55 * (mask >> 1 & 1) + 210 * (mask >> 2 & 1)))


class _Uncounted(Exception):
    """Why an animation's frames cannot be counted without an entropy decoder."""


@dataclass(frozen=True)
class _Walked:
    """A frame or layer as walked: where it starts and ends, and its header's fields."""

    offset: int  # its first byte in the codestream
    header_bits: int  # of its FrameHeader and the TOC's permutation flag, before padding
    timed_at: int | None  # the bit, from ``offset``, where its duration is, if it has one
    duration: int  # ticks
    shown: bool  # one of the frames a decoder gives
    end: int  # the byte after its sections


def _frames(parts: Codestream, offset: int, image: _Image) -> list[int]:
    """Walk the frames from ``offset``: the duration, in ticks, of each frame shown."""
    return [walked.duration for walked in walk(parts, offset, image) if walked.shown]


def walk(parts: Codestream, offset: int, image: _Image) -> Iterator[_Walked]:
    """Walk the frames and layers from ``offset``, to the last frame."""
    budget = MAX_SECTIONS
    for _ in range(MAX_FRAMES * 16):  # layers not shown count towards the bound too
        reader, (kind, duration, last, sections, timed_at) = _frame_at(parts, offset, image)
        budget -= sections
        if budget < 0:
            raise ValueError(f"more than {MAX_SECTIONS} sections in its frames")
        if reader.read(1):
            raise _Uncounted("a permuted table of contents")  # (entropy-coded)
        header_bits = reader.position
        reader.to_byte()
        start = offset + reader.position // 8
        reader = Bits(parts.read(start, 4 * sections + 1))
        size = sum(
            reader.u32((10, 0), (14, 1024), (22, 17408), (30, 4211712)) for _ in range(sections)
        )
        reader.to_byte()
        end = start + reader.position // 8 + size
        if end > parts.length:
            raise ValueError("truncated: a frame runs past the end of the file")
        shown = kind in (_REGULAR, _SKIP_PROGRESSIVE) and bool(duration or last)
        yield _Walked(offset, header_bits, timed_at, duration, shown, end)  # (bounded by caller)
        if last:
            return
        offset = end
    raise ValueError(f"more than {MAX_FRAMES * 16} frames and layers")


def _frame_at(
    parts: Codestream, offset: int, image: _Image
) -> tuple[Bits, tuple[int, int, bool, int, int | None]]:
    """Read the FrameHeader at ``offset``: its reader, left at its end, and its fields."""
    head = parts.read(offset, FRAME_HEADER)
    try:
        reader = Bits(head)
        return reader, _frame(reader, image)
    except IndexError:
        if len(head) < FRAME_HEADER:
            raise
    reader = Bits(parts.read(offset, MAX_FRAME_HEADER))  # a long name, or extensions
    return reader, _frame(reader, image)


def _frame(reader: Bits, image: _Image) -> tuple[int, int, bool, int, int | None]:
    """Read a FrameHeader: its type, duration, whether it is the last, its sections, timing's bit.

    The duration is in ticks; the bit is where the duration starts (None: it has none).
    """
    if reader.read(1):  # all_default: a regular VarDCT frame, the last, of the image's size
        return _REGULAR, 0, True, _sections(image.width, image.height, 256, 1, (0, 0)), None
    kind = reader.read(2)
    modular, upsampling, group, passes, chroma = _coding(reader, image, kind)
    width, height, partial = _placement(reader, image, kind)
    duration, replace, last, timed_at = 0, False, False, None
    if kind in (_REGULAR, _SKIP_PROGRESSIVE):
        replace = _blending(reader, image.extra, partial)
        for _ in range(image.extra):
            _blending(reader, image.extra, partial)
        if image.animation is not None:
            timed_at = reader.position
            duration = reader.u32(*DURATION)
            reader.skip(32 * image.animation[3])  # a timecode
        last = bool(reader.read(1)) and kind == _REGULAR
    saved = reader.read(2) if kind != _DC and not last else 0
    referenced = not last and kind != _DC and (duration == 0 or saved != 0)
    shown = kind in (_REGULAR, _SKIP_PROGRESSIVE)
    if kind == _REFERENCE_ONLY or (referenced and replace and not partial and shown):
        reader.read(1)  # save before the colour transform
    _name(reader)
    _restoration(reader, modular)
    _extensions(reader)
    size = (-(-width // upsampling), -(-height // upsampling))
    return kind, duration, last, _sections(*size, group, passes, chroma), timed_at


def _coding(reader: Bits, image: _Image, kind: int) -> tuple[bool, int, int, int, tuple[int, int]]:
    """Read how a frame is coded: modular, upsampling, group side, passes, chroma shifts."""
    modular = bool(reader.read(1))
    flags = reader.u64()
    chroma = (0, 0)  # the largest horizontal and vertical subsampling shifts
    if not image.xyb and reader.read(1) and not flags & _USE_DC_FRAME:  # YCbCr, subsampled
        modes = [reader.read(2) for _ in range(3)]  # 4:4:4, 4:2:0, 4:2:2, 4:4:0
        chroma = (int(any(m in (1, 2) for m in modes)), int(any(m in (1, 3) for m in modes)))
    upsampling = 1
    if not flags & _USE_DC_FRAME:
        upsampling = 1 << reader.read(2)
        reader.skip(2 * image.extra)  # each extra channel's
    shift = reader.read(2) if modular else 1
    if not modular and image.xyb:
        reader.skip(6)  # x and b quantisation matrix scales
    passes = _passes(reader) if kind != _REFERENCE_ONLY else 1
    return modular, upsampling, 128 << shift, passes, chroma


def _placement(reader: Bits, image: _Image, kind: int) -> tuple[int, int, bool]:
    """Read a frame's size (a DC frame's, or a cropped one's) and whether it covers a part."""
    width, height = image.width, image.height
    if kind == _DC:
        scale = 1 << 3 * (reader.read(2) + 1)
        return -(-width // scale), -(-height // scale), False
    if not reader.read(1):  # no custom size or origin
        return width, height, False
    x0 = y0 = 0
    shown = kind in (_REGULAR, _SKIP_PROGRESSIVE)
    if shown:  # an origin
        x0, y0 = _signed(reader.u32(*_ORIGIN)), _signed(reader.u32(*_ORIGIN))
    xsize, ysize = reader.u32(*_ORIGIN), reader.u32(*_ORIGIN)
    partial = shown and (x0 > 0 or y0 > 0 or x0 + xsize < width or y0 + ysize < height)
    return xsize or width, ysize or height, partial


_ORIGIN = ((8, 0), (11, 256), (14, 2304), (30, 18688))


def _signed(value: int) -> int:
    return -((value + 1) >> 1) if value & 1 else value >> 1


def _sections(width: int, height: int, group: int, passes: int, chroma: tuple[int, int]) -> int:
    """Count a frame's sections: one, or the global ones, the DC groups and each pass's groups."""
    groups = -(-width // group) * -(-height // group)
    (hshift, vshift), blocks = chroma, 8  # blocks of 8 pixels, whole subsampled blocks
    across = -(-width // (blocks << hshift)) << hshift
    down = -(-height // (blocks << vshift)) << vshift
    dc_groups = -(-across // group) * -(-down // group)
    return 1 if groups == 1 and passes == 1 else 2 + dc_groups + groups * passes


def _passes(reader: Bits) -> int:
    passes = reader.u32((0, 1), (0, 2), (0, 3), (3, 4))
    if passes != 1:
        downsampled = reader.u32((0, 0), (0, 1), (0, 2), (1, 3))
        reader.skip(2 * (passes - 1) + 2 * downsampled)  # shifts, downsamplings (2-bit selectors)
        for _ in range(downsampled):
            reader.u32((0, 0), (0, 1), (0, 2), (3, 0))  # the last pass of each
    return passes


def _blending(reader: Bits, extra: int, partial: bool) -> bool:
    """Read a BlendingInfo; whether its mode is to replace."""
    mode = reader.u32((0, 0), (0, 1), (0, 2), (2, 3))
    if extra and mode in (2, 3):
        reader.u32((0, 0), (0, 1), (0, 2), (3, 3))  # the alpha channel
    if (extra and mode in (2, 3)) or mode == 4:
        reader.read(1)  # clamp
    if mode != 0 or partial:
        reader.read(2)  # the reference frame to blend onto
    return mode == 0


def _restoration(reader: Bits, modular: bool) -> None:
    """Read past the RestorationFilter (Gabor-like and edge-preserving filters' settings)."""
    if reader.read(1):  # all_default
        return
    if reader.read(1) and reader.read(1):  # gab, its custom weights
        reader.skip(6 * 16)
    if reader.read(2):  # edge-preserving iterations
        if not modular and reader.read(1):  # sharpness
            reader.skip(8 * 16)
        if reader.read(1):  # weights: channel scales, then 32 bits
            reader.skip(3 * 16 + 32)
        if reader.read(1):  # sigma
            reader.skip((0 if modular else 16) + 3 * 16)
        if modular:
            reader.skip(16)
    _extensions(reader)
