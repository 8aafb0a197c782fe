"""A fast PNG writer: the Up filter, vectorized, and zlib, streamed in bands of rows.

Pillow's encoder spends most of its time choosing a filter for every row.
Filtering every row with Up (each byte minus the byte above it, one NumPy
subtraction) and compressing with zlib's run-length strategy is about three
times faster, and on filtered photographs and edge maps the files are about
as small as Pillow's at level 1 (see README, "Batches"). Reading stays with
Pillow.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA
_UP = 2  # PNG filter type: the byte above is subtracted
_BAND_BYTES = 1 << 20


def write_png(stream: BinaryIO, pixels: npt.NDArray[np.generic], level: int | None = None) -> None:
    """Encode an 8- or 16-bit image as PNG.

    Parameters
    ----------
    stream : binary file
        Where to write.
    pixels : ndarray, shape (H, W) or (H, W, C), C in 1..4
        ``uint8`` or ``uint16``: grey, grey and alpha, RGB or RGBA.
    level : int or None
        zlib's compression level, 0 to 9; None for its run-length strategy
        (fastest, about as small as level 1 on filtered images).

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> buffer = io.BytesIO()
    >>> write_png(buffer, image)
    >>> np.array_equal(np.asarray(Image.open(buffer)), image)
    True
    """
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}[pixels.dtype]
    rows, cols = pixels.shape[:2]
    # PNG stores 16-bit samples big-endian; the filters work on bytes either way.
    samples = pixels.astype(">u2", copy=False) if depth == 16 else pixels
    lines = np.ascontiguousarray(samples).reshape(rows, -1).view(np.uint8)
    header = struct.pack(">IIBBBBB", cols, rows, depth, _COLOUR_TYPES[channels], 0, 0, 0)
    stream.write(SIGNATURE)
    _chunk(stream, b"IHDR", header)
    strategy = zlib.Z_RLE if level is None else zlib.Z_DEFAULT_STRATEGY
    compressor = zlib.compressobj(1 if level is None else level, zlib.DEFLATED, 15, 9, strategy)
    band = max(1, _BAND_BYTES // (lines.shape[1] + 1))
    above = np.zeros(lines.shape[1], dtype=np.uint8)
    for start in range(0, rows, band):
        block = lines[start : start + band]
        filtered = np.empty((len(block), lines.shape[1] + 1), dtype=np.uint8)
        filtered[:, 0] = _UP
        np.subtract(block[0], above, out=filtered[0, 1:])  # uint8: modulo 256, as PNG wants
        np.subtract(block[1:], block[:-1], out=filtered[1:, 1:])
        above = block[-1]
        _chunk(stream, b"IDAT", compressor.compress(filtered.tobytes()))
    _chunk(stream, b"IDAT", compressor.flush())
    _chunk(stream, b"IEND", b"")


def _chunk(stream: BinaryIO, kind: bytes, data: bytes) -> None:
    if not data and kind == b"IDAT":
        return  # zlib may hold everything back until flush
    stream.write(struct.pack(">I", len(data)) + kind + data)
    stream.write(struct.pack(">I", zlib.crc32(kind + data)))
