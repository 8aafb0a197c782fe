"""AVIF, JPEG XL, JPEG 2000 and QOI: read and written with imagecodecs.

A file's size is read from its own header (within its first MiB: ISO boxes,
a JPEG 2000 SIZ segment, JPEG XL's bit-packed size header, QOI's 14 bytes)
and checked against ``--max-pixels`` before anything is decoded. Samples of
other than 8 or 16 bits (10 and 12 for AVIF, JPEG XL and JPEG 2000) are held
at the next of those, scaled so that white is white (1023 becomes 65535,
exactly reversible), and written back at their own bits where the output
format holds them (:attr:`Metadata.bits`).
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import replace
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli import extras
from convcli.choices import FileFormat
from convcli.io import avif, isobmff, jxl, jxltiming
from convcli.io.layout import Layout
from convcli.io.metadata import ORIENTATION, Metadata, exif_for, exif_provenance

HEADER_BYTES = 1 << 20  # what is read to find a size; the boxes before the pixels fit
AVIF_SPEED = 8  # libavif's 0 (slowest) to 10: a 12-megapixel photo in about a second (README)
AVIF_QUALITY = 80  # libavif's default is 60: visibly softer on photographs
AVIF_BITS = 12  # the most AVIF holds: where a 16-bit input goes
_QOI_END = bytes(7) + b"\x01"
_EXIF_UUID = b"JpgTiffExif->JP2"  # the UUID box ExifTool and Exiv2 keep EXIF in


def read_layout(stream: BinaryIO, kind: FileFormat) -> Layout:
    """Read the size and sample layout from a file's first MiB, decoding no pixel.

    A JPEG XL animation's frame headers are read through the whole file.
    """
    if kind == FileFormat.JXL:
        try:
            found = jxl.read_header(stream)
        except (struct.error, IndexError) as error:
            raise ValueError(f"cut short in its header ({type(error).__name__})") from None
        laid_out = _laid_out(found.width, found.height, found.bits, found.samples,
                             frames=found.frames)  # fmt: skip
        return replace(laid_out, durations=found.durations, plays=found.plays)
    return layout(stream.read(HEADER_BYTES), kind)


def layout(head: bytes, kind: FileFormat) -> Layout:
    """Read the size and sample layout from a file's first bytes, decoding no pixel.

    The bits of a sample are its white's (8, 16, or 32 for float) unless
    noted in its metadata (:attr:`Metadata.bits`: 10 and 12, say).

    Raises
    ------
    ValueError
        When the header is cut short or broken.

    Examples
    --------
    >>> found = layout(b"qoif" + struct.pack(">II", 640, 480) + bytes([4, 0]), FileFormat.QOI)
    >>> found.width, found.height, found.samples, found.alpha, found.white
    (640, 480, 4, True, 255.0)
    >>> found.bits, found.turns, found.frames
    (8, (), 1)
    """
    try:
        if kind == FileFormat.QOI:
            width, height, channels = struct.unpack_from(">IIB", head, 4)
            return _laid_out(width, height, 8, channels)
        if kind == FileFormat.J2K:
            return _siz(head)
        if kind == FileFormat.JP2:
            return _jp2_layout(head)
        if kind == FileFormat.JXL:
            return read_layout(io.BytesIO(head), kind)
        return _avif_layout(head)
    except (struct.error, IndexError) as error:
        raise ValueError(f"cut short in its header ({type(error).__name__})") from None


def _laid_out(
    width: int, height: int, bits: int, samples: int,
    turns: tuple[tuple[bytes, int], ...] = (), frames: int = 1,
) -> Layout:  # fmt: skip
    """Make a header's Layout: 2 or 4 samples end in alpha; bits not 8, 16 or 32 noted."""
    if not 1 <= samples <= 4 or not (1 <= bits <= 16 or bits == 32):
        raise ValueError(
            f"{samples} samples of {bits} bits a pixel, a layout convcli does not read"
        )
    white = 1.0 if bits == 32 else 65535.0 if bits > 8 else 255.0
    noted = Metadata(bits=bits if bits not in (8, 16, 32) else None)
    return Layout(width, height, samples, samples in (2, 4), white, frames, noted, turns=turns)


def decode(
    stream: BinaryIO, known: Layout, start: int, kind: FileFormat
) -> list[npt.NDArray[np.generic]]:
    """Decode every picture of the whole file; return those from ``start``.

    Each is (H, W) or (H, W, C) at 8 or 16 bits. An AVIF sequence is decoded
    whole: imagecodecs' decoder, asked for one picture, writes the ones after
    it past its end.
    """
    import imagecodecs  # its libraries load when a file needs them, never at start-up

    data = stream.read()
    jxl_index = None if known.frames > 1 else 0  # all, as counted; else the first frame alone

    decoders = {
        FileFormat.AVIF: imagecodecs.avif_decode,
        FileFormat.JXL: lambda d: imagecodecs.jpegxl_decode(d, index=jxl_index),
        FileFormat.JP2: imagecodecs.jpeg2k_decode,
        FileFormat.J2K: imagecodecs.jpeg2k_decode,
        FileFormat.QOI: imagecodecs.qoi_decode,
    }
    if kind == FileFormat.QOI and not data.endswith(_QOI_END):  # its decoder fills in silence
        raise ValueError("truncated: no end marker")
    try:
        array: npt.NDArray[np.generic] = decoders[kind](data)
    except (RuntimeError, IndexError, imagecodecs.DelayedImportError) as error:
        raise ValueError(f"corrupt: {error}") from None
    except Exception as error:  # imagecodecs' own exception types, one per codec
        if type(error).__module__.startswith("imagecodecs"):
            raise ValueError(f"corrupt: {error}") from None
        raise
    pictures = list(array) if known.frames > 1 else [array]
    if len(array) != known.frames and known.frames > 1:
        raise ValueError(f"corrupt: decoded {array.shape}, unlike its header")
    if array.dtype.kind in "iu" and array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{array.dtype} samples, which convcli does not read")
    return [_checked(picture, known) for picture in pictures][start:]


def _checked(picture: npt.NDArray[np.generic], known: Layout) -> npt.NDArray[np.generic]:
    """Turn a picture as its file says, check it against its header, and widen its samples."""
    picture = _turned(picture, known.turns)  # (JPEG XL's decoder turns it by its orientation)
    samples = picture.shape[2] if picture.ndim == 3 else 1
    if picture.shape[:2] != (known.height, known.width) or samples != known.samples:
        raise ValueError(f"corrupt: decoded {picture.shape}, unlike its header")
    return _widened(picture, known.bits)


def _turned(
    array: npt.NDArray[np.generic], turns: tuple[tuple[bytes, int], ...]
) -> npt.NDArray[np.generic]:
    """Apply AVIF's irot (quarter turns anticlockwise) and imir (0: top and bottom swapped)."""
    for kind, value in turns:
        array = np.rot90(array, value) if kind == b"irot" else np.flip(array, value)
    return np.ascontiguousarray(array)


def _widened(array: npt.NDArray[np.generic], bits: int) -> npt.NDArray[np.generic]:
    """Scale samples of ``bits`` to the full range of their type: round(v * 65535 / 1023)."""
    if array.dtype.kind == "f" or bits in (8, 16) or not 1 <= bits <= 16:
        return array
    full, top = (255 if array.dtype == np.uint8 else 65535), (1 << bits) - 1
    wide = (array.astype(np.uint32) * full + top // 2) // top
    return wide.astype(array.dtype)


def metadata(data: bytes, known: Layout, header_only: bool, kind: FileFormat) -> Metadata:
    """Read what a file carries besides its pixels, where imagecodecs' formats hold it.

    AVIF's colour profile and EXIF and JPEG 2000's resolution, as Pillow
    reads their headers; a JP2's profile from its colr box; EXIF (and so
    provenance) from a JPEG XL Exif box or a JP2's EXIF UUID box; a JPEG XL's
    own colour profile (inside its codestream) through the jxl extra, unless
    ``header_only`` (a header probed: reading it decodes the whole picture).
    """
    kept = known.metadata  # the bits, noted in the header's
    if kind in (FileFormat.AVIF, FileFormat.JP2):
        from convcli.io.metadata import read_metadata

        try:
            with Image.open(io.BytesIO(data), formats=[_PILLOW[kind]]) as image:  # header only
                kept = replace(read_metadata(image, turned=False), bits=kept.bits)
            if kind == FileFormat.JP2:  # Pillow's JPEG 2000 plugin leaves the profile
                kept = replace(kept, icc=_jp2_profile(data))
        except RuntimeError as error:  # libavif's, through Pillow: a broken header
            raise ValueError(f"corrupt: {error}") from None
    if kind == FileFormat.JXL and not header_only and jxl.has_own_profile(io.BytesIO(data)):
        kept = replace(kept, icc=_jxl_profile(data))
    exif = _box_exif(data, kind)
    if exif is None:
        return kept
    found = Image.Exif()
    found.load(exif)
    if ORIENTATION in found:  # the decoder applied it
        found[ORIENTATION] = 1
    software, description = exif_provenance(found)
    return replace(kept, exif=found.tobytes(), software=software, description=description)


_PILLOW = {FileFormat.AVIF: "AVIF", FileFormat.JP2: "JPEG2000"}


def _jxl_profile(data: bytes) -> bytes | None:
    """Return a JPEG XL's own colour profile, read by pillow-jxl-plugin (the jxl extra).

    Its Pillow plugin, registered when it is imported, decodes the whole
    picture to open it: only its profile is taken (the pixels are
    imagecodecs'), and only for a file that has a profile of its own (for
    another it would make one up). Without the extra a note says which it is.
    """
    if extras.optional(extras.JXL[0]) is None:
        warnings.warn(
            f"its own colour profile needs {extras.brought_by(*extras.JXL)}; "
            "the output carries none",
            stacklevel=2,
        )
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # of its pixels (float16 widened), not convcli's
            with Image.open(io.BytesIO(data), formats=["JXL"]) as image:
                profile = image.info.get("icc_profile")
    except RuntimeError as error:  # libjxl's, through the plugin
        raise ValueError(f"corrupt: {error}") from None
    return bytes(profile) if profile else None


def encode(
    stream: BinaryIO,
    array: npt.NDArray[np.generic],
    _alpha: bool,
    metadata: Metadata,
    quality: int | None,
    kind: FileFormat,
) -> None:
    """Write ``array`` (samples last, alpha joined) as ``kind``; lossless unless ``quality``.

    AVIF is lossy (quality :data:`AVIF_QUALITY`, speed :data:`AVIF_SPEED`),
    except at ``--quality 100``; JPEG XL and JPEG 2000 are lossless unless a
    quality is given; QOI is always lossless.
    """
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    bits = _bits(array, kind, metadata)
    narrowed = _narrowed(array, bits)
    if kind == FileFormat.AVIF:
        data = _avif(narrowed, bits, quality)
    elif kind == FileFormat.JXL:
        data = _jxl_with_exif(_jxl(narrowed, bits, quality), metadata)
    elif kind == FileFormat.QOI:
        data = _qoi(narrowed)
    else:
        data = _jpeg2k(narrowed, bits, quality, kind)
        if kind == FileFormat.JP2:
            data = _jp2_with_profile(data, metadata.icc) + _exif_box(b"uuid", _EXIF_UUID, metadata)
    stream.write(data)


def encode_animation(
    stream: BinaryIO,
    pictures: list[npt.NDArray[np.generic]],
    durations: list[int],
    plays: int,
    metadata: Metadata,
    quality: int | None,
    kind: FileFormat,
) -> None:
    """Write pictures as an AVIF sequence or a JPEG XL animation: each frame's duration kept.

    imagecodecs encodes every frame, each 1 s (AVIF) or 100 ms (JPEG XL)
    long and playing forever; convcli then writes each frame's duration in
    milliseconds, and the plays (0: forever), into the file's own headers.
    Frames of 8 and 16 bits together are all written at 16 (exactly: 257x).
    """
    deepest = np.uint16 if any(picture.dtype == np.uint16 for picture in pictures) else np.uint8
    stack = np.stack([_grey_last(_deepened(picture, deepest)) for picture in pictures])
    bits = _bits(stack, kind, metadata)
    narrowed = _narrowed(stack, bits)
    if kind == FileFormat.AVIF:
        stream.write(avif.timed(_avif(narrowed, bits, quality), durations, plays))
    else:
        timed = jxltiming.timed(_jxl(narrowed, bits, quality), durations, plays)
        stream.write(_jxl_with_exif(timed, metadata))


def _deepened(picture: npt.NDArray[np.generic], dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    return picture if picture.dtype == dtype else picture.astype(dtype) * 257


def _grey_last(picture: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """Give a grey picture its one sample axis: a stack of grey frames is not read as colour."""
    return picture[..., None] if picture.ndim == 2 else picture


def _avif(array: npt.NDArray[np.generic], bits: int, quality: int | None) -> bytes:
    import imagecodecs

    level = AVIF_QUALITY if quality is None else quality
    return bytes(imagecodecs.avif_encode(array, level=level, speed=AVIF_SPEED, bitspersample=bits))


def _jxl(array: npt.NDArray[np.generic], bits: int, quality: int | None) -> bytes:
    import imagecodecs

    if quality is None:
        return bytes(imagecodecs.jpegxl_encode(array, lossless=True, bitspersample=bits))
    return bytes(imagecodecs.jpegxl_encode(array, level=quality, bitspersample=bits))


def _jpeg2k(
    array: npt.NDArray[np.generic], bits: int, quality: int | None, kind: FileFormat
) -> bytes:
    import imagecodecs

    # Lossless (reversible); with --quality N, lossy to a PSNR of 25 + N/4 dB (N=100: 50 dB).
    data = imagecodecs.jpeg2k_encode(
        array, level=None if quality is None else 25 + quality // 4,
        codecformat=kind.upper(), bitspersample=bits, reversible=quality is None,
    )  # fmt: skip
    return bytes(data)


def _qoi(array: npt.NDArray[np.generic]) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.qoi_encode(_as_rgb(array)))


def _bits(array: npt.NDArray[np.generic], kind: FileFormat, metadata: Metadata) -> int:
    """Choose the bits to write: the input's own where the format holds them."""
    if array.dtype == np.uint8:
        return 8
    most = AVIF_BITS if kind == FileFormat.AVIF else 16
    return min(metadata.bits or 16, most)


def _narrowed(array: npt.NDArray[np.generic], bits: int) -> npt.NDArray[np.generic]:
    """Undo :func:`_widened`: 16-bit samples back to ``bits`` (exactly, for what was widened)."""
    if array.dtype != np.uint16 or bits == 16:
        return array
    top = (1 << bits) - 1
    return ((array.astype(np.uint32) * top + 32767) // 65535).astype(np.uint16)


def _as_rgb(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """QOI holds RGB and RGBA only: grey is written as three equal channels."""
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 2:
        return np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2)
    return array


def _tiff_exif(metadata: Metadata) -> bytes | None:
    """Build an output's EXIF (the input's, provenance, resolution): a bare TIFF structure."""
    exif = exif_for(metadata, with_dpi=True)
    return exif.tobytes().removeprefix(b"Exif\x00\x00") if len(exif) else None


def _exif_box(kind: bytes, prefix: bytes, metadata: Metadata) -> bytes:
    exif = _tiff_exif(metadata)
    return isobmff.box(kind, prefix + exif) if exif else b""


def _jp2_with_profile(data: bytes, icc: bytes | None) -> bytes:
    """Make ``icc`` a JP2's colour specification: a colr box of method 2 (restricted ICC).

    It takes the place of the colour space OpenJPEG names (sRGB or grey),
    after the image header (ihdr) and component depths (bpcc), as the JP2
    header box orders them; no offset in the file points past it.
    """
    if not icc:
        return data
    boxes = []
    for kind, body, stop, header in isobmff.boxes(data):
        if kind != b"jp2h":
            boxes.append(data[body - header : stop])
            continue
        inside = [(k, data[b - h : e]) for k, b, e, h in isobmff.boxes(data, body, stop)]
        before = [box for k, box in inside if k in (b"ihdr", b"bpcc")]
        after = [box for k, box in inside if k not in (b"ihdr", b"bpcc", b"colr")]
        # method 2, precedence 0, approximation 0
        colour = isobmff.box(b"colr", bytes([2, 0, 0]) + icc)
        boxes.append(isobmff.box(b"jp2h", b"".join([*before, colour, *after])))
    return b"".join(boxes)


def _jp2_profile(data: bytes) -> bytes | None:
    """Return the ICC profile of a JP2's colour specification (colr of method 2 or 3), if any."""
    for body in isobmff.find(data, [b"jp2h", b"colr"]):
        if len(body) > 3 and body[0] in (2, 3):
            return body[3:]
    return None


def _jxl_with_exif(data: bytes, metadata: Metadata) -> bytes:
    """Put an Exif box into a JPEG XL file (a container, made from a bare codestream)."""
    exif = _exif_box(b"Exif", bytes(4), metadata)  # 4 bytes: the TIFF header is at offset 0
    if not exif:
        return data
    if data.startswith(b"\xff\x0a"):
        boxes = [isobmff.box(b"jxlc", data)]
    else:
        boxes = [data[start - header : end] for _, start, end, header in isobmff.boxes(data)][2:]
    signature = isobmff.box(b"JXL ", b"\r\n\x87\n")
    return signature + isobmff.box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ") + exif + b"".join(boxes)


def _avif_layout(head: bytes) -> Layout:
    properties = [b"meta", b"iprp", b"ipco"]
    sizes = [
        struct.unpack_from(">II", body, 4) for body in isobmff.find(head, [*properties, b"ispe"])
    ]
    codings = isobmff.find(head, [*properties, b"av1C"])
    if not sizes or not codings:
        raise ValueError("no image size (ispe) or coding (av1C) in its first MiB")
    width, height = max(sizes, key=lambda size: size[0] * size[1])
    flags = codings[0][2]  # high bit depth, twelve bit, monochrome
    bits = 12 if flags & 0x20 else 10 if flags & 0x40 else 8
    meta = b"".join(isobmff.find(head, [b"meta"]))
    alpha = b"auxiliary:alpha" in meta or b"auxid:1" in meta
    turns = avif.turns(head)
    if sum(value for kind, value in turns if kind == b"irot") % 2:
        width, height = height, width
    samples = (1 if flags & 0x10 else 3) + alpha
    frames, durations, plays = avif.frames(head)
    laid_out = _laid_out(width, height, bits, samples, turns, frames)
    return replace(laid_out, durations=durations, plays=plays)


def _jp2_layout(head: bytes) -> Layout:
    headers = isobmff.find(head, [b"jp2h", b"ihdr"])
    if not headers:
        raise ValueError("no image header (ihdr) in its first MiB")
    height, width, samples, depth = struct.unpack_from(">IIHB", headers[0])
    if depth == 255:  # each component its own: the first's
        depth = isobmff.find(head, [b"jp2h", b"bpcc"])[0][0]
    return _laid_out(width, height, _component_bits(depth), samples)


def _siz(head: bytes) -> Layout:
    """Read a JPEG 2000 codestream's size from its SIZ segment (right after SOC)."""
    xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", head, 8)
    (samples,) = struct.unpack_from(">H", head, 40)
    return _laid_out(xsiz - xo, ysiz - yo, _component_bits(head[42]), samples)


def _component_bits(depth: int) -> int:
    if depth & 0x80:
        raise ValueError("signed samples, which convcli does not read")
    return (depth & 0x7F) + 1


def _box_exif(data: bytes, kind: FileFormat) -> bytes | None:
    """Return the EXIF of a JPEG XL Exif box or a JP2 EXIF UUID box (a TIFF structure)."""
    if kind == FileFormat.JXL and not data.startswith(b"\xff\x0a"):
        for body in isobmff.find(data, [b"Exif"]):
            if len(body) >= 4:
                return body[4 + int.from_bytes(body[:4], "big") :] or None
    if kind == FileFormat.JP2:
        for body in isobmff.find(data, [b"uuid"]):
            if body.startswith(_EXIF_UUID):
                return body[16:].removeprefix(b"Exif\x00\x00") or None
    return None
