"""A fast PNG writer: the Up filter, vectorized, and zlib, in threads over groups of rows.

Pillow's encoder spends most of its time choosing a filter for every row.
Filtering with Up (each byte minus the byte above it, one NumPy subtraction)
and compressing with zlib's run-length strategy is faster, with files about
as small on filtered images (benchmarks/README.md). Each band of rows (1 MiB)
is left unfiltered instead where its bytes have fewer non-zero values and
the lower entropy, as in clipped edge maps: mostly zeros, in runs the
run-length coding finds whole.
Groups of rows are compressed in threads, as pigz does: each group is a raw deflate stream
ended by a sync flush, so together they are one zlib stream that any decoder
reads. The groups are cut by size alone (about 4 MiB of rows each), never by
the number of threads, so the file is the same, byte for byte, whatever the
threads: they only decide how many groups are compressed at once. The
deflate is zlib-ng's where it is installed (a dependency): the same
run-length coding, as small, in 0.60x the CPU time of the standard
library's zlib (benchmarks/README.md), which is the fallback. Reading stays
with Pillow.

An image can be written while its rows are still being made (``arriving``,
see :mod:`convcli.run.streaming`): each band is read only once its rows are
final, and the bytes are the same as for the finished image.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

deflate: ModuleType
try:  # the same deflate streams, faster (a wheel of 150 KB)
    from zlib_ng import zlib_ng as deflate
except ImportError:  # where no wheel was installed
    deflate = zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA
_NONE, _UP = 0, 2  # PNG filter types: the bytes as they are; the byte above subtracted
_BAND_BYTES = 1 << 20  # filtered at a time
_GROUP_BYTES = 4 << 20  # a thread's group of rows is at least this big
_IDAT_BYTES = 1 << 20  # the zlib stream is cut into IDAT chunks of this size
_SAMPLE_BYTES = 1024  # a band's filter is chosen from these: as well as from all its bytes
_ADLER_BASE = 65521


class Arriving(Protocol):
    """An image's rows as they are made: an encoder waits for them, and says what it has taken."""

    def wait(self, stop: int) -> None:
        """Return once the first ``stop`` rows are final."""

    def taken(self, stop: int) -> None:
        """Say the encoder needs the first ``stop`` rows no longer."""


def write_png(
    stream: BinaryIO,
    pixels: npt.NDArray[np.generic],
    level: int | None = None,
    threads: int | None = 1,
    chunks: Sequence[tuple[bytes, bytes]] = (),
    arriving: Arriving | None = None,
) -> None:
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
    threads : int or None
        Threads to compress in (None: one per CPU); the file is the same,
        byte for byte, whatever the number.
    chunks : sequence of (bytes, bytes)
        Ancillary chunks (type, data) to write before the pixels: colour
        profile, resolution, EXIF, text.
    arriving : Arriving, optional
        How far ``pixels`` is made: a band is read only once its rows are
        final, and each group of rows is said taken once it is compressed.
        None: all are final.

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
    lines = _Lines(pixels, arriving)
    # The groups depend on the data alone: the threads change the speed, never the bytes.
    groups = max(1, min(rows * lines.width // _GROUP_BYTES, rows))
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in np.array_split(np.arange(rows), groups)]
    workers = min(groups, threads or os.cpu_count() or 1)
    stream.write(SIGNATURE)
    header = struct.pack(">IIBBBBB", cols, rows, depth, _COLOUR_TYPES[channels], 0, 0, 0)
    _chunk(stream, b"IHDR", header)
    for kind, data in chunks:
        _chunk(stream, kind, data)
    idat = _Idat(stream)
    idat.write(b"\x78\x01")  # zlib header: deflate, 32 KiB window
    if workers == 1:  # compressed bytes go out as they come, group after group
        results = []
        for start, stop in bounds:
            results.append(_deflate(lines, start, stop, level, stop == rows, idat.write))
            lines.taken(stop)
    else:  # each group's bytes wait only for the groups before it
        from concurrent.futures import ThreadPoolExecutor  # a large image's only

        held: list[list[bytes]] = [[] for _ in bounds]
        with ThreadPoolExecutor(workers) as pool:
            futures = [
                pool.submit(_deflate, lines, start, stop, level, stop == rows, pieces.append)
                for (start, stop), pieces in zip(bounds, held, strict=True)
            ]
            results = []
            for future, pieces, (_, stop) in zip(futures, held, bounds, strict=True):
                results.append(future.result())
                for piece in pieces:
                    idat.write(piece)
                pieces.clear()
                lines.taken(stop)
    checksum = 1
    for adler, length in results:
        checksum = adler32_combine(checksum, adler, length)
    idat.write(struct.pack(">I", checksum))
    idat.close()
    _chunk(stream, b"IEND", b"")


class _Idat:
    """Cuts the zlib stream into IDAT chunks of about 1 MiB as it arrives.

    A chunk is the pieces that arrived until it held 1 MiB, written one after
    the other: none is copied into a buffer to be framed.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.pieces: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.pieces.append(data)
        self.size += len(data)
        if self.size >= _IDAT_BYTES:
            self.close()

    def close(self) -> None:
        if self.size:
            _chunk(self.stream, b"IDAT", self.pieces)
        self.pieces, self.size = [], 0


class _Lines:
    """An image's rows as PNG's bytes (16-bit samples big-endian), read once they are ready."""

    def __init__(self, pixels: npt.NDArray[np.generic], arriving: Arriving | None) -> None:
        self.pixels = pixels
        self.arriving = arriving
        self.width = int(np.prod(pixels.shape[1:])) * pixels.itemsize  # bytes a row

    def taken(self, stop: int) -> None:
        """Say that the groups of rows up to ``stop`` are compressed, in order."""
        if self.arriving is not None:  # the next group's first row reads the row above it
            self.arriving.taken(max(stop - 1, 0) if stop < len(self.pixels) else stop)

    def rows(self, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Rows ``start`` to ``stop`` as bytes, (rows, width): a view where they lie so."""
        if self.arriving is not None:
            self.arriving.wait(stop)
        block = self.pixels[start:stop]
        # PNG stores 16-bit samples big-endian; the filters work on bytes either way.
        samples = block.astype(">u2", copy=False) if block.itemsize == 2 else block
        return np.ascontiguousarray(samples).reshape(len(block), -1).view(np.uint8)


def _deflate(
    lines: _Lines,
    start: int,
    stop: int,
    level: int | None,
    last: bool,
    sink: Callable[[bytes], None],
) -> tuple[int, int]:
    """Filter and compress rows ``start`` to ``stop`` as raw deflate into ``sink``.

    Returns the Adler-32 and the length of the filtered bytes.
    """
    strategy = deflate.Z_RLE if level is None else deflate.Z_DEFAULT_STRATEGY
    compressor = deflate.compressobj(
        1 if level is None else level, deflate.DEFLATED, -15, 9, strategy
    )
    band = max(1, _BAND_BYTES // (lines.width + 1))
    # One array for every band's filtered bytes (zlib has taken them before the next):
    # a band's worth made afresh each time was kept by the allocator of each thread.
    spare = np.empty((min(band, stop - start), lines.width + 1), dtype=np.uint8)
    adler, length = 1, 0
    for first in range(start, stop, band):
        filtered = _filtered(lines, first, min(first + band, stop), spare)
        sink(compressor.compress(filtered))
        adler = deflate.adler32(filtered, adler)  # zlib-ng's: the same sum, 5x as fast
        length += len(filtered)
    sink(compressor.flush(deflate.Z_FINISH if last else deflate.Z_SYNC_FLUSH))
    return adler, length


def _filtered(
    lines: _Lines, start: int, stop: int, spare: npt.NDArray[np.uint8] | None = None
) -> memoryview:
    """Rows ``start`` to ``stop``, each prefixed by its filter's type byte and filtered.

    The band is filtered with Up where that pays, else left as it is (None).
    The bytes are given as they lie (zlib reads any buffer): no copy. They are
    written into ``spare``'s first rows where it is given.
    """
    both = lines.rows(max(start - 1, 0), stop)  # with the row above, where there is one
    block = both[1:] if start else both
    above = both[0] if start else np.zeros(lines.width, dtype=np.uint8)
    shape = (len(block), lines.width + 1)
    out = np.empty(shape, dtype=np.uint8) if spare is None else spare[: len(block)]
    if _up_pays(block, above):
        out[:, 0] = _UP
        np.subtract(block[0], above, out=out[0, 1:])  # uint8: modulo 256, as PNG wants
        np.subtract(block[1:], block[:-1], out=out[1:, 1:])
    else:
        out[:, 0] = _NONE
        out[:, 1:] = block
    return out.data.cast("B")


def _up_pays(block: npt.NDArray[np.uint8], above: npt.NDArray[np.uint8]) -> bool:
    """Whether a band is better filtered with Up than left as it is, from 1024 of its bytes.

    Left as it is only where its bytes have both fewer non-zero values and
    the lower entropy: a clipped edge map's, mostly zeros, which Up turns
    into pairs of edges of both signs. Either test alone chose it for some
    smooth or colour-mapped images that then came out larger. The choice
    depends on the band's bytes alone, never on the threads.
    """
    width, flat = block.shape[1], block.reshape(-1)
    sample = np.arange(0, flat.size, max(1, flat.size // _SAMPLE_BYTES))
    plain = flat[sample]
    up = plain - np.where(sample >= width, flat[sample - width], above[sample % width])
    fewer = np.count_nonzero(plain) < np.count_nonzero(up)
    return not (fewer and _entropy(plain) < _entropy(up))


def _entropy(sample: npt.NDArray[np.uint8]) -> float:
    """Bits a byte of ``sample`` needs, coded alone: what a Huffman code of it approaches."""
    counts = np.bincount(sample, minlength=256)
    shares = counts[counts > 0] / sample.size
    return float(-(shares * np.log2(shares)).sum())


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """Return the Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine).

    Examples
    --------
    >>> a, b = b"convolution", b" kernels"
    >>> adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    True
    """
    base, remainder = _ADLER_BASE, second_length % _ADLER_BASE
    low = ((first & 0xFFFF) + (second & 0xFFFF) + base - 1) % base
    high = (remainder * (first & 0xFFFF) + (first >> 16) + (second >> 16) + base - remainder) % base
    return low | (high << 16)


def _chunk(stream: BinaryIO, kind: bytes, data: bytes | Sequence[bytes]) -> None:
    """Write a chunk whose data is ``data``, or the pieces of ``data`` one after the other."""
    pieces = [data] if isinstance(data, bytes) else data
    stream.write(struct.pack(">I", sum(map(len, pieces))) + kind)
    crc = zlib.crc32(kind)
    for piece in pieces:
        stream.write(piece)
        crc = zlib.crc32(piece, crc)
    stream.write(struct.pack(">I", crc))
