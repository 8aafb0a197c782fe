"""Reading an input: a picture, its frames one at a time, or its header alone.

A file is recognised by its first bytes and handed to its reader: NumPy for
``.npy``, the table of :mod:`convcli.io.decoders`, Pillow
(:mod:`convcli.io.pillow`), or tifffile for the TIFFs Pillow does not read
(:mod:`convcli.io.tiff`). Whatever goes wrong becomes one
:class:`~convcli.errors.InputError` that names the input.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from convcli import extras
from convcli.choices import FileFormat
from convcli.errors import InputError, Message
from convcli.io.checks import (
    check_frame,
    check_size,
    npy_layout,
    read_whole,
    unlike_first,
    within_frames,
    zarr_layout,
)
from convcli.io.decoders import DECODERS, Decoder
from convcli.io.formats import sniff_format
from convcli.io.layout import Layout, opened
from convcli.io.metadata import Metadata
from convcli.io.picture import Header, Picture, array_white, split_array, warned_note
from convcli.io.pillow import (
    DEFAULT_MAX_PIXELS,
    open_image,
    pillow_allows,
    pillow_frame,
    pillow_frames,
    pillow_header,
)
from convcli.io.storage import is_zarr_store
from convcli.io.tiff import libtiff_heard, tiff_frames, tiff_header, tiff_picture

if TYPE_CHECKING:
    from convcli.io.storage import Location

_HEAD = 32  # the signature, and a PNG's IHDR (its bit depth and colour type)


def read_image(
    source: Path | bytes,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame: int = 0,
) -> Picture:
    """Read an image file (or its bytes) or a ``.npy`` array.

    Parameters
    ----------
    source : Path or bytes
        A file, or the whole content (from standard input).
    name : str, optional
        How to name the input in messages (default: the path).
    max_pixels : int
        Refuse images with more pixels (checked from the header, before decoding).
    frame : int
        Which frame of an animation, or page of a stack, counted from 0.

    Returns
    -------
    Picture
        EXIF orientation applied; palette images expanded to RGB(A); CMYK
        kept as inks (:func:`convcli.io.colour.as_rgb` converts them); 16-bit
        and float samples kept (see :mod:`convcli.io.deep`).

    Raises
    ------
    InputError
        If it cannot be read, naming the input.
    """
    label = name or str(source)
    with _reading(label) as warned:
        if not isinstance(source, bytes) and is_zarr_store(source):
            zarr_layout(source, label, max_pixels)  # says what is wrong with it, if anything
            raise InputError(Message("{label}: a Zarr array is read in tiles: give {tile} N",
                                     label=label))  # fmt: skip
        kind, head = _sniff(source, label)
        if kind == FileFormat.NPY:
            npy_layout(source, label, max_pixels)
            array = _load_npy(source)
            return Picture(array, None, array_white(array.dtype), FileFormat.NPY)
        if kind in DECODERS:
            picture = next(_decoded(source, kind, label, max_pixels, frame))
            return replace(picture, note=warned_note(label, warned))
        with libtiff_heard(kind), pillow_allows(max_pixels):
            read = pillow_frame(source, kind, head, label, max_pixels, frame)
            if read is None:  # a TIFF only tifffile reads (float colour, BigTIFF, signed)
                tiff = tiff_picture(source, label, max_pixels, frame)
                return replace(tiff, note=warned_note(label, warned))
    return replace(read, note=warned_note(label, warned))


def iter_frames(
    source: Path | bytes, like: Header, name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS, start: int = 1,
) -> Iterator[Picture]:  # fmt: skip
    """Yield the frames of an animation (or pages of a stack) from ``start``, one at a time.

    Each is laid out like ``like`` (the first frame's header): the same
    channels and alpha, so that every frame is filtered alike. Each keeps
    its own depth (its ``white``): a stack's pages may differ in it.
    """
    label = name or str(source)
    with _reading(label, record=False):
        kind, head = _sniff(source, label)
        if kind in DECODERS:
            if start < like.frames:
                yield from _decoded(source, kind, label, max_pixels, start, like)
            return
        with warnings.catch_warnings(record=True), pillow_allows(max_pixels):
            warnings.simplefilter("always")  # read_image noted them, opening first
            image = open_image(source, kind, label, max_pixels)
        if image is None:  # tifffile alone
            yield from tiff_frames(source, label, max_pixels, start, like)
            return
        yield from pillow_frames(image, source, head, kind, label, max_pixels, start, like)


def probe_image(
    path: Location | bytes, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Header:
    """Read only the header of an input: what :func:`read_image` would return, without pixels.

    Raises
    ------
    InputError
        As :func:`read_image` would, for what the header shows.
    """
    label = name or str(path)
    with _reading(label):
        if not isinstance(path, bytes) and is_zarr_store(path):
            shape, dtype = zarr_layout(path, label, max_pixels)
            return Header(shape, False, array_white(dtype), FileFormat.ZARR)
        if not isinstance(path, (Path, bytes)):  # other objects are read whole, then probed
            raise InputError(f"{label}: an object in a store is probed from its bytes")
        kind, head = _sniff(path, label)
        if kind == FileFormat.NPY:
            shape, dtype = npy_layout(path, label, max_pixels)
            return Header(shape, False, array_white(dtype), FileFormat.NPY)
        if kind in DECODERS:
            return _decoded_header(path, kind, label, max_pixels)
        with libtiff_heard(kind), pillow_allows(max_pixels):
            image = open_image(path, kind, label, max_pixels)
        if image is None:
            return tiff_header(path, label, max_pixels)
        with image, libtiff_heard(kind):
            return pillow_header(image, head, kind, label)


@contextlib.contextmanager
def _reading(label: str, record: bool = True) -> Iterator[list[warnings.WarningMessage]]:
    """Turn whatever reading raises into one InputError that names the input.

    Yields the list of warnings the decoders give (corrupt EXIF, say): they
    become a note on the input rather than text on stderr. A generator,
    which gives control away while reading, records none (``record=False``):
    the warning filters are the whole program's.
    """
    try:
        if not record:
            yield []
            return
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            yield warned
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder, not an image") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except UnidentifiedImageError:
        raise InputError(f"{label}: not an image convcli can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise InputError(f"{label}: cannot read image: {error}") from None
    except (IndexError, KeyError, TypeError, ArithmeticError, struct.error) as error:
        # What a decoder raises on bytes its authors did not foresee (an empty iCCP chunk
        # gives IndexError): still a broken file, not a bug of convcli.
        raise InputError(f"{label}: cannot read image: corrupt ({type(error).__name__})") from None


def _sniff(source: Path | bytes, label: str) -> tuple[FileFormat, bytes]:
    if isinstance(source, bytes):
        head = source[:_HEAD]
    else:
        with source.open("rb") as stream:
            head = stream.read(_HEAD)
    kind = sniff_format(head)
    if kind is None:
        what = "an empty file" if not head else "not an image convcli can read"
        raise InputError(
            f"{label}: {what} (convcli reads PNG, JPEG, TIFF, BMP, GIF, WebP, AVIF, JPEG XL, "
            "JPEG 2000, QOI, PGM, PPM, PFM, TGA, ICO, PSD, FITS, HEIC, EXR, camera raw and .npy)"
        )
    if kind == FileFormat.TIF:
        from convcli.io.raw import is_camera_raw  # a format's module, for a TIFF-like input only

        if is_camera_raw(source):  # a Bayer mosaic, not a grey TIFF
            kind = FileFormat.DNG
    return kind, head


def _load_npy(source: Path | bytes) -> npt.NDArray[np.generic]:
    array: npt.NDArray[np.generic] = np.load(
        io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False
    )
    return array


def _decoded(
    source: Path | bytes, kind: FileFormat, label: str, max_pixels: int, start: int,
    like: Header | None = None,
) -> Iterator[Picture]:  # fmt: skip
    """Read with a decoder of the table: its header checked, then its frames from ``start``.

    Each frame must have the shape of ``like`` (the first frame's header), where given.
    """
    decoder = DECODERS[kind]
    with _decoder_input(source, decoder, label, max_pixels, start) as (stream, layout, whole):
        frames = decoder.frames(stream, layout, start)  # a format read whole: decoded here
        metadata = _metadata(decoder, whole, layout, max_pixels, False)  # broken: its decoder says
        for index, array in enumerate(frames, start):
            pixels, alpha, white = split_array(array)
            if like is not None and pixels.shape != like.shape:  # a HEIF's images may differ
                raise unlike_first(label, index, pixels.shape, like.shape)
            duration = layout.durations[index] if index < len(layout.durations) else None
            yield Picture(
                pixels, alpha, white, kind, None, metadata, layout.frames, duration, layout.plays
            )


def _decoded_header(source: Path | bytes, kind: FileFormat, label: str, max_pixels: int) -> Header:
    """Read the header :func:`_decoded` would give, decoding no pixel."""
    decoder = DECODERS[kind]
    with _decoder_input(source, decoder, label, max_pixels) as (_, found, whole):
        made = _metadata(decoder, whole, found, max_pixels, True)
    colour = found.samples - found.alpha
    shape = (found.height, found.width) + ((colour,) if colour > 1 else ())
    return Header(shape, found.alpha, found.white, kind, made.software, made.description,
                  found.frames)  # fmt: skip


@contextlib.contextmanager
def _decoder_input(
    source: Path | bytes, decoder: Decoder, label: str, max_pixels: int, frame: int = 0
) -> Iterator[tuple[BinaryIO, Layout, bytes | None]]:
    """Read a header and check it (``frame`` among its frames): the stream its frames are read from.

    A format read whole is read into memory once its size allows it: the
    stream reads those bytes, also given as they are (else None).
    """
    if decoder.needs is not None:
        extras.need(*decoder.needs, reading=label)
    with opened(source) as stream:
        layout = decoder.layout(stream)
        check_size(layout.width, layout.height, label, max_pixels)
        within_frames(layout.frames, label)
        check_frame(frame, layout.frames, label)
        if decoder.whole is None:
            yield stream, layout, None
            return
    whole = read_whole(source, layout, label, max_pixels)
    yield io.BytesIO(whole), layout, whole


def _metadata(
    decoder: Decoder, whole: bytes | None, layout: Layout, max_pixels: int, header_only: bool
) -> Metadata:
    """Return what a file carries besides its pixels: its header's, or, read whole, its own.

    ``header_only``: for a header alone, what needs the picture decoded is left out.
    """
    if decoder.whole is None or whole is None:
        return layout.metadata
    with pillow_allows(max_pixels):
        return decoder.whole(whole, layout, header_only)
