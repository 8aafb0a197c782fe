"""Colour conversions of a picture read: CMYK to RGB, and colour to grey (luminance)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli.io.picture import BAND_PIXELS, Picture

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


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
    >>> from convcli.choices import FileFormat
    >>> rgb = Picture(np.array([[[255, 0, 0]]], np.uint8), None, 255.0, FileFormat.PNG)
    >>> luminance(rgb, np.float64).round(3).tolist()  # 0.299 of the red
    [[76.245]]
    """
    pixels = picture.pixels
    if not _weighed(picture):
        return pixels
    weights = LUMA.astype(dtype)
    grey = np.empty(pixels.shape[:2], dtype=weights.dtype)
    rows = max(1, BAND_PIXELS // max(1, pixels.shape[1]))
    for top in range(0, len(pixels), rows):
        grey[top : top + rows] = pixels[top : top + rows].astype(dtype) @ weights
    return grey


def luminance_dtype(picture: Picture, dtype: npt.DTypeLike = np.float32) -> np.dtype[Any]:
    """Return the type of ``luminance(picture, dtype)``'s values, working none of them out."""
    return np.dtype(dtype) if _weighed(picture) else picture.pixels.dtype


def _weighed(picture: Picture) -> bool:
    # A colour image's channels are weighed into one; grey images and arrays are kept.
    return picture.header.is_image and picture.pixels.ndim == 3
