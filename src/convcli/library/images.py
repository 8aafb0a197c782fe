"""``convcli.read`` and ``convcli.write``: images at full depth, with their frames and metadata.

Both go through what ``convcli apply`` reads and writes with (``io/``): the
same decoders, limits and checks on the way in; on the way out the same
encoders, the metadata fitted to the format, and a file written atomically.
"""

from __future__ import annotations

import io
import os
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.choices import Depth, FileFormat, Range
from convcli.errors import ParameterError
from convcli.io.colour import as_rgb
from convcli.io.formats import OutputFormat, default_output, output_format
from convcli.io.metadata import Metadata, fit_metadata
from convcli.io.picture import Picture, array_white
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.io.reading import iter_frames, read_image
from convcli.io.storage import is_remote, is_url, location, read_object, write_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL, is_special, read_special_file, read_stream
from convcli.library.settings import check_between
from convcli.limits import COMPRESS_LEVELS, MAX_FRAMES, MAX_PIXELS_LIMIT, QUALITIES
from convcli.ranges import map_range
from convcli.run.model import Settings
from convcli.run.output import write_output, write_output_frames

if TYPE_CHECKING:
    from upath import UPath

Samples: TypeAlias = "npt.NDArray[np.generic]"
Source: TypeAlias = "str | os.PathLike[str] | bytes | IO[bytes]"


class Frame(NamedTuple):
    """One frame of an animation, one page of a stack, or a still image's only one.

    Attributes
    ----------
    samples : ndarray
        Rows x columns [x colour channels], at the file's depth.
    alpha : ndarray or None
        Rows x columns, at the file's depth, where there is transparency.
    duration : int or None
        How long it shows, in milliseconds, where the format says.
    """

    samples: Samples
    alpha: Samples | None = None
    duration: int | None = None


@dataclass(frozen=True, eq=False)
class Image:
    """An image as ``convcli`` reads and writes it: samples, alpha, frames and metadata.

    ``samples``, ``alpha`` and ``duration`` are the first frame's; ``frames``
    holds every frame (or page), each laid out as the first. Make one from an
    array with :meth:`from_array`, or from a file with :func:`convcli.read`.

    Attributes
    ----------
    frames : tuple of Frame
        ``(samples, alpha, duration)`` of each frame, in order.
    white : float
        The value of full intensity: 255 (8-bit), 65535 (16-bit) or 1.0 (float).
    format : str or None
        What the file was read as (``png``, ``jpg``, ``tif``, ``npy``, ...).
    icc : bytes or None
        The colour profile.
    exif : bytes or None
        The EXIF block, its orientation reset to 1 (the pixels are turned).
    dpi : (float, float) or None
        The resolution, pixels per inch across and down.
    software, description : str or None
        What made the file, and with which settings (convcli's provenance).
    loop : int or None
        How many times an animation plays (0: forever), where the file says.
    notes : tuple of str
        What ``convcli apply`` would note about reading it (a decoder's warning).

    Examples
    --------
    >>> import numpy as np
    >>> import convcli
    >>> convcli.Image.from_array(np.zeros((2, 3, 3), np.uint16))
    Image(2x3x3 uint16, white=65535, 1 frame, format=None)
    """

    frames: tuple[Frame, ...]
    white: float
    format: str | None = None
    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    software: str | None = None
    description: str | None = None
    loop: int | None = None
    notes: tuple[str, ...] = ()
    # How the file was encoded, for an output alike: JPEG tables, lossless WebP, bits, BigTIFF.
    encoding: Metadata = field(default_factory=Metadata, repr=False)

    @classmethod
    def from_array(
        cls, samples: npt.ArrayLike, alpha: npt.ArrayLike | None = None, **attributes: Any
    ) -> Image:
        """Make a one-frame image of ``samples`` (and ``alpha``); its white from their type.

        ``uint8`` samples are white at 255, ``uint16`` at 65535, any other
        type (floats) at 1.0. ``attributes`` sets the others (``icc``, ``dpi``, ...).

        Examples
        --------
        >>> import numpy as np
        >>> Image.from_array(np.ones((4, 4), np.float32), dpi=(300.0, 300.0)).white
        1.0
        """
        values = np.asarray(samples)
        mask = None if alpha is None else np.asarray(alpha)
        white = array_white(values.dtype.newbyteorder("="))  # either byte order
        return cls((Frame(values, mask),), attributes.pop("white", white), **attributes)

    @property
    def samples(self) -> Samples:
        """The first frame's samples: rows x columns [x colour channels], alpha apart."""
        return self.frames[0].samples

    @property
    def alpha(self) -> Samples | None:
        """The first frame's alpha (rows x columns), or None."""
        return self.frames[0].alpha

    @property
    def duration(self) -> int | None:
        """How long the first frame shows, in milliseconds, where the format says."""
        return self.frames[0].duration

    def __repr__(self) -> str:
        size = "x".join(map(str, self.samples.shape))
        count = f"{len(self.frames)} frame{'s' * (len(self.frames) != 1)}"
        held = [f"{name}={len(value)} bytes" for name, value in self._blocks if value]
        alpha = " with alpha" if self.alpha is not None else ""
        return (
            f"Image({size} {self.samples.dtype}{alpha}, white={self.white:g}, {count}, "
            f"format={self.format!r}{''.join(', ' + text for text in held)}"
            f"{f', dpi={self.dpi}' if self.dpi else ''})"
        )

    @property
    def _blocks(self) -> tuple[tuple[str, bytes | None], ...]:
        return (("icc", self.icc), ("exif", self.exif))

    @property
    def metadata(self) -> Metadata:
        """Everything besides the pixels, as convcli's writers take it."""
        return replace(
            self.encoding, icc=self.icc, exif=self.exif, dpi=self.dpi,
            software=self.software, description=self.description,
        )  # fmt: skip


def read(
    source: Source, *, frame: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image:
    """Read an image, every frame of it, at full depth, with its metadata.

    What ``convcli apply`` reads, read alike (README, "Images"): the formats
    are recognised by their first bytes; EXIF orientation is applied; 16-bit
    and float samples are kept; palette images are expanded to RGB(A); a
    CMYK JPEG or TIFF keeps its four inks.

    Parameters
    ----------
    source : str, path, bytes or binary file
        A file's name or path, a URL (``s3://...``, with the ``remote`` extra),
        a file's whole content, or a binary file object to read.
    frame : int, optional
        Read only this frame (or page), counted from 0; by default, all.
    max_pixels : int, optional
        Refuse an image of more pixels (each frame), from its header before
        decoding; a stream or an object may hold 8 bytes per pixel.

    Returns
    -------
    Image
        Its frames, each held in memory.

    Raises
    ------
    InputError
        It cannot be read: missing, not an image convcli reads, truncated,
        over ``max_pixels``; the message names it.

    Examples
    --------
    >>> import io
    >>> import convcli
    >>> from PIL import Image as PillowImage
    >>> buffer = io.BytesIO()
    >>> PillowImage.new("I;16", (3, 2), 40000).save(buffer, "PNG", dpi=(300, 300))
    >>> image = convcli.read(buffer.getvalue())
    >>> image
    Image(2x3 uint16, white=65535, 1 frame, format='png', dpi=(299.9994, 299.9994))
    >>> image.samples
    array([[40000, 40000, 40000],
           [40000, 40000, 40000]], dtype=uint16)
    """
    check_between("frame", frame, (0, MAX_FRAMES - 1))
    check_between("max_pixels", max_pixels, (1, MAX_PIXELS_LIMIT))
    content, label = opened(source, STDIN_BYTES_PER_PIXEL * max_pixels)
    first = read_image(content, label, max_pixels, frame or 0)
    pictures = [first]
    if frame is None and first.frames > 1:
        pictures += iter_frames(content, first.header, label, max_pixels)
    meta = first.metadata
    return Image(
        frames=tuple(Frame(p.pixels, p.alpha, p.duration) for p in pictures),
        white=first.white, format=str(first.format), icc=meta.icc, exif=meta.exif,
        dpi=meta.dpi, software=meta.software, description=meta.description,
        loop=first.loop, notes=tuple(p.note for p in pictures if p.note),
        encoding=replace(meta, icc=None, exif=None, dpi=None, software=None, description=None),
    )  # fmt: skip


def opened(source: Source, limit: int) -> tuple[Path | bytes, str]:
    """Return a file to read, or the bytes of one read whole, and how to name it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    if hasattr(source, "read"):
        label = str(getattr(source, "name", "<stream>"))
        return read_stream(source, label, limit), label  # type: ignore[arg-type]
    if not isinstance(source, str | os.PathLike):
        raise ParameterError(
            f"source must be a path, a URL, bytes or a binary file, got {type(source).__name__}",
            parameter="source",
        )
    label = os.fsdecode(source)
    where = location(label) if is_url(label) else Path(source)
    if not isinstance(where, Path):
        return read_object(where, label, limit), label
    if is_special(where):  # a pipe or a device: read once, bounded
        return read_special_file(where, label, limit), label
    return where, label


def write(
    image: Image,
    target: str | os.PathLike[str] | IO[bytes],
    format: str | None = None,
    *,
    quality: int | None = None,
    compress_level: int | None = None,
    strip: bool = False,
) -> None:
    """Write an image as ``convcli apply`` writes its outputs.

    The file appears whole or not at all (written to a temporary file
    beside it, then renamed). Samples go in at their depth where the format
    holds it (README, "What each format keeps"), else mapped to 8 bits
    (``clip``: 0 to white); floats stay floats in TIFF, ``.npy``, PFM and
    EXR. A format that holds one frame gets the first; a format without
    alpha gets the picture composited onto white. The colour profile, EXIF
    and resolution go where the format has a place for them, and what would
    break the file is left out (a profile of another colour space, a
    resolution its place cannot hold).

    Parameters
    ----------
    image : Image
        What to write.
    target : str, path or binary file
        A file's name or path, a URL (``s3://...``), or a binary file object.
    format : str, optional
        ``png``, ``jpg``, ``tif``, ...; by default the target's suffix, else
        the format the image was read as.
    quality : int, optional
        JPEG, WebP, AVIF, JPEG XL, HEIC: 1 to 100; by default a JPEG's own
        tables for a JPEG read from one, else 95 (AVIF 80).
    compress_level : int, optional
        PNG: zlib's level, 0 to 9; by default a fast run-length encoding.
    strip : bool, optional
        Leave out the colour profile, EXIF and resolution.

    Raises
    ------
    ParameterError
        A keyword is out of its range, or the format cannot hold the samples.
    UsageError
        The format is unknown, or one convcli only reads.
    InputError
        The file cannot be written (a missing folder, no permission, a full disk).

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import convcli
    >>> ramp = convcli.Image.from_array(np.arange(0, 65536, 4096, np.uint16).reshape(4, 4))
    >>> buffer = io.BytesIO()
    >>> convcli.write(ramp, buffer, "png")
    >>> convcli.read(buffer.getvalue()).samples[0]
    array([    0,  4096,  8192, 12288], dtype=uint16)
    >>> buffer = io.BytesIO()
    >>> convcli.write(ramp, buffer, "jpg", quality=100)  # 8 bits: 4096 of 65535 is 16 of 255
    >>> convcli.read(buffer.getvalue()).samples[0]
    array([ 0, 16, 32, 48], dtype=uint8)
    """
    if not isinstance(image, Image):
        raise ParameterError(
            f"image must be a convcli.Image, got {type(image).__name__}", parameter="image"
        )
    check_between("quality", quality, QUALITIES)
    check_between("compress_level", compress_level, COMPRESS_LEVELS)
    where, label = _target(target)
    fmt = _format(format, where, image)
    held = image.frames if fmt.frames else image.frames[:1]
    frames = [_written(frame, image, fmt) for frame in held]
    if fmt.name == FileFormat.PNG and len(frames) > 1:  # an animated PNG is Pillow's: 8 bits
        frames = [Frame(_depth(f.samples, image.white, Depth.UINT8), *f[1:]) for f in frames]
    metadata = _fitted_metadata(image, fmt, frames[0].samples, strip)
    settings = Settings(kernels=(), compress_level=compress_level, quality=quality)
    out = io.BytesIO() if is_remote(where) else typing.cast("Path | BinaryIO", where)
    if len(frames) > 1:
        write_output_frames(out, iter(frames), fmt, settings, metadata, image.loop, label)
    else:
        write_output(out, frames[0].samples, frames[0].alpha, fmt, settings, metadata, label)
    if is_remote(where) and isinstance(out, io.BytesIO):  # encoded here, then sent whole
        write_object(where, out.getvalue(), label)


def _target(target: object) -> tuple[Path | UPath | BinaryIO, str]:
    """Return where to write, a file, an object in a store or a stream, and how to name it."""
    if hasattr(target, "write"):
        return target, str(getattr(target, "name", "<stream>"))  # type: ignore[return-value]
    if not isinstance(target, str | os.PathLike):
        raise ParameterError(
            f"target must be a path, a URL or a binary file, got {type(target).__name__}",
            parameter="target",
        )
    label = os.fsdecode(target)
    return (location(label) if is_url(label) else Path(target)), label


def _format(name: str | None, where: object, image: Image) -> OutputFormat:
    """Choose the output format: ``format``'s, else the target's suffix's, else the image's own."""
    if name is not None:
        return output_format(name)
    suffix = getattr(where, "suffix", "")
    if suffix:
        return output_format(suffix)
    if image.format is not None:
        return default_output(FileFormat(image.format))
    raise ParameterError(
        "format must be given for a target without a suffix and an image not read from a file",
        parameter="format",
    )


def _written(frame: Frame, image: Image, fmt: OutputFormat) -> Frame:
    """One frame as the format holds it: its inks made RGB where CMYK is not kept, its depth."""
    values = frame.samples
    if fmt.is_array:
        return Frame(_depth(values, image.white, Depth.FLOAT32), None, frame.duration)
    channels = values.shape[2] if values.ndim == 3 else 1
    if values.ndim not in (2, 3) or channels not in (1, 3, 4):
        raise ParameterError(
            f"image holds samples of shape {values.shape}, which {fmt.name} cannot hold; "
            "write .npy",
            parameter="image",
        )
    if channels == 4 and not fmt.cmyk:
        values = as_rgb(Picture(values, frame.alpha, image.white, FileFormat.JPG))[0].pixels
    return Frame(_depth(values, image.white, _depth_for(values, image, fmt)), *frame[1:])


def _depth_for(values: Samples, image: Image, fmt: OutputFormat) -> Depth:
    """Name the samples' own type where the format holds it; else float for floats, else 8 bits."""
    if values.dtype.name in fmt.depths:
        return Depth(values.dtype.name)
    if Depth.FLOAT32 in fmt.depths and (image.white == 1.0 or Depth.UINT8 not in fmt.depths):
        return Depth.FLOAT32
    return Depth.UINT8


def _depth(values: Samples, white: float, depth: Depth) -> Samples:
    """Map samples to a type as ``range="clip"`` does (to float: unchanged), if not theirs."""
    if values.dtype.name == depth:
        return values
    mode = Range.RAW if depth == Depth.FLOAT32 else Range.CLIP
    return map_range(np.asarray(values, np.float32), mode, white=white, depth=depth).values


def _fitted_metadata(image: Image, fmt: OutputFormat, values: Samples, strip: bool) -> Metadata:
    """Return what the output carries: the image's metadata, less what would break the format."""
    carried = image.metadata
    if strip:
        return replace(carried, icc=None, exif=None, dpi=None)
    channels = values.shape[2] if values.ndim == 3 else 1
    colour = {4: "CMYK", 3: "RGB"}.get(channels, "GRAY")
    return fit_metadata(carried, fmt.name, colour)[0]
