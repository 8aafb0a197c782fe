"""Decoders beside Pillow: full depth where Pillow holds only 8 bits, large PNGs and JPEGs faster.

Pillow keeps 16-bit grey and float grey whole, but decodes 16-bit colour
(and 16-bit grey with alpha) to 8 bits, reads signed and 32-bit integer
TIFF samples as other values, and cannot open float colour TIFF or BigTIFF.
Those are decoded here: PNG by imagecodecs (libpng), TIFF by tifffile (with
imagecodecs for its compressions). imagecodecs also decodes large plain
PNGs (in about 0.5x Pillow's CPU time) and large JPEGs (0.3x: the same
libjpeg-turbo, the same pixels), straight into the array, with no decoded
Pillow image beside it (benchmarks/README.md). Pillow still opens them: their
metadata is read as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.errors import InputError
from convcli.limits import MAX_JPEG_METADATA, MAX_JPEG_SEGMENTS, METADATA_BYTES

if TYPE_CHECKING:  # Pillow's module: a decode started ahead needs none of it (readahead)
    from convcli.io.metadata import Metadata

_PNG_COLOUR_WITH_16_BITS = (2, 4, 6)  # RGB, grey+alpha, RGBA (IHDR colour types)
_PNG_PLAIN_COLOUR = (0, 2, 4, 6)  # grey, RGB, grey+alpha, RGBA: no palette
_TIFF_RGB, _TIFF_GREY = 2, 1  # PhotometricInterpretation
DIRECT_PIXELS = 1 << 20  # below this, Pillow's decode is over before imagecodecs imports
_JPEG_END = b"\xff\xd9"  # EOI: libjpeg-turbo, through imagecodecs, fills a cut file in silence
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn: not DHT, JPG, DAC


def direct_bytes(source: Path | bytes, jpeg: bool, pixels: int) -> bytes | None:
    """Return a large PNG or JPEG whole if imagecodecs decodes it as Pillow would; else None.

    ``pixels``: the picture's, from its header. The file is read whole, so
    only one no larger than its samples could be (8 bytes a pixel) and some
    metadata: a larger one is Pillow's to stream.
    """
    if pixels < DIRECT_PIXELS:
        return None
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if size > 8 * pixels + METADATA_BYTES:
        return None
    data = source if isinstance(source, bytes) else source.read_bytes()
    directly = jpeg_decodes_directly(data) if jpeg else png_decodes_directly(data)
    return data if directly else None


def jpeg_frame(stream: BinaryIO, label: str) -> tuple[int, int, int, int] | None:
    """Walk a JPEG's segments up to its pixels, refusing too much metadata before them.

    Returns its frame header's (width, height, components, bits), the last
    before the pixels as Pillow takes it; None if there is none.
    """
    count = total = 0
    frame = None
    stream.seek(2)  # after SOI
    while (header := stream.read(4)) and len(header) == 4 and header[0] == 0xFF:
        marker, length = header[1], int.from_bytes(header[2:], "big")
        if marker == 0xDA or length < 2:  # the pixels begin (or a broken header: Pillow says)
            break
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            count, total = count + 1, total + length
            if count > MAX_JPEG_SEGMENTS or total > MAX_JPEG_METADATA:
                raise InputError(
                    f"{label}: more than {MAX_JPEG_SEGMENTS} metadata segments or "
                    f"{MAX_JPEG_METADATA:,} bytes of metadata before the pixels; "
                    "refused unread"
                )
        if marker in _JPEG_FRAMES and length >= 8:
            if len(fields := stream.read(6)) < 6:
                break
            bits, height, width, components = struct.unpack(">BHHB", fields)
            frame, length = (width, height, components, bits), length - 6
        stream.seek(length - 2, io.SEEK_CUR)
    return frame


def png_needs_depth(head: bytes) -> bool:
    """Whether a PNG's header announces samples Pillow would cut to 8 bits.

    The IHDR chunk comes first: bit depth at byte 24, colour type at byte 25.

    Examples
    --------
    >>> png_needs_depth(bytes(24) + bytes([16, 2])), png_needs_depth(bytes(24) + bytes([16, 0]))
    (True, False)
    """
    return len(head) > 25 and head[24] == 16 and head[25] in _PNG_COLOUR_WITH_16_BITS


def png_decodes_directly(data: bytes) -> bool:
    """Whether imagecodecs would give this PNG's pixels as Pillow does, and skip no metadata.

    Grey, grey and alpha, RGB or RGBA at 8 or 16 bits, without a transparency
    chunk (Pillow keeps it apart, libpng would add alpha) or animation; and
    nothing but the end after the pixels, since Pillow reads chunks there
    only while decoding.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (4, 3)).save(png, "PNG")
    >>> png_decodes_directly(png.getvalue()), png_decodes_directly(png.getvalue()[:-12])
    (True, False)
    """
    if len(data) < 33 or data[24] not in (8, 16) or data[25] not in _PNG_PLAIN_COLOUR:
        return False
    position, pixels_seen = 8, False
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        kind = bytes(kind)
        if kind in (b"tRNS", b"acTL"):
            return False
        if kind == b"IDAT":
            pixels_seen = True
        elif pixels_seen:
            return kind == b"IEND"
        position += 12 + length
    return False


def jpeg_decodes_directly(data: bytes) -> bool:
    """Whether a JPEG (8-bit grey or YCbCr, as Pillow opened it) ends whole, with its EOI marker.

    Pillow refuses a file cut short; imagecodecs would fill in the rest.
    """
    return data.endswith(_JPEG_END)


def tiff_needs_depth(tags: Any) -> bool:
    """Whether a TIFF's tags (Pillow's ``tag_v2``) announce colour Pillow would cut to 8 bits."""
    bits = tags.get(258, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    photometric = tags.get(262)
    return int(tags.get(277, 1)) > 1 and max(bits) > 8 and photometric in (_TIFF_RGB, _TIFF_GREY)


def decode_png(source: Path | bytes) -> npt.NDArray[np.generic]:
    """Decode a whole PNG at its own depth: (H, W) or (H, W, C)."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    try:
        array: npt.NDArray[np.generic] = codec(jpeg=False)(data)
    except RuntimeError as error:  # imagecodecs' errors: a truncated or corrupt file
        raise ValueError(f"corrupt: {error}") from None
    return array


def decode_jpeg(data: bytes) -> npt.NDArray[np.generic] | None:
    """Decode a whole 8-bit JPEG: (H, W) or (H, W, 3); None where imagecodecs fails.

    A file imagecodecs cannot decode is Pillow's again, which then says what is wrong.
    """
    try:
        array: npt.NDArray[np.generic] = codec(jpeg=True)(data)
    except RuntimeError:  # imagecodecs' Jpeg8Error
        return None
    return array


def codec(jpeg: bool) -> Callable[[bytes], npt.NDArray[np.generic]]:
    """Return imagecodecs' JPEG or PNG decoder, its library loaded (on first use, GIL held)."""
    import imagecodecs  # its libraries load when a file needs them, never at start-up

    decoder: Callable[[bytes], npt.NDArray[np.generic]]
    decoder = imagecodecs.jpeg8_decode if jpeg else imagecodecs.png_decode
    return decoder


def open_tiff(source: Path | bytes) -> Any:
    """Open a TIFF with tifffile (its header only); ``ValueError`` if it is not one."""
    import tifffile

    # tifffile logs what it makes of a bad tag; convcli's one error line says what matters.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        return tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except tifffile.TiffFileError as error:
        raise ValueError(str(error)) from None


def decode_tiff_page(page: Any) -> npt.NDArray[np.generic]:
    """Decode a tifffile page at its own depth: (H, W) or (H, W, C), samples last."""
    try:
        array: npt.NDArray[np.generic] = page.asarray()
    except RuntimeError as error:  # imagecodecs' errors, through tifffile: corrupt data
        raise ValueError(f"corrupt: {error}") from None
    if array.ndim == 3 and page.planarconfig == 2:  # separate planes: samples first
        array = np.moveaxis(array, 0, -1)
    return array


def orient(array: npt.NDArray[np.generic], orientation: int) -> npt.NDArray[np.generic]:
    """Apply an EXIF or TIFF orientation (1 to 8) to an array of rows x columns [x samples].

    The same turns as Pillow's ``ImageOps.exif_transpose``.

    Examples
    --------
    >>> orient(np.array([[1, 2], [3, 4]]), 6).tolist()  # turned a quarter clockwise
    [[3, 1], [4, 2]]
    """
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    turned: npt.NDArray[np.generic] = turns.get(orientation, lambda a: a)(array)
    return np.ascontiguousarray(turned)


def tiff_page_metadata(page: Any) -> Metadata:
    """Read a tifffile page's colour profile, resolution and provenance."""
    from convcli.io.metadata import Metadata, exif_of_tiff  # Pillow's: see the imports

    tags = page.tags

    def text(code: int) -> str | None:
        value = tags.valueof(code)
        return value if isinstance(value, str) and value else None

    dpi = None
    x, y, unit = tags.valueof(282), tags.valueof(283), tags.valueof(296, 2)
    with contextlib.suppress(TypeError, ValueError, KeyError, ZeroDivisionError):
        per_inch = {2: 1.0, 3: 2.54}[int(unit)]  # inch, centimetre; 1: no absolute unit
        dpi = (x[0] / x[1] * per_inch, y[0] / y[1] * per_inch)
    icc = tags.valueof(34675)
    descriptive = {tag.code: tag.value for tag in tags.values()}
    turned = tags.valueof(274, 1) != 1
    return Metadata(
        icc=bytes(icc) if icc else None, exif=exif_of_tiff(descriptive, turned), dpi=dpi,
        software=text(305), description=text(270), bigtiff=page.parent.is_bigtiff,
    )  # fmt: skip
