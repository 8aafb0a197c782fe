"""Pictures Pillow decodes: opened from the header, sized, then one frame at a time.

Pillow's own bomb check is set aside: convcli checks every size itself,
with ``--max-pixels`` in the message. EXIF orientation is applied, palette
images expanded to RGB(A), a PNG's colour key made alpha; 16-bit PNGs and
TIFFs are decoded at full depth beside Pillow (:mod:`convcli.io.deep`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from convcli.choices import FileFormat
from convcli.errors import InputError
from convcli.io.checks import (
    check_frame,
    check_jpeg_segments,
    check_size,
    unlike_first,
    within_frames,
)
from convcli.io.deep import (
    decode_jpeg,
    decode_png,
    decode_tiff_page,
    direct_bytes,
    open_tiff,
    orient,
    png_needs_depth,
    tiff_needs_depth,
)
from convcli.io.formats import PILLOW_READS, output_format
from convcli.io.layout import opened
from convcli.io.metadata import header_exif, read_metadata, read_provenance
from convcli.io.picture import BAND_PIXELS, Header, Picture, split_array, warned_note
from convcli.io.readahead import decoded_ahead
from convcli.io.tiff import libtiff_heard, tifffile_only
from convcli.limits import PILLOW_MAX_PIXELS

DEFAULT_MAX_PIXELS = PILLOW_MAX_PIXELS  # Pillow's bomb limit, Image.MAX_IMAGE_PIXELS (tests)


@contextlib.contextmanager
def pillow_allows(max_pixels: int) -> Iterator[None]:
    """Let Pillow open and decode what ``--max-pixels`` allows, in this block.

    convcli checks every size itself, from the header and with --max-pixels
    in the message (:func:`~convcli.io.checks.check_size`); Pillow's own bomb
    check, made again while decoding (a tiled TIFF's tiles, a later frame),
    would refuse an image --max-pixels allowed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max(max_pixels, DEFAULT_MAX_PIXELS)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def open_image(
    source: Path | bytes, kind: FileFormat, label: str, max_pixels: int
) -> Image.Image | None:
    """Open with Pillow, its header only; None for a TIFF that only tifffile reads."""
    if kind == FileFormat.JPG:
        check_jpeg_segments(source, label)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    # Opening reads the header alone: convcli checks the size (below), with --max-pixels in
    # the message. Decoding runs under pillow_allows.
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        image = Image.open(stream, formats=[_pillow_name(kind)])
        if kind == FileFormat.TIF and tifffile_only(image):
            image.close()
            return None
    except UnidentifiedImageError:
        if kind == FileFormat.TIF:
            return None
        raise
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        check_size(image.width, image.height, label, max_pixels)
    except InputError:
        image.close()
        raise
    return image


def _pillow_name(kind: FileFormat) -> str:
    name = PILLOW_READS.get(kind) or output_format(kind).pillow
    if name is None:
        raise InputError(f"{kind} is not read by Pillow")  # .npy goes to NumPy before this
    return name


def pillow_frame(
    source: Path | bytes, kind: FileFormat, head: bytes, label: str, max_pixels: int, frame: int
) -> Picture | None:
    """Read one frame (or page), under :func:`pillow_allows`; None for a TIFF tifffile reads."""
    image = open_image(source, kind, label, max_pixels)
    if image is None:
        return None
    with image:
        count = frame_count(image, label)
        check_frame(frame, count, label)
        if frame or _before_frames(image):
            image.seek(frame + _before_frames(image))
        picture = _decode_frame(source, image, head, kind, count, frame)
    if kind == FileFormat.WEBP and _webp_lossless(source):
        picture = replace(picture, metadata=replace(picture.metadata, lossless=True))
    return picture


def pillow_frames(
    image: Image.Image, source: Path | bytes, head: bytes, kind: FileFormat, label: str,
    max_pixels: int, start: int, like: Header,
) -> Iterator[Picture]:  # fmt: skip
    """Yield an opened image's frames from ``start``, laid out as ``like``; then close it."""
    with image:
        with warnings.catch_warnings(record=True), pillow_allows(max_pixels):
            warnings.simplefilter("always")  # read_image noted them, counting first
            count = frame_count(image, label)
        skipped = _before_frames(image)
        for index in range(start, count):
            # Not around the yield: the caller's lines and warnings are its own.
            with (
                libtiff_heard(kind),
                warnings.catch_warnings(record=True) as warned,
                pillow_allows(max_pixels),
            ):
                warnings.simplefilter("always")
                image.seek(index + skipped)
                check_size(image.width, image.height, label, max_pixels)
                frame = _decode_frame(source, image, head, kind, count, index, like)
            frame = replace(frame, note=warned_note(label, warned))
            if frame.header.shape != like.shape:  # a stack's pages may differ in size
                raise unlike_first(label, index, frame.header.shape, like.shape)
            yield frame


def pillow_header(image: Image.Image, head: bytes, kind: FileFormat, label: str) -> Header:
    """Return the header :func:`pillow_frame` would give, from an opened image, no pixel decoded."""
    rows, cols = image.height, image.width
    if _orientation(image, header_only=True) in (5, 6, 7, 8):  # EXIF turns it a quarter
        rows, cols = cols, rows
    channels, alpha, white = _layout(image)
    alpha = alpha or _colour_keyed(image, head)
    count = frame_count(image, label)
    if _needs_depth(image, head) and _deep_frames(image):
        white = 65535.0
    made_by = read_provenance(image)
    shape = (rows, cols) if channels == 1 else (rows, cols, channels)
    return Header(shape, alpha, white, kind, *made_by, frames=count)


def frame_count(image: Image.Image, label: str) -> int:
    """Count frames (or pages) from their headers: no pixel is decoded."""
    if not getattr(image, "is_animated", False):  # looks one frame ahead only
        return 1
    # Walks the frames' headers, within the file; an APNG's default image is not a frame.
    count = int(getattr(image, "n_frames", 1)) - _before_frames(image)
    return within_frames(count, label)


def _before_frames(image: Image.Image) -> int:
    """Count what Pillow shows before an animation's frames: an APNG's default image.

    The default image (the IDAT, when the first frame comes after it) is what
    a viewer without APNG shows; it is not one of the animation's frames.
    """
    return 1 if image.format == "PNG" and image.info.get("default_image") else 0


def _decode_frame(
    source: Path | bytes, image: Image.Image, head: bytes, kind: FileFormat, count: int,
    index: int, like: Header | None = None,
) -> Picture:  # fmt: skip
    direct = _decode_direct(source, image, count)
    orientation = _orientation(image, header_only=direct is not None)
    deep = direct if direct is not None else _decode_deep(source, image, head, index)
    if deep is not None:
        pixels, alpha, white = split_array(orient(deep, orientation))
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


def _webp_lossless(source: Path | bytes) -> bool:
    """Whether a WebP's first image is lossless (a VP8L chunk), from its chunk headers."""
    with opened(source) as stream:
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


def _decode_direct(
    source: Path | bytes, image: Image.Image, count: int
) -> npt.NDArray[np.generic] | None:
    """Decode a large plain PNG or 8-bit JPEG with imagecodecs; else None (Pillow decodes).

    Its metadata all comes before the pixels, so Pillow never decodes them.
    A decode started ahead for this very file (:mod:`convcli.io.readahead`)
    is taken rather than made again.
    """
    if image.format not in ("PNG", "JPEG") or count > 1:
        return None
    if image.format == "JPEG" and image.mode not in ("L", "RGB"):  # CMYK: Pillow's inks
        return None
    pixels = image.width * image.height
    ahead = None if isinstance(source, bytes) else decoded_ahead(source, pixels)
    if ahead is not None:
        return ahead
    data = direct_bytes(source, image.format == "JPEG", pixels)
    if data is None:
        return None
    return decode_jpeg(data) if image.format == "JPEG" else decode_png(data)


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
    if image.mode == "CMYK":  # kept as inks; colour.as_rgb converts where the output needs it
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


def _array(image: Image.Image) -> npt.NDArray[np.generic]:
    """Copy a decoded image into a new array, a band of rows at a time.

    ``np.asarray(image)`` goes through a bytes copy of the whole image, built
    in pieces and joined, beside Pillow's own: the peak of a whole run (3.3x
    the 8-bit image for a 4096x4096 RGB PNG). A band at a time holds only the
    band beside Pillow's image and the array (2.4x).
    """
    rows = max(1, BAND_PIXELS // max(1, image.width))
    first = np.asarray(image.crop((0, 0, image.width, min(rows, image.height))))
    if first.shape[0] == image.height:
        return first
    array = np.empty((image.height, *first.shape[1:]), dtype=first.dtype)
    array[: first.shape[0]] = first
    for top in range(first.shape[0], image.height, rows):
        bottom = min(top + rows, image.height)
        array[top:bottom] = np.asarray(image.crop((0, top, image.width, bottom)))
    return array
