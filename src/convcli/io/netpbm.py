"""Netpbm's binary PGM and PPM (8 or 16 bits) and PFM (float): read and written by hand.

A text header, then the samples: PGM (``P5``) and PPM (``P6``) big-endian,
top row first, one or two bytes a sample by the header's maximum value; PFM
(``Pf`` grey, ``PF`` colour) 32-bit floats, bottom row first, little-endian
when its scale is negative. The header is read within a bound, every number
checked, and then exactly the samples it announces (a short file is refused
whole). Comments in a PGM or PPM header may say what made the file: convcli
writes its provenance there, and reads it back.
"""

from __future__ import annotations

import re
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.io.layout import Layout, read_exactly
from convcli.io.metadata import Metadata
from convcli.limits import MAX_TEXT_HEADER

_TOKEN = re.compile(rb"\s*((?:#[^\n\r]*[\n\r]\s*)*)(\S+)")  # comments, then a word
_NUMBER_DIGITS = 10  # a width, height or maximum value: more digits is no real header
_SOFTWARE, _DESCRIPTION = b"# Software: ", b"# Description: "


def pnm_layout(stream: BinaryIO) -> Layout:
    """Read a binary PGM's or PPM's header: size, samples, depth, and its provenance."""
    head = stream.read(MAX_TEXT_HEADER)
    words, comments, end = _words(head, 4)
    if words[0] not in (b"P5", b"P6"):
        raise ValueError("malformed header")
    width, height, most = (_number(word) for word in words[1:])
    if not 1 <= most <= 65535:
        raise ValueError(f"its maximum value {most} is not 1 to 65535")
    stream.seek(end + 1)  # one whitespace character, then the samples
    software = _said(comments, _SOFTWARE)
    metadata = Metadata(software=software, description=_said(comments, _DESCRIPTION))
    channels = 3 if words[0] == b"P6" else 1
    white = 255.0 if most < 256 else 65535.0
    return Layout(width, height, channels, False, white, metadata=metadata, numbers=(most,))


def pnm_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Read the samples a PGM's or PPM's header announced, scaled to 8 or 16 bits."""
    dtype = np.dtype(">u2" if layout.white == 65535 else "u1")
    data = read_exactly(stream, layout.width * layout.height * layout.samples * dtype.itemsize)
    samples = np.frombuffer(data, dtype).reshape(layout.shape).astype(dtype.newbyteorder("="))
    (most,) = layout.numbers
    if most in (255, 65535):
        return samples
    if samples.max(initial=0) > most:
        raise ValueError(f"a sample is over its maximum value {most:g}")
    scaled = np.rint(samples.astype(np.float64) * (layout.white / most))
    return scaled.astype(samples.dtype)


def pfm_layout(stream: BinaryIO) -> Layout:
    """Read a PFM's header: size, grey or colour, and the byte order its scale's sign gives."""
    head = stream.read(MAX_TEXT_HEADER)
    words, _, end = _words(head, 4, comments=False)
    if words[0] not in (b"Pf", b"PF"):
        raise ValueError("malformed header")
    width, height = _number(words[1]), _number(words[2])
    try:
        scale = float(words[3])
    except ValueError:
        raise ValueError(f"its scale {words[3][:20]!r} is not a number") from None
    if not np.isfinite(scale) or scale == 0:
        raise ValueError("its scale is zero or not finite")
    stream.seek(end + 1)
    channels = 3 if words[0] == b"PF" else 1
    return Layout(width, height, channels, False, 1.0, numbers=(scale,))


def pfm_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Read a PFM's floats, the top row first (the file holds the bottom row first)."""
    dtype = np.dtype("<f4" if layout.numbers[0] < 0 else ">f4")
    data = read_exactly(stream, layout.width * layout.height * layout.samples * 4)
    samples = np.frombuffer(data, dtype).reshape(layout.shape)[::-1]
    return samples.astype(np.float32)


def write_pnm(
    stream: BinaryIO,
    array: npt.NDArray[np.generic],
    _alpha: bool,
    metadata: Metadata,
    _: int | None,
) -> None:
    """Write grey as a PGM, colour as a PPM, 8 or 16 bits, with the provenance in comments."""
    array = _squeezed(array)
    magic = b"P5" if array.ndim == 2 else b"P6"
    most = 65535 if array.dtype == np.uint16 else 255
    comments = b"".join(
        prefix + text.encode("utf-8", "replace") + b"\n"
        for prefix, text in ((_SOFTWARE, metadata.software), (_DESCRIPTION, metadata.description))
        if text and "\n" not in text
    )
    height, width = array.shape[:2]
    stream.write(magic + b"\n" + comments + f"{width} {height}\n{most}\n".encode())
    stream.write(np.ascontiguousarray(array, dtype=">u2" if most == 65535 else "u1").tobytes())


def write_pfm(
    stream: BinaryIO,
    array: npt.NDArray[np.generic],
    _alpha: bool,
    _metadata: Metadata,
    _: int | None,
) -> None:
    """Write a PFM: little-endian floats (scale -1), the bottom row first."""
    array = _squeezed(array)
    height, width = array.shape[:2]
    magic = "Pf" if array.ndim == 2 else "PF"
    stream.write(f"{magic}\n{width} {height}\n-1.0\n".encode())
    stream.write(np.ascontiguousarray(array[::-1], dtype="<f4").tobytes())


def _squeezed(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    return array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array


def _words(head: bytes, count: int, comments: bool = True) -> tuple[list[bytes], bytes, int]:
    """Return the header's first ``count`` words, its comments, and where the last word ends."""
    words, said, position = [], b"", 0
    for _ in range(count):
        match = _TOKEN.match(head, position)
        if match is None or (match.group(1) and not comments):
            raise ValueError("truncated or malformed header")
        said, position = said + match.group(1), match.end()
        words.append(match.group(2))
    if position >= len(head):
        raise ValueError("truncated: the header has no samples after it")
    if not head[position : position + 1].isspace():
        raise ValueError("malformed header")
    return words, said, position


def _number(word: bytes) -> int:
    if not word.isdigit() or len(word) > _NUMBER_DIGITS:
        raise ValueError(f"{word[:20]!r} in its header is not a size")
    return int(word)


def _said(comments: bytes, prefix: bytes) -> str | None:
    for line in comments.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].decode("utf-8", "replace") or None
    return None
