"""Drawing shared by the pictures: the font, and values as heat-map colours.

Pillow draws everything (its bundled scalable font, ``ImageDraw``): the
pictures are grids, labels and polylines, which need no plotting library.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from PIL import ImageFont

from convcli.colormaps import lookup_table

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def font(size: int) -> Font:
    """Return Pillow's bundled font at ``size`` pixels (the same bytes on every machine)."""
    return ImageFont.load_default(size)


def heat_map(
    values: npt.ArrayLike, colormap: str = "coolwarm", *, scale: float | None = None
) -> tuple[npt.NDArray[np.uint8], float, float]:
    """Colour ``values`` (any shape) and return ``(rgb, low, high)``: the range the colours span.

    Values with both signs (or a diverging map) are scaled symmetrically about 0,
    so 0 keeps the map's middle colour; ``scale`` fixes the range's half-width
    (or top, for values >= 0) so that several maps can share one scale.

    Examples
    --------
    >>> rgb, low, high = heat_map([[-1.0, 0.0, 2.0]])
    >>> rgb.shape, low, high
    ((1, 3, 3), -2.0, 2.0)
    """
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if scale is None:
        scale = float(np.abs(finite).max()) if finite.size else 0.0
    signed = colormap == "coolwarm" or (finite.size > 0 and float(finite.min()) < 0)
    low, high = (-scale, scale) if signed else (0.0, scale)
    span = high - low
    unit = (array - low) / span if span > 0 else np.full(array.shape, 0.5)
    levels = np.clip(np.nan_to_num(unit, nan=0.5) * 255 + 0.5, 0, 255).astype(np.uint8)
    return lookup_table(colormap)[levels], low, high
