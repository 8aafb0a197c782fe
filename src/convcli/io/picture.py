"""What reading gives: a picture's samples, alpha and metadata, and its header, known before them.

Images become NumPy arrays of rows x columns [x channels], with alpha kept
apart (it is carried through, not filtered). ``.npy`` arrays (1-D to 4-D)
pass through as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.choices import FileFormat
from convcli.io.formats import ARRAYS
from convcli.io.metadata import Metadata

BAND_PIXELS = 1 << 20  # samples are copied or converted a band of rows this many pixels at a time


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


def warned_note(label: str, warned: list[warnings.WarningMessage]) -> str | None:
    """Say what the decoders warned of, as one note on the input (each warning once)."""
    notes = dict.fromkeys(" ".join(str(w.message).split()) for w in warned)
    return f"{label}: {'; '.join(notes)}" if notes else None


def decoded_white(dtype: np.dtype[Any]) -> float:
    """Full intensity in a decoded sample type.

    32-bit integers as Pillow's "I" images have always been read: 65535;
    signed 8- and 16-bit samples have no white, and are read as float values (1.0).
    """
    return _WHITES.get(np.dtype(dtype), 1.0)


_WHITES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
           np.dtype(np.int32): 65535.0, np.dtype(np.uint32): 65535.0}  # fmt: skip


def array_white(dtype: np.dtype[Any]) -> float:
    """Full intensity of a bare array's samples (``.npy``, Zarr): 8- and 16-bit, else 1.0."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(dtype, 1.0)


def split_array(
    array: npt.NDArray[np.generic],
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic] | None, float]:
    """Colour and alpha of a decoded array: 2 or 4 samples end in alpha."""
    white = decoded_white(array.dtype)
    if array.dtype not in (np.uint8, np.uint16):  # float, signed, 32-bit: their values, as float
        array = array.astype(np.float32, copy=False)
    if array.ndim == 2 or array.shape[2] not in (2, 4):
        return array, None, white
    colour = array[..., 0] if array.shape[2] == 2 else array[..., :3]
    return colour, np.ascontiguousarray(array[..., -1]), white
