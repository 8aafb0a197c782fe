"""HEIC/HEIF, read and written through pillow-heif (libheif), the ``heic`` extra.

pillow-heif's wheels bundle x265 and are GPL-2, so it is not a dependency
(README, "Images"). Every top-level image is a frame, read and written (with
no duration: HEIF's top-level images have none); 10- and 12-bit images are
read as 16 bits, as libheif gives them (shifted up: 10-bit 1023 is 65472),
and 16-bit samples are written as 10-bit HEIC. libheif applies the
file's rotation and mirroring, so the EXIF orientation is reset to 1.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterable
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli import extras
from convcli.io.layout import Layout
from convcli.io.metadata import (
    DEFAULT_QUALITY,
    ORIENTATION,
    Metadata,
    exif_for,
    exif_provenance,
)

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}  # samples -> pillow-heif's mode of 8 bits


def heif_layout(stream: BinaryIO) -> Layout:
    """Read the primary image's header; no sample is decoded."""
    heif = _opened(stream)
    image = heif[0]
    base = image.mode.split(";")[0]
    white = 65535.0 if image.info.get("bit_depth", 8) > 8 else 255.0
    width, height = image.size
    exif = _exif(image.info)
    software, description = _provenance(exif)
    metadata = Metadata(icc=image.info.get("icc_profile") or None, exif=exif,
                        software=software, description=description)  # fmt: skip
    return Layout(width, height, len(base), base.endswith("A"), white, len(heif), metadata)


def heif_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Decode one top-level image: 8 bits, or 16 for a deeper one."""
    stream.seek(0)
    try:
        array = np.asarray(_opened(stream)[frame])
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"corrupt: {error}") from None
    if array.shape[:2] != (layout.height, layout.width):
        raise ValueError("frame sizes differ")
    return np.ascontiguousarray(array)


def write_heic(
    stream: BinaryIO,
    array: npt.NDArray[np.generic],
    _alpha: bool,
    metadata: Metadata,
    quality: int | None,
) -> None:
    """Encode as HEIC at ``quality`` (default 95): 8 bits, or 10 for 16-bit samples."""
    write_heic_frames(stream, [array], metadata, quality)


def write_heic_frames(
    stream: BinaryIO,
    arrays: Iterable[npt.NDArray[np.generic]],
    metadata: Metadata,
    quality: int | None,
) -> int:
    """Encode each picture as a top-level image, in order; return how many.

    The first is the primary image and carries the metadata. HEIF's
    top-level images have no durations (an image sequence is another brand).
    """
    pillow_heif = extras.need(*extras.HEIC)
    heif = pillow_heif.HeifFile()
    for array in arrays:
        heif.add_frombytes(*_raw(array))
    options: dict[str, Any] = {"quality": DEFAULT_QUALITY if quality is None else quality}
    options["exif"] = exif_for(metadata, with_dpi=False).tobytes()
    if metadata.icc:
        options["icc_profile"] = metadata.icc
    heif.save(stream, **options)  # the options go to the primary image alone
    return len(heif)


def _raw(array: npt.NDArray[np.generic]) -> tuple[str, tuple[int, int], bytes]:
    """Return pillow-heif's mode, the size and the samples of a picture (alpha joined last)."""
    if array.ndim == 3 and array.shape[2] == 2:  # grey and alpha: HEIC's alpha is beside colour
        array = array[..., [0, 0, 0, 1]]
    samples = 1 if array.ndim == 2 else array.shape[2]
    deep = array.dtype == np.uint16
    mode = ("I;16" if samples == 1 else f"{_MODES[samples]};16") if deep else _MODES[samples]
    height, width = array.shape[:2]
    return (
        mode,
        (width, height),
        np.ascontiguousarray(array, dtype="<u2" if deep else "u1").tobytes(),
    )


def _opened(stream: BinaryIO) -> Any:
    pillow_heif = extras.need(*extras.HEIC)
    try:
        return pillow_heif.open_heif(stream, convert_hdr_to_8bit=False)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"corrupt: {error}") from None


def _provenance(exif: bytes | None) -> tuple[str | None, str | None]:
    """Return what made the file, and with which settings, from its EXIF (convcli writes them)."""
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    return exif_provenance(tags)


def _exif(info: dict[str, Any]) -> bytes | None:
    raw = info.get("exif")
    if not raw:
        return None
    exif = Image.Exif()
    with contextlib.suppress(ValueError, TypeError, KeyError, struct.error, SyntaxError):
        exif.load(raw)
        exif[ORIENTATION] = 1  # libheif turned the picture already
        return exif.tobytes()
    return None
