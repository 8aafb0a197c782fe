"""TIFFs: the ones tifffile reads alone, and libtiff's own lines while Pillow reads the others.

Pillow reads most TIFFs (through libtiff); tifffile reads those Pillow would
give other values (signed or 32-bit integers), or cannot open (float colour,
some BigTIFFs). Its pages are read one at a time, their tags checked first.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.choices import FileFormat
from convcli.errors import InputError
from convcli.io.captured import captured
from convcli.io.checks import check_frame, check_size, unlike_first, within_frames
from convcli.io.deep import decode_tiff_page, open_tiff, orient, tiff_page_metadata
from convcli.io.picture import Header, Picture, decoded_white, split_array, warned_note

if TYPE_CHECKING:
    from PIL import Image


@contextlib.contextmanager
def libtiff_heard(kind: FileFormat) -> Iterator[None]:
    """Hear what libtiff writes straight to the C standard error: a note, or the error's reason.

    libtiff reports corrupt data on file descriptor 2, around Python; its
    lines would stand beside convcli's one line. They are caught here, for a
    TIFF's decoding only, and said the convcli way.
    """
    if kind != FileFormat.TIF:
        yield
        return
    try:
        with captured(2) as heard:
            yield
    except (OSError, ValueError) as error:
        if heard:
            raise OSError(f"{error} (libtiff: {heard[0]})") from None
        raise
    for line in heard:
        warnings.warn(f"libtiff: {line}", stacklevel=3)


def tifffile_only(image: Image.Image) -> bool:
    """Whether Pillow would give a TIFF's samples other values: signed, or 32-bit integers."""
    tags = getattr(image, "tag_v2", {})
    formats, bits = tags.get(339, (1,)), tags.get(258, (8,))
    formats = formats if isinstance(formats, tuple) else (formats,)
    bits = bits if isinstance(bits, tuple) else (bits,)
    return 2 in formats or (max(bits) == 32 and 3 not in formats)


def tiff_picture(source: Path | bytes, label: str, max_pixels: int, frame: int = 0) -> Picture:
    """Read a TIFF's page with tifffile alone: float colour, BigTIFF, signed or 32-bit integers."""
    with open_tiff(source) as tiff:
        count = _tiff_count(tiff, label)
        check_frame(frame, count, label)
        page = _tiff_page(tiff, label, max_pixels, frame)
        pixels, alpha, white = split_array(orient(decode_tiff_page(page), _orientation(page)))
        metadata = tiff_page_metadata(page)
    return Picture(pixels, alpha, white, FileFormat.TIF, None, metadata, count)


def tiff_frames(
    source: Path | bytes, label: str, max_pixels: int, start: int, like: Header
) -> Iterator[Picture]:
    """Yield the pages of a TIFF only tifffile reads, from ``start``, laid out as ``like``."""
    for index in range(start, like.frames):
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            frame = tiff_picture(source, label, max_pixels, index)
        alpha = frame.alpha is not None
        if frame.header.shape != like.shape or alpha != like.alpha:
            raise unlike_first(label, index, frame.header.shape, like.shape, alpha)
        yield replace(frame, note=warned_note(label, warned))


def tiff_header(source: Path | bytes, label: str, max_pixels: int) -> Header:
    """Read the header :func:`tiff_picture` would give, from the tags alone."""
    with open_tiff(source) as tiff:
        count = _tiff_count(tiff, label)
        page = _tiff_page(tiff, label, max_pixels)
        rows, cols = page.imagelength, page.imagewidth
        if _orientation(page) in (5, 6, 7, 8):
            rows, cols = cols, rows
        alpha = page.samplesperpixel in (2, 4)
        colour = page.samplesperpixel - alpha
        white = decoded_white(page.dtype)
        made = tiff_page_metadata(page)
    shape = (rows, cols) if colour == 1 else (rows, cols, colour)
    return Header(shape, alpha, white, FileFormat.TIF, made.software, made.description, count)


def _tiff_count(tiff: Any, label: str) -> int:
    """Count a TIFF's pages (tifffile walks their directories, not their pixels)."""
    if not tiff.pages:  # what Pillow could not open, tifffile cannot either
        raise InputError(f"{label}: not an image convcli can read")
    return within_frames(len(tiff.pages), label)


def _tiff_page(tiff: Any, label: str, max_pixels: int, index: int = 0) -> Any:
    page = tiff.pages[index]  # after _tiff_count: there is one
    check_size(page.imagewidth, page.imagelength, label, max_pixels)
    if page.dtype is None or not 1 <= page.samplesperpixel <= 4 or not page.shape:
        raise InputError(f"{label}: cannot read image: a TIFF layout convcli does not read")
    return page


def _orientation(page: Any) -> int:
    orientation = page.tags.valueof(274, 1)
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
