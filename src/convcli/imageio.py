"""Reading and writing images and arrays; the only module that imports Pillow.

Images become NumPy arrays of rows x columns [x channels], with alpha kept
apart (it is carried through, not filtered). ``.npy`` arrays (1-D, 2-D, 3-D)
pass through as they are.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from convcli.errors import InputError, UsageError

NPY_MAGIC = b"\x93NUMPY"
FLATTEN_BACKGROUND = 255  # alpha written to a format without it is composited onto white


@dataclass(frozen=True)
class OutputFormat:
    """A format convcli writes: its name, Pillow's name, sample types and alpha support."""

    name: str
    pillow: str | None
    depths: tuple[str, ...]
    alpha: bool


_FORMATS = {
    "png": OutputFormat("png", "PNG", ("uint8", "uint16"), alpha=True),
    "jpg": OutputFormat("jpg", "JPEG", ("uint8",), alpha=False),
    "tif": OutputFormat("tif", "TIFF", ("uint8", "uint16", "float32"), alpha=True),
    "webp": OutputFormat("webp", "WEBP", ("uint8",), alpha=True),
    "bmp": OutputFormat("bmp", "BMP", ("uint8",), alpha=False),
    "gif": OutputFormat("gif", "GIF", ("uint8",), alpha=False),
    "npy": OutputFormat("npy", None, ("float32",), alpha=False),
}
_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
FORMAT_NAMES = tuple(sorted([*_FORMATS, *_ALIASES]))
# Pillow's name of what it decoded -> ours.
_READ_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "TIFF": "tif", "WEBP": "webp",
                 "BMP": "bmp", "GIF": "gif"}  # fmt: skip


def output_format(name: str) -> OutputFormat:
    """Look up an output format by name or file suffix (``png``, ``.JPG``, ``tiff``, ...).

    Examples
    --------
    >>> output_format(".JPEG").pillow
    'JPEG'
    """
    key = name.lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key in _FORMATS:
        return _FORMATS[key]
    raise UsageError(f"unknown output format {name!r}; convcli writes {', '.join(FORMAT_NAMES)}")


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
    format : str
        What it was read as: ``png``, ``jpg``, ..., ``npy``.
    note : str or None
        Something the user should know about the reading (a GIF's other frames).
    """

    pixels: npt.NDArray[np.generic]
    alpha: npt.NDArray[np.uint8] | None
    white: float
    format: str
    note: str | None = None

    @property
    def is_image(self) -> bool:
        """Whether this is an image (two spatial axes) rather than a bare array."""
        return self.format != "npy"


def read_image(source: Path | bytes, name: str | None = None) -> Picture:
    """Read an image file (or its bytes) or a ``.npy`` array.

    Parameters
    ----------
    source : Path or bytes
        A file, or the whole content (from standard input).
    name : str, optional
        How to name the input in messages (default: the path).

    Returns
    -------
    Picture
        EXIF orientation applied; palette images expanded to RGB(A); CMYK
        and other colour spaces converted to RGB; 16-bit grey kept 16-bit.

    Raises
    ------
    InputError
        If it cannot be read, naming the input.
    """
    label = name or str(source)
    try:
        head = source[:6] if isinstance(source, bytes) else _read_head(source)
        if head == NPY_MAGIC:
            return _read_npy(source, label)
        return _read_pillow(source, label)
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
    except Image.DecompressionBombError as error:
        raise InputError(f"{label}: {error}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise InputError(f"{label}: cannot read image: {error}") from None


def _read_head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(6)


def _read_npy(source: Path | bytes, label: str) -> Picture:
    stream: BinaryIO | Path = io.BytesIO(source) if isinstance(source, bytes) else source
    array = np.load(stream, allow_pickle=False)
    if array.dtype.kind not in "biuf" or not 1 <= array.ndim <= 4:
        raise InputError(
            f"{label}: a .npy input must be a 1-D to 4-D array of real numbers, "
            f"got shape {array.shape} of {array.dtype}"
        )
    white = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)
    return Picture(array, None, white, "npy")


def _read_pillow(source: Path | bytes, label: str) -> Picture:
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it; treat it as the error it is.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        opened = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    with opened as image:
        kind = _READ_FORMATS.get(image.format or "")
        if kind is None:
            raise InputError(f"{label}: {image.format} images are not supported")
        frames = getattr(image, "n_frames", 1)
        note = f"{label}: has {frames} frames; used the first" if frames > 1 else None
        upright = ImageOps.exif_transpose(image)
        pixels, alpha, white = _split_channels(upright)
    return Picture(pixels, alpha, white, kind, note)


def _split_channels(
    image: Image.Image,
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.uint8] | None, float]:
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16), None, 65535.0
    if mode == "I":  # 32-bit integers: how Pillow decodes some 16-bit files
        return np.asarray(image).astype(np.float32), None, 65535.0
    if mode == "F":
        return np.asarray(image, dtype=np.float32), None, 1.0
    has_alpha = mode in ("LA", "La", "RGBA", "RGBa", "PA") or (
        mode == "P" and "transparency" in image.info
    )
    grey = mode in ("1", "L", "LA", "La")
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    array = np.asarray(image.convert(target))
    if not has_alpha:
        return array, None, 255.0
    colour = array[..., 0] if grey else array[..., :3]
    return colour, np.ascontiguousarray(array[..., -1]), 255.0


def write_image(
    stream: BinaryIO,
    pixels: npt.NDArray[np.generic],
    alpha: npt.NDArray[np.uint8] | None,
    fmt: OutputFormat,
    compress_level: int = 1,
) -> None:
    """Encode an image (or array) to a stream.

    Parameters
    ----------
    stream : binary file
        Where to write.
    pixels : ndarray
        ``uint8``, ``uint16`` or ``float32``; (H, W) or (H, W, 3) for an
        image format, any shape for ``npy``.
    alpha : ndarray or None
        (H, W) ``uint8``; composited onto white where the format has no alpha.
    fmt : OutputFormat
        The format.
    compress_level : int
        PNG compression, 0 (none, fastest) to 9 (smallest).
    """
    if fmt.pillow is None:
        np.save(stream, pixels, allow_pickle=False)
        return
    image_array = pixels
    if alpha is not None and not fmt.alpha:
        weight = alpha.astype(np.float32) / 255
        if pixels.ndim == 3:
            weight = weight[..., None]
        flat = pixels.astype(np.float32) * weight + FLATTEN_BACKGROUND * (1 - weight)
        image_array, alpha = np.rint(flat).astype(np.uint8), None
    elif alpha is not None:
        channels = image_array if image_array.ndim == 3 else image_array[..., None]
        image_array = np.concatenate([channels, alpha[..., None]], axis=-1)
    image = Image.fromarray(np.ascontiguousarray(image_array))
    options: dict[str, object] = {}
    if fmt.name == "png":
        options["compress_level"] = compress_level
    elif fmt.name in ("jpg", "webp"):
        options["quality"] = 95
    image.save(stream, format=fmt.pillow, **options)
