"""Reading and writing images and arrays; the only module that imports Pillow.

Images become NumPy arrays of rows x columns [x channels], with alpha kept
apart (it is carried through, not filtered). ``.npy`` arrays (1-D, 2-D, 3-D)
pass through as they are.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from convcli import extras
from convcli.choices import FileFormat
from convcli.errors import InputError
from convcli.io.decoders import DECODERS, Decoder
from convcli.io.deep import (
    DIRECT_PNG_PIXELS,
    decode_png,
    decode_tiff_page,
    open_tiff,
    orient,
    png_decodes_directly,
    png_needs_depth,
    tiff_needs_depth,
    tiff_page_metadata,
)
from convcli.io.formats import ARRAYS, PILLOW_READS, is_zarr_store, output_format, sniff_format
from convcli.io.layout import Layout
from convcli.io.metadata import (
    Metadata,
    header_exif,
    read_metadata,
    read_provenance,
)
from convcli.io.raw import is_camera_raw
from convcli.limits import MAX_FRAMES, MAX_JPEG_METADATA, MAX_JPEG_SEGMENTS

if TYPE_CHECKING:
    from convcli.io.storage import Location

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


DEFAULT_MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)  # Pillow's bomb limit
_HEAD = 32  # the signature, and a PNG's IHDR (its bit depth and colour type)


@dataclass(frozen=True)
class Header:
    """What an input holds, known before its pixels are decoded.

    Attributes
    ----------
    shape : tuple of int
        Shape of the pixels ``read_image`` returns (colour channels only).
    alpha : bool
        Whether there is an alpha channel, kept apart from the pixels.
    white : float
        The value of full intensity: 255 (8-bit), 65535 (16-bit) or 1.0 (float).
    format : FileFormat
        What it is read as.
    software, description : str or None
        What made the file, and with which settings (its provenance).
    frames : int
        Frames of an animation, or pages of a stack; 1 for a still image.
    """

    shape: tuple[int, ...]
    alpha: bool
    white: float
    format: FileFormat
    software: str | None = None
    description: str | None = None
    frames: int = 1

    @property
    def is_image(self) -> bool:
        """Whether this is an image (two spatial axes) rather than a bare array."""
        return self.format not in ARRAYS

    @property
    def is_cmyk(self) -> bool:
        """Whether the image's four colour channels are cyan, magenta, yellow and black."""
        return self.is_image and len(self.shape) == 3 and self.shape[2] == 4

    @property
    def file_shape(self) -> tuple[int, ...]:
        """The shape of the samples in the file: alpha as one channel more."""
        if not self.alpha:
            return self.shape
        return (*self.shape[:2], (self.shape[2] if len(self.shape) == 3 else 1) + 1)


@dataclass(frozen=True)
class Picture:
    """What was read.

    Attributes
    ----------
    pixels : ndarray
        An image: shape (H, W) or (H, W, C), the colour channels. A ``.npy``:
        the array as stored.
    alpha : ndarray or None
        Shape (H, W), 0 to 255, when the image has transparency.
    white : float
        The value of full intensity: 255 (8-bit), 65535 (16-bit) or 1.0 (float).
    format : FileFormat
        What it was read as.
    note : str or None
        Something the user should know about the reading (a GIF's other frames).
    metadata : Metadata
        Colour profile, EXIF, resolution and provenance, for the output.
    frames : int
        How many frames (or pages) the file has; this is one of them.
    duration, loop : int or None
        How long this frame shows, in milliseconds, and how many times the
        animation plays (0: forever), where the file says: a GIF without a
        loop extension plays once.
    """

    pixels: npt.NDArray[np.generic]
    alpha: npt.NDArray[np.generic] | None
    white: float
    format: FileFormat
    note: str | None = None
    metadata: Metadata = field(default_factory=Metadata)
    frames: int = 1
    duration: int | None = None
    loop: int | None = None

    @property
    def header(self) -> Header:
        """The header this picture matches."""
        return Header(
            tuple(self.pixels.shape), self.alpha is not None, self.white, self.format,
            self.metadata.software, self.metadata.description, self.frames,
        )  # fmt: skip


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
        and other colour spaces converted to RGB; 16-bit and float samples
        kept (see :mod:`convcli.io.deep`).

    Raises
    ------
    InputError
        If it cannot be read, naming the input.
    """
    label = name or str(source)
    with _reading(label) as warned:
        if not isinstance(source, bytes) and is_zarr_store(source):
            _zarr_layout(source, label, max_pixels)  # says what is wrong with it, if anything
            raise InputError(f"{label}: a Zarr array is read in tiles: give --tile N")
        kind, head = _sniff(source, label)
        if kind == FileFormat.NPY:
            _npy_layout(source, label, max_pixels)
            array = _load_npy(source)
            return Picture(array, None, _npy_white(array.dtype), FileFormat.NPY)
        if kind in DECODERS:
            picture = next(_decoded(source, kind, label, max_pixels, frame))
            return replace(picture, note=_note(label, warned))
        with _decoder_heard(kind), _pillow_allows(max_pixels):
            image = _open_image(source, kind, label, max_pixels)
            if image is None:  # a TIFF only tifffile reads (float colour, BigTIFF, signed)
                return replace(
                    _tiff_picture(source, label, max_pixels, frame), note=_note(label, warned)
                )
            with image:
                count = _frame_count(image, label)
                if frame >= count:
                    raise InputError(f"{label}: has {count} frame(s), so no frame {frame}")
                if frame or _before_frames(image):
                    image.seek(frame + _before_frames(image))
                picture = _decode_frame(source, image, head, kind, count, frame)
        if kind == FileFormat.WEBP and _webp_lossless(source):
            picture = replace(picture, metadata=replace(picture.metadata, lossless=True))
    return replace(picture, note=_note(label, warned))


def _note(label: str, warned: list[warnings.WarningMessage]) -> str | None:
    """Say what the decoders warned of, as one note on the input (each warning once)."""
    notes = dict.fromkeys(" ".join(str(w.message).split()) for w in warned)
    return f"{label}: {'; '.join(notes)}" if notes else None


@contextlib.contextmanager
def _decoder_heard(kind: FileFormat) -> Iterator[None]:
    """Hear what libtiff writes straight to the C standard error: a note, or the error's reason.

    libtiff reports corrupt data on file descriptor 2, around Python; its
    lines would stand beside convcli's one line. They are caught here, for a
    TIFF's decoding only, and said the convcli way.
    """
    if kind != FileFormat.TIF:
        yield
        return
    import tempfile  # a TIFF's only

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except (OSError, ValueError) as error:
            heard = _heard(sink, saved)
            if heard:
                raise OSError(f"{error} (libtiff: {heard[0]})") from None
            raise
        else:
            for line in _heard(sink, saved):
                warnings.warn(f"libtiff: {line}", stacklevel=3)
        finally:
            _restore_stderr(saved)
            os.close(saved)


def _heard(sink: Any, saved: int) -> list[str]:
    _restore_stderr(saved)
    sink.seek(0)
    text = sink.read(1 << 16).decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip() and "\x1b" not in line]


def _restore_stderr(saved: int) -> None:
    with contextlib.suppress(OSError):
        os.dup2(saved, 2)


def _webp_lossless(source: Path | bytes) -> bool:
    """Whether a WebP's first image is lossless (a VP8L chunk), from its chunk headers."""
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
        stream.seek(12)  # RIFF, size, WEBP
        for _ in range(64):  # VP8X, ICCP, ANIM, ANMF...: the image chunk comes early
            header = stream.read(8)
            if len(header) < 8:
                return False
            kind, size = header[:4], int.from_bytes(header[4:], "little")
            if kind in (b"VP8L", b"VP8 "):
                return kind == b"VP8L"
            if kind == b"ANMF":  # a frame: its own header, then its image chunks
                stream.seek(16, io.SEEK_CUR)
                continue
            stream.seek(size + size % 2, io.SEEK_CUR)
    return False


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
                yield from _decoded(source, kind, label, max_pixels, start)
            return
        with warnings.catch_warnings(record=True), _pillow_allows(max_pixels):
            warnings.simplefilter("always")  # read_image noted them, opening first
            image = _open_image(source, kind, label, max_pixels)
        if image is None:  # tifffile alone
            yield from _tiff_frames(source, label, max_pixels, start, like)
            return
        with image:
            with warnings.catch_warnings(record=True), _pillow_allows(max_pixels):
                warnings.simplefilter("always")  # read_image noted them, counting first
                count = _frame_count(image, label)
            skipped = _before_frames(image)
            for index in range(start, count):
                # Not around the yield: the caller's lines and warnings are its own.
                with (
                    _decoder_heard(kind),
                    warnings.catch_warnings(record=True) as warned,
                    _pillow_allows(max_pixels),
                ):
                    warnings.simplefilter("always")
                    image.seek(index + skipped)
                    _check_size(image.width, image.height, label, max_pixels)
                    frame = _decode_frame(source, image, head, kind, count, index, like)
                frame = replace(frame, note=_note(label, warned))
                if frame.header.shape != like.shape:  # a stack's pages may differ in size
                    raise InputError(
                        f"{label}: frame {index} is {_sized(frame.header.shape)}, unlike the "
                        f"first, {_sized(like.shape)}; --frame {index} takes it alone"
                    )
                yield frame


def _tiff_frames(
    source: Path | bytes, label: str, max_pixels: int, start: int, like: Header
) -> Iterator[Picture]:
    """Yield the pages of a TIFF only tifffile reads, from ``start``, laid out as ``like``."""
    for index in range(start, like.frames):
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            frame = _tiff_picture(source, label, max_pixels, index)
        if frame.header.shape != like.shape or (frame.alpha is not None) != like.alpha:
            raise InputError(
                f"{label}: frame {index} is {_sized(frame.header.shape)}, unlike the "
                f"first, {_sized(like.shape)}; --frame {index} takes it alone"
            )
        yield replace(frame, note=_note(label, warned))


def _sized(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape[:2])) + " (rows x columns)"


def _decode_frame(
    source: Path | bytes, image: Image.Image, head: bytes, kind: FileFormat, count: int,
    index: int, like: Header | None = None,
) -> Picture:  # fmt: skip
    direct = _decode_direct(source, image, count)
    orientation = _orientation(image, header_only=direct is not None)
    deep = direct if direct is not None else _decode_deep(source, image, head, index)
    if deep is not None:
        pixels, alpha, white = _split_array(orient(deep, orientation))
    else:
        pixels, alpha, white = _split_channels(_upright(image, orientation), like)
        if alpha is None and (key := _colour_key(image, head)) is not None:
            alpha = _keyed_alpha(pixels, key, white)
    metadata = read_metadata(image, turned=orientation != 1, header_only=direct is not None)
    if kind == FileFormat.TIF and head[2:4] in (b"+\x00", b"\x00+"):  # BigTIFF
        metadata = replace(metadata, bigtiff=True)
    duration = image.info.get("duration")
    return Picture(
        pixels, alpha, white, kind, None, metadata, count,
        int(duration) if isinstance(duration, int | float) else None, _plays(image),
    )  # fmt: skip


def _plays(image: Image.Image) -> int | None:
    """How many times an animation plays (0: forever); None where the file does not say.

    A GIF's loop extension counts the plays after the first, as browsers play
    it; a GIF without one plays once. APNG and WebP count every play.
    """
    loop = image.info.get("loop")
    if image.format == "GIF":
        return loop + 1 if isinstance(loop, int) and loop else 0 if loop == 0 else 1
    return loop if isinstance(loop, int) else None


def _before_frames(image: Image.Image) -> int:
    """Count what Pillow shows before an animation's frames: an APNG's default image.

    The default image (the IDAT, when the first frame comes after it) is what
    a viewer without APNG shows; it is not one of the animation's frames.
    """
    return 1 if image.format == "PNG" and image.info.get("default_image") else 0


def _colour_key(image: Image.Image, head: bytes) -> int | tuple[int, ...] | None:
    """Return a grey or RGB PNG's transparent colour (tRNS) as Pillow's samples hold it.

    Pillow keeps it beside the pixels, and its conversion to alpha misses it
    below 8 bits and at 16. None where there is none, and for 16-bit RGB:
    libpng decodes that, alpha made (else Pillow, at 8 bits, where a 16-bit
    key cannot be told).
    """
    key: object = image.info.get("transparency")
    if not _colour_keyed(image, head) or not isinstance(key, int | tuple):
        return None
    bits = head[24]
    if bits == 16 and head[25] == 2:
        return None
    if isinstance(key, tuple):
        return tuple(int(value) for value in key)
    if image.mode == "L" and bits < 8:  # 2, 4 bits: Pillow spreads them over 0..255
        return key * 255 // ((1 << bits) - 1)
    return key  # 1 bit: Pillow gives 0 or 255 already


def _colour_keyed(image: Image.Image, head: bytes) -> bool:
    """Whether a PNG is grey or RGB with a transparent colour (tRNS): it is read with alpha."""
    return image.format == "PNG" and head[25] in (0, 2) and "transparency" in image.info


def _keyed_alpha(
    pixels: npt.NDArray[np.generic], key: int | tuple[int, ...], white: float
) -> npt.NDArray[np.generic]:
    """Alpha of a colour key: 0 where a pixel is the key, opaque elsewhere (as libpng makes it)."""
    matches = pixels == np.asarray(key, dtype=np.int64)  # a key past the samples matches none
    if pixels.ndim == 3:
        matches = matches.all(axis=-1)
    return np.where(matches, 0, white).astype(pixels.dtype)


def _frame_count(image: Image.Image, label: str) -> int:
    """Count frames (or pages) from their headers: no pixel is decoded."""
    if not getattr(image, "is_animated", False):  # looks one frame ahead only
        return 1
    # Walks the frames' headers, within the file; an APNG's default image is not a frame.
    count = int(getattr(image, "n_frames", 1)) - _before_frames(image)
    return _within_frames(count, label)


def _within_frames(count: int, label: str) -> int:
    if count > MAX_FRAMES:
        raise InputError(
            f"{label}: {count} frames is over the limit of {MAX_FRAMES}; "
            "--frame N takes one of them"
        )
    return count


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
            shape, dtype = _zarr_layout(path, label, max_pixels)
            return Header(shape, False, _npy_white(dtype), FileFormat.ZARR)
        if not isinstance(path, (Path, bytes)):  # other objects are read whole, then probed
            raise InputError(f"{label}: an object in a store is probed from its bytes")
        kind, head = _sniff(path, label)
        if kind == FileFormat.NPY:
            shape, dtype = _npy_layout(path, label, max_pixels)
            return Header(shape, False, _npy_white(dtype), FileFormat.NPY)
        if kind in DECODERS:
            return _decoded_header(path, kind, label, max_pixels)
        with _decoder_heard(kind), _pillow_allows(max_pixels):
            image = _open_image(path, kind, label, max_pixels)
        if image is None:
            return _tiff_header(path, label, max_pixels)
        with image, _decoder_heard(kind):
            rows, cols = image.height, image.width
            if _orientation(image, header_only=True) in (5, 6, 7, 8):  # EXIF turns it a quarter
                rows, cols = cols, rows
            channels, alpha, white = _layout(image)
            alpha = alpha or _colour_keyed(image, head)
            count = _frame_count(image, label)
            if _needs_depth(image, head) and _deep_frames(image):
                white = 65535.0
            made_by = read_provenance(image)
        shape = (rows, cols) if channels == 1 else (rows, cols, channels)
        return Header(shape, alpha, white, kind, *made_by, frames=count)


def as_rgb(picture: Picture) -> tuple[Picture, str]:
    """Convert a CMYK picture to RGB: through its colour profile, else by Pillow's formula.

    Returns the picture, which then carries an sRGB profile (or none, never
    the CMYK one), and a note saying how it was converted.
    """
    from PIL import ImageCms

    height, width = picture.pixels.shape[:2]
    cmyk = Image.frombytes("CMYK", (width, height), np.ascontiguousarray(picture.pixels).tobytes())
    profile, how = None, "without a colour profile (Pillow's formula)"
    if picture.metadata.icc:
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError):
            source = ImageCms.ImageCmsProfile(io.BytesIO(picture.metadata.icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(cmyk, source, srgb, outputMode="RGB")
            if converted is not None:
                cmyk, profile, how = converted, srgb.tobytes(), "through its colour profile"
    rgb = np.asarray(cmyk if cmyk.mode == "RGB" else cmyk.convert("RGB"))
    converted_picture = replace(
        picture, pixels=rgb, metadata=replace(picture.metadata, icc=profile)
    )
    return converted_picture, f"CMYK made RGB {how}"


def luminance(picture: Picture, dtype: npt.DTypeLike = np.float32) -> npt.NDArray[np.generic]:
    """Return a picture's grey values: the ITU-R 601 luminance of a colour image, in ``dtype``.

    Grey images and ``.npy`` arrays are returned as they are (no copy). A
    colour image is converted a band of rows at a time: its samples in
    ``dtype`` all at once would take three times the result.

    Examples
    --------
    >>> rgb = Picture(np.array([[[255, 0, 0]]], np.uint8), None, 255.0, FileFormat.PNG)
    >>> luminance(rgb, np.float64).round(3).tolist()  # 0.299 of the red
    [[76.245]]
    """
    pixels = picture.pixels
    if not (picture.header.is_image and pixels.ndim == 3):
        return pixels
    weights = LUMA.astype(dtype)
    grey = np.empty(pixels.shape[:2], dtype=weights.dtype)
    rows = max(1, _BAND_PIXELS // max(1, pixels.shape[1]))
    for top in range(0, len(pixels), rows):
        grey[top : top + rows] = pixels[top : top + rows].astype(dtype) @ weights
    return grey


def _orientation(image: Image.Image, header_only: bool = False) -> int:
    return int(header_exif(image, header_only).get(0x0112, 1))


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    # exif_transpose copies even when there is nothing to turn; a large image should not pay.
    if orientation == 1:
        return image
    from PIL import ImageOps  # only for a turned image: most start without it

    return ImageOps.exif_transpose(image)


def _needs_depth(image: Image.Image, head: bytes) -> bool:
    """Whether Pillow would cut this image's samples to 8 bits."""
    if image.format == "PNG":
        return png_needs_depth(head)
    return image.format == "TIFF" and tiff_needs_depth(getattr(image, "tag_v2", {}))


def _deep_frames(image: Image.Image) -> bool:
    # imagecodecs decodes a PNG's IDAT; an animated PNG's frames (and default image,
    # which is not one of them) stay with Pillow.
    return image.format == "TIFF" or not getattr(image, "is_animated", False)


_METADATA_BYTES = 16 << 20  # a colour profile, EXIF and text, generously


def _decode_direct(
    source: Path | bytes, image: Image.Image, count: int
) -> npt.NDArray[np.generic] | None:
    """Decode a large plain PNG with imagecodecs; else None (Pillow decodes).

    Its metadata all comes before the pixels, so Pillow never decodes them.
    The file is read whole, so only one no larger than its samples could be
    (8 bytes a pixel) and some metadata: a larger one is Pillow's to stream.
    """
    pixels = image.width * image.height
    if image.format != "PNG" or count > 1 or pixels < DIRECT_PNG_PIXELS:
        return None
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if size > 8 * pixels + _METADATA_BYTES:
        return None
    data = source if isinstance(source, bytes) else source.read_bytes()
    if not png_decodes_directly(data):
        return None
    return decode_png(data)


def _decode_deep(
    source: Path | bytes, image: Image.Image, head: bytes, index: int = 0
) -> npt.NDArray[np.generic] | None:
    """Decode at full depth where Pillow would not; None where Pillow does (or must)."""
    if not _needs_depth(image, head):
        return None
    if not _deep_frames(image):
        warnings.warn("an animated 16-bit PNG is read at 8 bits per sample", stacklevel=2)
        return None
    if image.format == "PNG":
        return decode_png(source)
    with open_tiff(source) as tiff:
        return decode_tiff_page(tiff.pages[index])


def _decoded(
    source: Path | bytes, kind: FileFormat, label: str, max_pixels: int, start: int
) -> Iterator[Picture]:
    """Read with a decoder of the table: its header checked, then its frames from ``start``."""
    decoder = DECODERS[kind]
    with _decoder_input(source, decoder, label, max_pixels, start) as (stream, layout):
        frames = decoder.frames(stream, layout, start)  # a format read whole: decoded here
        metadata = _metadata(decoder, stream, layout, max_pixels)  # broken: its decoder says
        for index, array in enumerate(frames, start):
            pixels, alpha, white = _split_array(array)
            duration = layout.durations[index] if index < len(layout.durations) else None
            yield Picture(pixels, alpha, white, kind, None, metadata, layout.frames,
                          duration, layout.plays)  # fmt: skip


def _decoded_header(source: Path | bytes, kind: FileFormat, label: str, max_pixels: int) -> Header:
    """Read the header :func:`_decoded` would give, decoding no pixel."""
    decoder = DECODERS[kind]
    with _decoder_input(source, decoder, label, max_pixels) as (stream, found):
        made = _metadata(decoder, stream, found, max_pixels)
    colour = found.samples - found.alpha
    shape = (found.height, found.width) + ((colour,) if colour > 1 else ())
    return Header(shape, found.alpha, found.white, kind, made.software, made.description,
                  found.frames)  # fmt: skip


@contextlib.contextmanager
def _decoder_input(
    source: Path | bytes, decoder: Decoder, label: str, max_pixels: int, frame: int = 0
) -> Iterator[tuple[BinaryIO, Layout]]:
    """Read a header and check it (``frame`` among its frames): the stream its frames are read from.

    A format read whole is read into memory once its size allows it.
    """
    if decoder.needs is not None:
        extras.need(*decoder.needs, reading=label)
    with _opened(source) as stream:
        layout = decoder.layout(stream)
        _check_size(layout.width, layout.height, label, max_pixels)
        _within_frames(layout.frames, label)
        if frame >= layout.frames:
            raise InputError(f"{label}: has {layout.frames} frame(s), so no frame {frame}")
        if decoder.whole is None:
            yield stream, layout
            return
    yield io.BytesIO(_whole(source, layout, label, max_pixels)), layout


def _metadata(decoder: Decoder, stream: BinaryIO, layout: Layout, max_pixels: int) -> Metadata:
    """Return what a file carries besides its pixels: its header's, or, read whole, its own."""
    if decoder.whole is None:
        return layout.metadata
    stream.seek(0)
    with _pillow_allows(max_pixels):
        return decoder.whole(stream.read(), layout)


def _opened(source: Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")


def _whole(source: Path | bytes, layout: Layout, label: str, max_pixels: int) -> bytes:
    """Read a file whole, if its frames, decoded together, are within ``max_pixels``.

    A compressed picture is smaller than its samples; a file larger than
    twice them and some metadata is padded or hostile, and is not read.
    """
    pixels = layout.width * layout.height * layout.frames
    if pixels > max_pixels:
        raise InputError(
            f"{label}: {layout.frames} pictures of {layout.width}x{layout.height} are "
            f"{pixels} pixels, decoded together, over the "
            f"limit of {max_pixels} (raise it with --max-pixels)"
        )
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    most = 2 * layout.size + _METADATA_BYTES
    if size > most:
        raise InputError(
            f"{label}: {size:,} bytes is more than a {layout.width}x{layout.height} picture "
            f"needs ({most:,}); it is not read"
        )
    return source if isinstance(source, bytes) else source.read_bytes()


def _tiff_picture(source: Path | bytes, label: str, max_pixels: int, frame: int = 0) -> Picture:
    """Read a TIFF's page with tifffile alone: float colour, BigTIFF, signed or 32-bit integers."""
    with open_tiff(source) as tiff:
        count = _tiff_count(tiff, label)
        if frame >= count:
            raise InputError(f"{label}: has {count} frame(s), so no frame {frame}")
        page = _tiff_page(tiff, label, max_pixels, frame)
        pixels, alpha, white = _split_array(orient(decode_tiff_page(page), _tiff_orientation(page)))
        metadata = tiff_page_metadata(page)
    return Picture(pixels, alpha, white, FileFormat.TIF, None, metadata, count)


def _tiff_header(source: Path | bytes, label: str, max_pixels: int) -> Header:
    """Read the header :func:`_tiff_picture` would give, from the tags alone."""
    with open_tiff(source) as tiff:
        count = _tiff_count(tiff, label)
        page = _tiff_page(tiff, label, max_pixels)
        rows, cols = page.imagelength, page.imagewidth
        if _tiff_orientation(page) in (5, 6, 7, 8):
            rows, cols = cols, rows
        alpha = page.samplesperpixel in (2, 4)
        colour = page.samplesperpixel - alpha
        white = _white(page.dtype)
        made = tiff_page_metadata(page)
    shape = (rows, cols) if colour == 1 else (rows, cols, colour)
    return Header(shape, alpha, white, FileFormat.TIF, made.software, made.description, count)


def _tiff_count(tiff: Any, label: str) -> int:
    """Count a TIFF's pages (tifffile walks their directories, not their pixels)."""
    if not tiff.pages:  # what Pillow could not open, tifffile cannot either
        raise InputError(f"{label}: not an image convcli can read")
    return _within_frames(len(tiff.pages), label)


def _tifffile_only(image: Image.Image) -> bool:
    """Whether Pillow would give a TIFF's samples other values: signed, or 32-bit integers."""
    tags = getattr(image, "tag_v2", {})
    formats, bits = tags.get(339, (1,)), tags.get(258, (8,))
    formats = formats if isinstance(formats, tuple) else (formats,)
    bits = bits if isinstance(bits, tuple) else (bits,)
    return 2 in formats or (max(bits) == 32 and 3 not in formats)


def _tiff_page(tiff: Any, label: str, max_pixels: int, index: int = 0) -> Any:
    page = tiff.pages[index]  # after _tiff_count: there is one
    _check_size(page.imagewidth, page.imagelength, label, max_pixels)
    if page.dtype is None or not 1 <= page.samplesperpixel <= 4 or not page.shape:
        raise InputError(f"{label}: cannot read image: a TIFF layout convcli does not read")
    return page


def _white(dtype: np.dtype[Any]) -> float:
    """Full intensity in a decoded sample type.

    32-bit integers as Pillow's "I" images have always been read: 65535;
    signed 8- and 16-bit samples have no white, and are read as float values (1.0).
    """
    return _WHITES.get(np.dtype(dtype), 1.0)


_WHITES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
           np.dtype(np.int32): 65535.0, np.dtype(np.uint32): 65535.0}  # fmt: skip


def _split_array(
    array: npt.NDArray[np.generic],
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic] | None, float]:
    """Colour and alpha of a decoded array: 2 or 4 samples end in alpha."""
    white = _white(array.dtype)
    if array.dtype not in (np.uint8, np.uint16):  # float, signed, 32-bit: their values, as float
        array = array.astype(np.float32, copy=False)
    if array.ndim == 2 or array.shape[2] not in (2, 4):
        return array, None, white
    colour = array[..., 0] if array.shape[2] == 2 else array[..., :3]
    return colour, np.ascontiguousarray(array[..., -1]), white


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
    if kind == FileFormat.TIF and is_camera_raw(source):  # a Bayer mosaic, not a grey TIFF
        kind = FileFormat.DNG
    return kind, head


@contextlib.contextmanager
def _pillow_allows(max_pixels: int) -> Iterator[None]:
    """Let Pillow open and decode what ``--max-pixels`` allows, in this block.

    convcli checks every size itself, from the header and with --max-pixels
    in the message (:func:`_check_size`); Pillow's own bomb check, made again
    while decoding (a tiled TIFF's tiles, a later frame), would refuse an
    image --max-pixels allowed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max(max_pixels, DEFAULT_MAX_PIXELS)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _open_image(
    source: Path | bytes, kind: FileFormat, label: str, max_pixels: int
) -> Image.Image | None:
    """Open with Pillow, its header only; None for a TIFF that only tifffile reads."""
    if kind == FileFormat.JPG:
        _check_jpeg_segments(source, label)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    # Opening reads the header alone: convcli checks the size (below), with --max-pixels in
    # the message. Decoding runs under _pillow_allows.
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        image = Image.open(stream, formats=[_pillow_name(kind)])
        if kind == FileFormat.TIF and _tifffile_only(image):
            image.close()
            return None
    except UnidentifiedImageError:
        if kind == FileFormat.TIF:
            return None
        raise
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        _check_size(image.width, image.height, label, max_pixels)
    except InputError:
        image.close()
        raise
    return image


def _check_jpeg_segments(source: Path | bytes, label: str) -> None:
    """Count a JPEG's metadata segments from their headers, before Pillow joins them."""
    count = total = 0
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
        stream.seek(2)  # after SOI
        while (header := stream.read(4)) and len(header) == 4 and header[0] == 0xFF:
            marker, length = header[1], int.from_bytes(header[2:], "big")
            if marker == 0xDA or length < 2:  # the pixels begin (or a broken header: Pillow says)
                return
            if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
                count, total = count + 1, total + length
                if count > MAX_JPEG_SEGMENTS or total > MAX_JPEG_METADATA:
                    raise InputError(
                        f"{label}: more than {MAX_JPEG_SEGMENTS} metadata segments or "
                        f"{MAX_JPEG_METADATA:,} bytes of metadata before the pixels; "
                        "refused unread"
                    )
            stream.seek(length - 2, io.SEEK_CUR)


def _check_size(width: int, height: int, label: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{label}: cannot read image: its header says {width}x{height}, empty")
    if width * height > max_pixels:
        raise InputError(
            f"{label}: {width}x{height} (width x height) is {width * height} pixels, "
            f"over the limit of {max_pixels} (raise it with --max-pixels)"
        )


def _pillow_name(kind: FileFormat) -> str:
    name = PILLOW_READS.get(kind) or output_format(kind).pillow
    if name is None:
        raise InputError(f"{kind} is not read by Pillow")  # .npy goes to NumPy before this
    return name


def _npy_layout(
    source: Path | bytes, label: str, max_pixels: int
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of a ``.npy`` from its header, checked before any value is allocated."""
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
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


def _zarr_layout(
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
            f"{label}: {count} values is over the limit of {4 * max_pixels} (4 x --max-pixels; "
            f"--tile N filters a {kind} of any size in tiles)"
        )
    return count


def _load_npy(source: Path | bytes) -> npt.NDArray[np.generic]:
    array: npt.NDArray[np.generic] = np.load(
        io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False
    )
    return array


def _npy_white(dtype: np.dtype[Any]) -> float:
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(dtype, 1.0)


def _layout(image: Image.Image) -> tuple[int, bool, float]:
    """Colour channels, alpha and white of what a Pillow mode becomes (one place for the rules)."""
    mode = image.mode
    if mode == "CMYK":
        return 4, False, 255.0
    if mode.startswith("I;16") or mode == "I":  # "I": how Pillow decodes some 16-bit files
        return 1, False, 65535.0
    if mode == "F":
        return 1, False, 1.0
    alpha = mode in ("LA", "La", "RGBA", "RGBa", "PA") or (
        mode == "P" and "transparency" in image.info
    )
    grey = mode in ("1", "L", "LA", "La")
    return (1 if grey else 3), alpha, 255.0


def _split_channels(
    image: Image.Image, like: Header | None = None
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic] | None, float]:
    channels, has_alpha, white = _layout(image)
    if like is not None and white == 255 and image.mode != "CMYK":  # a frame, like the first
        channels, has_alpha = (1 if len(like.shape) == 2 else like.shape[2]), like.alpha
    if image.mode == "CMYK":  # kept as inks; as_rgb converts where the output needs it
        return _array(image), None, white
    if image.mode.startswith("I;16"):
        return _array(image).astype(np.uint16), None, white
    if image.mode in ("I", "F"):
        return _array(image).astype(np.float32), None, white
    grey = channels == 1
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    array = _array(image if image.mode == target else image.convert(target))
    if not has_alpha:
        return array, None, white
    colour = array[..., 0] if grey else array[..., :3]
    return colour, np.ascontiguousarray(array[..., -1]), white


_BAND_PIXELS = 1 << 20  # copied out of Pillow at a time


def _array(image: Image.Image) -> npt.NDArray[np.generic]:
    """Copy a decoded image into a new array, a band of rows at a time.

    ``np.asarray(image)`` goes through a bytes copy of the whole image, built
    in pieces and joined, beside Pillow's own: the peak of a whole run (3.3x
    the 8-bit image for a 4096x4096 RGB PNG). A band at a time holds only the
    band beside Pillow's image and the array (2.4x).
    """
    rows = max(1, _BAND_PIXELS // max(1, image.width))
    first = np.asarray(image.crop((0, 0, image.width, min(rows, image.height))))
    if first.shape[0] == image.height:
        return first
    array = np.empty((image.height, *first.shape[1:]), dtype=first.dtype)
    array[: first.shape[0]] = first
    for top in range(first.shape[0], image.height, rows):
        bottom = min(top + rows, image.height)
        array[top:bottom] = np.asarray(image.crop((0, top, image.width, bottom)))
    return array


def _tiff_orientation(page: Any) -> int:
    orientation = page.tags.valueof(274, 1)
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
