"""Photoshop's PSD, read by hand: its composite image (the picture as flattened), not its layers.

After a 26-byte header come three sections, each behind its length (colour
mode data, image resources, layers and masks), then the composite: one
plane per channel, raw or PackBits-compressed row by row, big-endian.
Grey and RGB at 8 or 16 bits are read; the first channel past the colour is
alpha (as Pillow and libvips take it); the image resources give the colour
profile (1039) and EXIF (1058). convcli does not write PSD.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.io.layout import Layout, read_exactly
from convcli.io.metadata import Metadata
from convcli.limits import MAX_PSD_RESOURCES

_MODES = {0: "bitmap", 1: "grey", 2: "indexed", 3: "RGB", 4: "CMYK", 7: "multichannel",
          8: "duotone", 9: "Lab"}  # fmt: skip
_COLOUR = {1: 1, 3: 3}  # the modes read, and their colour channels
_ICC, _EXIF = 1039, 1058  # image resource IDs


def psd_layout(stream: BinaryIO) -> Layout:
    """Read the header and the sections before the composite; the stream is left at it."""
    header = read_exactly(stream, 26)
    channels, height, width, depth, mode = struct.unpack(">12xHIIHH", header)
    if mode not in _COLOUR:
        raise ValueError(
            f"a PSD in {_MODES.get(mode, f'mode {mode}')} mode: convcli reads grey and RGB"
        )
    if depth not in (8, 16):
        raise ValueError(f"a {depth}-bit PSD: convcli reads 8 and 16 bits")
    colour = _COLOUR[mode]
    if channels < colour:
        raise ValueError(f"{channels} channels for a {_MODES[mode]} PSD")
    _skip(stream)  # colour mode data
    metadata = _resources(stream)
    _skip(stream)  # layers and masks
    alpha = channels > colour
    white = 255.0 if depth == 8 else 65535.0
    numbers = (channels, depth)
    return Layout(width, height, colour + alpha, alpha, white, metadata=metadata, numbers=numbers)


def psd_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Read the composite's planes (raw or PackBits) as rows x columns x samples."""
    channels, depth = (int(number) for number in layout.numbers)
    (compression,) = struct.unpack(">H", read_exactly(stream, 2))
    row = layout.width * depth // 8
    size = layout.samples * layout.height * row  # the planes read: colour and alpha
    data: bytes | bytearray
    if compression == 0:
        data = read_exactly(stream, size)
    elif compression == 1:
        counts = np.frombuffer(read_exactly(stream, 2 * channels * layout.height), ">u2")
        packed = read_exactly(stream, int(counts[: layout.samples * layout.height].sum()))
        import imagecodecs  # a dependency; only a compressed PSD needs it

        try:
            data = imagecodecs.packbits_decode(packed, out=size)
        except RuntimeError as error:  # imagecodecs' errors: a run past the data's end
            raise ValueError(f"corrupt: {error}") from None
        if len(data) != size:
            raise ValueError(f"corrupt: its compressed planes give {len(data)} bytes, not {size}")
    else:
        raise ValueError(f"its composite is compressed with method {compression}, not raw or RLE")
    dtype = np.dtype(">u2" if depth == 16 else "u1")
    planes = np.frombuffer(data, dtype).reshape(layout.samples, layout.height, layout.width)
    array = np.moveaxis(planes, 0, -1) if layout.samples > 1 else planes[0]
    return np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))


def _skip(stream: BinaryIO) -> None:
    (length,) = struct.unpack(">I", read_exactly(stream, 4))
    stream.seek(length, 1)


def _resources(stream: BinaryIO) -> Metadata:
    """Find the colour profile and EXIF among the image resources (within a bound)."""
    (length,) = struct.unpack(">I", read_exactly(stream, 4))
    if length > MAX_PSD_RESOURCES:
        stream.seek(length, 1)
        return Metadata()
    data, found, position = read_exactly(stream, length), {}, 0
    while position + 12 <= len(data) and data[position : position + 4] == b"8BIM":
        (ident,) = struct.unpack_from(">H", data, position + 4)
        name = data[position + 6]  # a Pascal string, padded to an even length
        position += 6 + (name + 2) // 2 * 2
        if position + 4 > len(data):
            break
        (size,) = struct.unpack_from(">I", data, position)
        found[ident] = data[position + 4 : position + 4 + size]
        position += 4 + size + size % 2
    exif = found.get(_EXIF)
    return Metadata(icc=found.get(_ICC) or None, exif=b"Exif\x00\x00" + exif if exif else None)
