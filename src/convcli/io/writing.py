"""Writing images and arrays: one frame, or every frame of an animation or a stack.

PNG is written by convcli's own writer (:mod:`convcli.io.png`), TIFF by
tifffile at every depth (a layer's feature maps as float32 pages, one per
map), the other formats by Pillow; each carries the
metadata its format holds (:mod:`convcli.io.metadata`). Animated GIF, PNG and
WebP are assembled by Pillow, which keeps every output frame (at 8 bits) until
the file is written; a TIFF stack is written page by page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli.choices import FileFormat
from convcli.io.decoders import ENCODERS
from convcli.io.formats import OutputFormat
from convcli.io.metadata import Metadata, png_chunks, save_options, tiff_options
from convcli.io.png import write_png
from convcli.limits import BIGTIFF_BYTES, MAX_LOOP_COUNT

Frame = tuple[npt.NDArray[np.generic], npt.NDArray[np.generic] | None, int | None]
DEFAULT_DURATION = 100  # milliseconds, for a frame whose input gave none (a TIFF page)


def write_image(
    stream: BinaryIO,
    pixels: npt.NDArray[np.generic],
    alpha: npt.NDArray[np.generic] | None,
    fmt: OutputFormat,
    metadata: Metadata | None = None,
    *,
    compress_level: int | None = None,
    quality: int | None = None,
    threads: int | None = 1,
) -> None:
    """Encode an image (or array) to a stream.

    Parameters
    ----------
    stream : binary file
        Where to write.
    pixels : ndarray
        ``uint8``, ``uint16`` or ``float32``; (H, W), (H, W, 3) or, for
        CMYK, (H, W, 4) for an image format; any shape for ``npy``.
    alpha : ndarray or None
        (H, W), any depth; composited onto white where the format has no alpha.
    fmt : OutputFormat
        The format.
    metadata : Metadata, optional
        Written where the format has a place for it (see
        :data:`convcli.io.metadata.HOLDS`).
    compress_level : int or None
        PNG: zlib's level, 0 to 9, or None for the fast run-length default
        (see :mod:`convcli.io.png`).
    quality : int or None
        JPEG and WebP, 1 to 100; None: a JPEG input's own tables, else
        :data:`convcli.io.metadata.DEFAULT_QUALITY`.
    threads : int or None
        PNG: threads to compress in (None: one per CPU).
    """
    if fmt.is_array:
        np.save(stream, pixels, allow_pickle=False)
        return
    metadata = metadata or Metadata()
    if fmt.paged:
        write_maps_as_pages(stream, pixels, metadata)
        return
    image_array, with_alpha = _composed(pixels, alpha, fmt)
    if fmt.name in ENCODERS:  # convcli's own writers, an extra's, imagecodecs'
        ENCODERS[fmt.name](stream, image_array, with_alpha, metadata, quality)
    elif fmt.name == FileFormat.PNG:
        write_png(stream, image_array, compress_level, threads, png_chunks(metadata))
    elif fmt.name == FileFormat.TIF:
        import tifffile

        page = _tiff_page(image_array, with_alpha, metadata)
        # BigTIFF as the input was, or where the output needs it (tifffile: past 4 GB)
        tifffile.imwrite(stream, image_array, bigtiff=metadata.bigtiff or None, **page)
    else:
        image = _pillow_image(image_array, with_alpha)
        image.save(stream, format=fmt.pillow, **save_options(fmt.name, metadata, quality))


def write_frames(
    stream: BinaryIO,
    frames: Iterable[Frame],
    fmt: OutputFormat,
    metadata: Metadata | None = None,
    *,
    loop: int | None = None,
    quality: int | None = None,
) -> int:
    """Encode an animation (GIF, PNG, WebP), TIFF pages or HEIC images; return the frame count.

    Each frame is (pixels, alpha, duration in milliseconds or None); ``loop``
    is how many times the animation plays (0 or None: forever).
    """
    metadata = metadata or Metadata()
    if fmt.name in (FileFormat.AVIF, FileFormat.JXL):  # imagecodecs', then timed by convcli
        return _timed_frames(stream, frames, fmt, metadata, loop, quality)
    if fmt.name == FileFormat.HEIC:  # top-level images, without durations
        from convcli.io.heif import write_heic_frames  # a format's module, when it is written

        return write_heic_frames(
            stream, (_composed(p, a, fmt)[0] for p, a, _ in frames), metadata, quality
        )
    if fmt.name == FileFormat.TIF:
        import tifffile

        count = 0
        with tifffile.TiffWriter(stream, bigtiff=metadata.bigtiff) as tiff:
            for pixels, alpha, _ in frames:
                array, with_alpha = _composed(pixels, alpha, fmt)
                page = _tiff_page(array, with_alpha, metadata if count == 0 else Metadata())
                tiff.write(array, **page)
                count += 1
        return count
    images, durations = [], []
    for pixels, alpha, duration in frames:
        images.append(_pillow_image(*_composed(pixels, alpha, fmt)))
        durations.append(DEFAULT_DURATION if duration is None else duration)
    first, *rest = images
    options = save_options(fmt.name, metadata, quality, animated=True)
    first.save(
        stream, format=fmt.pillow, save_all=True, append_images=rest, duration=durations,
        **_plays_option(fmt.name, loop), **options,
    )  # fmt: skip
    return len(images)


def write_maps_as_pages(
    stream: BinaryIO, maps: npt.NDArray[np.generic], metadata: Metadata
) -> None:
    """Write feature maps, (H, W, C) or one (H, W), as a TIFF of C pages: page i is map i.

    The metadata goes on the first page; a BigTIFF where the maps pass 4 GB.
    """
    import tifffile

    stack = maps if maps.ndim == 3 else maps[..., np.newaxis]
    big = metadata.bigtiff or stack.nbytes > BIGTIFF_BYTES
    with tifffile.TiffWriter(stream, bigtiff=big) as tiff:
        for index in range(stack.shape[2]):
            page = np.ascontiguousarray(stack[..., index], dtype=np.float32)
            tiff.write(page, **_tiff_page(page, False, metadata if index == 0 else Metadata()))


def _timed_frames(
    stream: BinaryIO,
    frames: Iterable[Frame],
    fmt: OutputFormat,
    metadata: Metadata,
    loop: int | None,
    quality: int | None,
) -> int:
    """Write an AVIF sequence or a JPEG XL animation: every frame held until it is encoded.

    A frame of no duration is written 1 ms long: in JPEG XL such a frame is
    a layer of the next one, not a frame of its own.
    """
    pictures, durations = [], []
    for pixels, alpha, duration in frames:
        pictures.append(_composed(pixels, alpha, fmt)[0])
        durations.append(max(1, DEFAULT_DURATION if duration is None else duration))
    from convcli.io.codecs import encode_animation  # a format's module, when it is written

    encode_animation(stream, pictures, durations, loop or 0, metadata, quality, fmt.name)
    return len(pictures)


def _plays_option(fmt: FileFormat, plays: int | None) -> dict[str, int]:
    """Return Pillow's ``loop`` that plays an animation ``plays`` times (0 or None: forever).

    A GIF counts the plays after the first, and plays once without a loop
    extension; APNG and WebP (16 bits) count every play.
    """
    if not plays:
        return {"loop": 0}
    if fmt == FileFormat.GIF:
        return {} if plays == 1 else {"loop": min(plays - 1, MAX_LOOP_COUNT)}
    return {"loop": min(plays, MAX_LOOP_COUNT) if fmt == FileFormat.WEBP else plays}


def _composed(
    pixels: npt.NDArray[np.generic], alpha: npt.NDArray[np.generic] | None, fmt: OutputFormat
) -> tuple[npt.NDArray[np.generic], bool]:
    """Join alpha to the colour, at the colour's depth, or composite onto white without it."""
    if alpha is None:
        return pixels, False
    if alpha.dtype.kind == "f":  # opacity: NaN is none, and past 0 or 1 it is that end
        alpha = np.clip(np.nan_to_num(alpha, nan=0.0), 0.0, 1.0)
    if not fmt.alpha:
        weight = alpha.astype(np.float32) / _full_scale(alpha.dtype)
        if pixels.ndim == 3:
            weight = weight[..., None]
        background = _full_scale(pixels.dtype)  # white (ImageMagick's default background)
        flat = pixels.astype(np.float32) * weight + background * (1 - weight)
        return np.rint(flat).astype(pixels.dtype), False
    channels = pixels if pixels.ndim == 3 else pixels[..., None]
    scaled = alpha.astype(np.float64) * (_full_scale(pixels.dtype) / _full_scale(alpha.dtype))
    if pixels.dtype.kind != "f":
        scaled = np.rint(scaled)
    return np.concatenate([channels, scaled.astype(pixels.dtype)[..., None]], axis=-1), True


def _full_scale(dtype: np.dtype[Any]) -> float:
    # The value of full intensity (opaque, white) in a sample type.
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def _pillow_image(array: npt.NDArray[np.generic], with_alpha: bool) -> Image.Image:
    contiguous = np.ascontiguousarray(array)
    if contiguous.ndim == 3 and contiguous.shape[2] == 4 and not with_alpha:  # inks
        height, width = contiguous.shape[:2]
        return Image.frombytes("CMYK", (width, height), contiguous.tobytes())
    return Image.fromarray(contiguous)


def _tiff_page(
    array: npt.NDArray[np.generic], with_alpha: bool, metadata: Metadata
) -> dict[str, Any]:
    samples = 1 if array.ndim == 2 else array.shape[2]
    cmyk = samples == 4 and not with_alpha
    photometric = "separated" if cmyk else "rgb" if samples - with_alpha >= 3 else "minisblack"
    return {
        "photometric": photometric,
        "extrasamples": ["unassalpha"] if with_alpha else None,
        **tiff_options(metadata),
    }
