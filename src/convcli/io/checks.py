"""What reading checks from a header before any sample is decoded, with the message it refuses with.

The size against ``--max-pixels``, the frames against the limit, a JPEG's
metadata segments, a ``.npy``'s or Zarr array's shape and type, a file read
whole against what its picture needs: each is refused before memory is
spent on it.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from convcli import extras
from convcli.errors import InputError, Message
from convcli.io.deep import jpeg_frame
from convcli.io.layout import Layout, opened
from convcli.limits import MAX_FRAMES, METADATA_BYTES

if TYPE_CHECKING:
    from convcli.io.storage import Location


def check_size(width: int, height: int, label: str, max_pixels: int) -> None:
    """Refuse a picture with no pixels, or with more than ``max_pixels``."""
    if width <= 0 or height <= 0:
        raise InputError(f"{label}: cannot read image: its header says {width}x{height}, empty")
    if width * height > max_pixels:
        raise InputError(
            Message("{said} (raise it with {max_pixels})", said=f"{label}: {width}x{height} "
                    f"(width x height) is {width * height} pixels, over the limit of {max_pixels}")
        )  # fmt: skip


def within_frames(count: int, label: str) -> int:
    """Return ``count``, the frames of a file, if within the limit."""
    if count > MAX_FRAMES:
        raise InputError(
            Message("{label}: {count} frames is over the limit of {limit}; {frame} N takes one "
                    "of them", label=label, count=count, limit=MAX_FRAMES)
        )  # fmt: skip
    return count


def check_frame(frame: int, count: int, label: str) -> None:
    """Refuse a frame past the ``count`` a file has."""
    if frame >= count:
        raise InputError(f"{label}: has {count} frame(s), so no frame {frame}")


def unlike_first(
    label: str, index: int, shape: tuple[int, ...], first: tuple[int, ...], alpha: bool = False
) -> InputError:
    """Return the error of a frame (a stack's page) unlike the first in size, channels or alpha.

    ``alpha``: whether the frame has an alpha channel, where its shape is the first's.
    """
    if shape[:2] != first[:2]:
        unlike = f"{label}: frame {index} is {_sized(shape)}, unlike the first, {_sized(first)}"
    elif shape != first:
        unlike = (f"{label}: frame {index} has {_channels(shape)}, unlike the first, "
                  f"{_channels(first)}")  # fmt: skip
    else:
        unlike = (
            f"{label}: frame {index} has {'an' if alpha else 'no'} alpha channel, unlike the first"
        )
    return InputError(
        Message("{unlike}; {frame} {index} takes it alone", unlike=unlike, index=index)
    )


def _sized(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape[:2])) + " (rows x columns)"


def _channels(shape: tuple[int, ...]) -> str:
    count = shape[2] if len(shape) > 2 else 1
    return f"{count} colour channel{'s' if count > 1 else ''}"


def check_jpeg_segments(source: Path | bytes, label: str) -> None:
    """Count a JPEG's metadata segments from their headers, before Pillow joins them."""
    with opened(source) as stream:
        jpeg_frame(stream, label)


def npy_layout(
    source: Path | bytes, label: str, max_pixels: int
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of a ``.npy`` from its header, checked before any value is allocated."""
    with opened(source) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(stream)
        offset, end = stream.tell(), stream.seek(0, io.SEEK_END)
    count = _check_array(tuple(shape), dtype, label, max_pixels, ".npy")
    if end - offset < count * dtype.itemsize:
        raise InputError(
            f"{label}: truncated: shape {shape} of {dtype} needs {count * dtype.itemsize} "
            f"bytes, the file has {end - offset}"
        )
    return tuple(shape), dtype


def zarr_layout(
    path: Location, label: str, max_pixels: int
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of a Zarr array from its metadata (zarr comes with the distributed extra)."""
    zarr = extras.need("zarr", "distributed")
    try:
        array = zarr.open_array(store=str(path), mode="r")
    except Exception as error:  # zarr's own types, for a group or broken metadata
        raise InputError(f"{label}: not a Zarr array ({error})") from None
    shape, dtype = tuple(array.shape), np.dtype(array.dtype)
    _check_array(shape, dtype, label, max_pixels, "Zarr array")
    return shape, dtype


def too_many(shape: tuple[int, ...], max_pixels: int) -> bool:
    """Whether an array holds more values than one read whole may: an RGBA image's at the limit."""
    return math.prod(shape) > 4 * max_pixels


def _check_array(
    shape: tuple[int, ...], dtype: np.dtype[Any], label: str, max_pixels: int, kind: str
) -> int:
    """Refuse an array convcli cannot filter, or over the limit; return its count of values."""
    if dtype.kind not in "biuf" or not 1 <= len(shape) <= 4:
        raise InputError(
            f"{label}: a {kind} input must be a 1-D to 4-D array of real numbers, "
            f"got shape {shape} of {dtype}"
        )
    count = math.prod(shape)
    if too_many(shape, max_pixels):
        raise InputError(
            Message("{label}: {count} values is over the limit of {limit} (4 x {max_pixels}; "
                    "{tile} N filters a {kind} of any size in tiles)",
                    label=label, count=count, limit=4 * max_pixels, kind=kind)
        )  # fmt: skip
    return count


def read_whole(source: Path | bytes, layout: Layout, label: str, max_pixels: int) -> bytes:
    """Read a file whole, if its frames, decoded together, are within ``max_pixels``.

    A compressed picture is smaller than its samples; a file larger than
    twice them and some metadata is padded or hostile, and is not read.
    """
    pixels = layout.width * layout.height * layout.frames
    if pixels > max_pixels:
        raise InputError(
            Message("{said} (raise it with {max_pixels})", said=f"{label}: {layout.frames} "
                    f"pictures of {layout.width}x{layout.height} are {pixels} pixels, decoded "
                    f"together, over the limit of {max_pixels}")
        )  # fmt: skip
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    most = 2 * layout.size + METADATA_BYTES
    if size > most:
        raise InputError(
            f"{label}: {size:,} bytes is more than a {layout.width}x{layout.height} picture "
            f"needs ({most:,}); it is not read"
        )
    return source if isinstance(source, bytes) else source.read_bytes()
