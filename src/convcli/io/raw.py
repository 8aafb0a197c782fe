"""Camera raw (DNG, CR2, NEF, ARW, ...), told apart from TIFF, and demosaiced through rawpy.

Most raw formats are TIFF inside: a DNG carries the DNGVersion tag (50706),
a CR2 says "CR" after its TIFF header, a Phase One IIQ "IIII" (its TIFF
holds only a thumbnail), and the others keep a colour filter
array (Photometric 32803) or linear raw (34892) in their first directory or
one of its sub-directories. Such a file is never read as a TIFF: its samples
are a Bayer mosaic, not a grey picture. rawpy (LibRaw; the ``raw`` extra)
demosaics it to 16-bit RGB with the camera's white balance, LibRaw's default
colour space (sRGB) and its curve and brightness.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli import extras
from convcli.io.captured import captured
from convcli.io.layout import Layout, opened

_DNG_VERSION, _PHOTOMETRIC, _SUB_IFDS = 50706, 262, 330
_MOSAIC = (32803, 34892)  # colour filter array, linear raw
_MAX_ENTRIES, _MAX_SUB_IFDS = 1024, 16  # more is not a raw file's directory


def is_camera_raw(source: Path | bytes) -> bool:
    """Whether a file with a TIFF signature holds a camera's raw mosaic, from its directories."""
    with opened(source) as stream:
        head = stream.read(16)
        if head[8:10] == b"CR" or head[8:12] in (b"IIII", b"MMMM"):  # Canon CR2, Phase One IIQ
            return True
        order = "<" if head[:2] == b"II" else ">"
        (first,) = struct.unpack(f"{order}I", head[4:8])
        tags = _directory(stream, order, first)
        if _DNG_VERSION in tags or tags.get(_PHOTOMETRIC) in _MOSAIC:
            return True
        return any(
            _directory(stream, order, offset).get(_PHOTOMETRIC) in _MOSAIC
            for offset in _offsets(stream, order, tags.get(_SUB_IFDS))
        )


def raw_layout(stream: BinaryIO) -> Layout:
    """Read the raw file's header through LibRaw: the size of the picture it will give."""
    sizes = _opened(stream).sizes
    width, height = sizes.width, sizes.height
    if sizes.flip in (5, 6):  # LibRaw turns it a quarter
        width, height = height, width
    return Layout(width, height, 3, False, 65535.0)


def raw_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Demosaic to 16-bit RGB, with the camera's white balance."""
    stream.seek(0)
    raw = _opened(stream)
    rawpy = extras.need(*extras.RAW)
    with _libraw("corrupt", rawpy.LibRawError):
        raw.unpack()
        rgb: npt.NDArray[np.generic] = raw.postprocess(output_bps=16, use_camera_wb=True)
    return np.ascontiguousarray(rgb)


def _opened(stream: BinaryIO) -> Any:
    rawpy = extras.need(*extras.RAW)
    raw = rawpy.RawPy()
    with _libraw("LibRaw cannot read it", rawpy.LibRawError):
        raw.open_buffer(stream)
    return raw


@contextlib.contextmanager
def _libraw(what: str, failure: type[Exception]) -> Iterator[None]:
    """Say LibRaw's error, with what it printed (a short read, corrupt data); else print a note.

    LibRaw writes such lines straight to standard error, beside convcli's one.
    """
    error: Exception | None = None
    with captured(1, 2) as printed:
        try:
            yield
        except failure as raised:
            error = raised
    heard = [line.removeprefix("unknown file: ") for line in printed]  # (its name for a buffer)
    if error is not None:
        reason = error.args[0] if error.args else error
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
        said = f" ({heard[0]})" if heard else ""
        raise ValueError(f"{what}: {reason}{said}") from None
    for line in heard:
        warnings.warn(f"LibRaw: {line}", stacklevel=3)


def _directory(stream: BinaryIO, order: str, offset: int) -> dict[int, Any]:
    """Read an image file directory's tags: a short value as it is, a longer one's offset."""
    stream.seek(offset)
    count = stream.read(2)
    if len(count) < 2 or not 0 < (entries := struct.unpack(f"{order}H", count)[0]) <= _MAX_ENTRIES:
        return {}
    data = stream.read(12 * entries)
    tags: dict[int, Any] = {}
    for start in range(0, len(data) - 11, 12):
        tag, kind, number = struct.unpack_from(f"{order}HHI", data, start)
        short = kind == 3 and number == 1
        value = struct.unpack_from(f"{order}{'H' if short else 'I'}", data, start + 8)[0]
        tags[tag] = (number, value) if tag == _SUB_IFDS else value
    return tags


def _offsets(stream: BinaryIO, order: str, sub_ifds: tuple[int, int] | None) -> list[int]:
    """Read the sub-directories' offsets: one in the entry itself, more behind its offset."""
    if sub_ifds is None:
        return []
    number, value = sub_ifds
    if number == 1:
        return [value]
    number = min(number, _MAX_SUB_IFDS)
    stream.seek(value)
    data = stream.read(4 * number)
    return list(struct.unpack(f"{order}{len(data) // 4}I", data[: len(data) // 4 * 4]))
