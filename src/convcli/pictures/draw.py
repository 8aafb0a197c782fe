"""Drawing shared by the pictures: the font, and values as heat-map colours.

Pillow draws everything (its bundled scalable font, ``ImageDraw``): the
pictures are grids, labels and polylines, which need no plotting library.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
from PIL import ImageDraw, ImageFont

from convcli.colormaps import lookup_table

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
FILTER_GAP = 2  # white pixels between the channels of a filter's picture


@functools.cache
def font(size: int) -> Font:
    """Return Pillow's bundled font at ``size`` pixels (the same bytes on every machine)."""
    return ImageFont.load_default(size)


def heat_map(
    values: npt.ArrayLike,
    colormap: str = "coolwarm",
    *,
    scale: float | None = None,
    centred: bool = False,
) -> tuple[npt.NDArray[np.uint8], float, float]:
    """Colour ``values`` (any shape) and return ``(rgb, low, high)``: the range the colours span.

    Values with both signs (or a diverging map, or ``centred``) are scaled
    symmetrically about 0, so 0 keeps the map's middle colour; ``scale``
    fixes the range's half-width (or top, for values >= 0) so that several
    maps can share one scale.

    Examples
    --------
    >>> rgb, low, high = heat_map([[-1.0, 0.0, 2.0]])
    >>> rgb.shape, low, high
    ((1, 3, 3), -2.0, 2.0)
    """
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if scale is None or not np.isfinite(scale):  # infinite values take the extreme colours
        scale = float(np.abs(finite).max()) if finite.size else 0.0
    signed = centred or colormap == "coolwarm" or (finite.size > 0 and float(finite.min()) < 0)
    low, high = (-scale, scale) if signed else (0.0, scale)
    # Halved (exactly), so that a span between values near ±1e308 does not overflow.
    half = high / 2 - low / 2
    with np.errstate(over="ignore"):  # past the largest float: clipped below
        unit = (array / 2 - low / 2) / half if half > 0 else np.full(array.shape, 0.5)
    unit = np.clip(np.nan_to_num(unit, nan=0.5), 0.0, 1.0)
    levels = (unit * 255 + 0.5).astype(np.uint8)
    return lookup_table(colormap)[levels], low, high


def filter_picture(weights: npt.ArrayLike, peak: float, side: int) -> npt.NDArray[np.uint8]:
    """Draw one filter's weights, ``(C_in, kh, kw)``, in about ``side`` pixels: 8-bit RGB.

    Three channels are one RGB swatch, as a network's first layer is drawn:
    each weight's red, green and blue its weights on channels 0, 1 and 2,
    from -``peak`` (0) through 0 (128) to ``peak`` (255). Any other count
    is a small grid per channel, row by row, ``coolwarm`` on the same scale
    (blue negative, grey 0, red positive), 2 white pixels between them.
    Each weight is a square of pixels, at least 1.

    Examples
    --------
    >>> filter_picture([[[-1.0]], [[0.0]], [[1.0]]], 1.0, 1).tolist()
    [[[0, 128, 255]]]
    """
    array = np.asarray(weights, dtype=np.float64)
    channels, rows, cols = array.shape
    if channels == 3:
        levels, _, _ = heat_map(array, "gray", scale=peak, centred=True)
        cell = max(1, side // max(rows, cols))
        return enlarged(np.moveaxis(levels[..., 0], 0, -1), cell)
    across = math.ceil(math.sqrt(channels))
    down = math.ceil(channels / across)
    gap = FILTER_GAP if channels > 1 else 0
    cell = max(1, (side - gap * (across - 1)) // (across * max(rows, cols)))
    height, width = rows * cell + gap, cols * cell + gap
    picture = np.full((down * height - gap, across * width - gap, 3), 255, dtype=np.uint8)
    colours, _, _ = heat_map(array, "coolwarm", scale=peak)
    for channel, rgb in enumerate(colours):
        top, left = channel // across * height, channel % across * width
        picture[top : top + height - gap, left : left + width - gap] = enlarged(rgb, cell)
    return picture


def enlarged(rgb: npt.NDArray[np.uint8], factor: int) -> npt.NDArray[np.uint8]:
    """Enlarge a picture by a whole ``factor``: each pixel a square of ``factor`` x ``factor``."""
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else rgb


def number(value: float, digits: int = 3) -> str:
    """Write ``value`` compactly: ``digits`` significant digits, a short exponent, no ``-0``.

    Examples
    --------
    >>> [number(v) for v in (8.0, -0.0, 0.25, 1 / 3, 1234.5, -2.5e-05)]
    ['8', '0', '0.25', '0.333', '1.23e3', '-2.5e-5']
    >>> number(-0.0489, 2)
    '-0.049'
    """
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


# Glyphs the bundled font lacks, drawn as strokes: each an advance and polylines,
# in units of the cap height, y up from the baseline.
_STROKES: dict[str, tuple[float, tuple[tuple[tuple[float, float], ...], ...]]] = {
    "⌊": (0.5, (((0.15, 1.1), (0.15, -0.2), (0.45, -0.2)),)),
    "⌋": (0.5, (((0.05, -0.2), (0.35, -0.2), (0.35, 1.1)),)),
    "Σ": (0.85, (((0.75, 1.0), (0.08, 1.0), (0.45, 0.5), (0.08, 0.0), (0.75, 0.0)),)),
    "\u00d7": (0.75, (((0.12, 0.15), (0.62, 0.65)), ((0.12, 0.65), (0.62, 0.15)))),
    "\u2212": (0.7, (((0.08, 0.4), (0.62, 0.4)),)),
}


def _runs(string: str) -> list[str]:
    """Split ``string`` into runs of ordinary text and single stroked glyphs."""
    runs: list[str] = []
    for char in string:
        if char in _STROKES or not runs or runs[-1] in _STROKES:
            runs.append(char)
        else:
            runs[-1] += char
    return runs


def text_width(string: str, size: int) -> int:
    """Return the width in pixels of ``string`` drawn by :func:`text` at ``size``."""
    face, cap = font(size), 0.7 * size
    width = sum(
        _STROKES[run][0] * cap if run in _STROKES else face.getlength(run) for run in _runs(string)
    )
    return round(width)


def text(
    canvas: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    string: str,
    size: int,
    fill: tuple[int, int, int],
    *,
    anchor: str = "l",
) -> None:
    """Draw one line of ``string`` with its middle at height ``xy[1]``.

    ``anchor`` places ``xy[0]`` at the line's left (``l``), middle (``m``) or
    right (``r``). The bundled font has no ``⌊ ⌋ Σ``, no multiplication
    sign and no minus sign: those are drawn as strokes, so that a formula
    reads as it does in the terminal.
    """
    x = xy[0] - {"l": 0.0, "m": 0.5, "r": 1.0}[anchor] * text_width(string, size)
    cap = 0.7 * size
    baseline = xy[1] + cap / 2
    stroke = max(1, round(size / 14))
    for run in _runs(string):
        if run in _STROKES:
            advance, lines = _STROKES[run]
            for line in lines:
                points = [(x + u * cap, baseline - v * cap) for u, v in line]
                canvas.line(points, fill=fill, width=stroke, joint="curve")
            x += advance * cap
        else:
            canvas.text((x, baseline), run, fill=fill, font=font(size), anchor="ls")
            x += font(size).getlength(run)


def fitted(string: str, size: int, width: int, *, keep_end: bool = False) -> str:
    """Shorten ``string`` with an ellipsis to ``width`` pixels at ``size``.

    Its start is kept, or with ``keep_end`` its end (a path's file name).

    Examples
    --------
    >>> name = "sample_images/camera.png"
    >>> fitted(name, 13, 80), fitted(name, 13, 80, keep_end=True)
    ('sample_ima…', '…camera.png')
    """
    if text_width(string, size) <= width:
        return string
    while string and text_width(string + "…" if not keep_end else "…" + string, size) > width:
        string = string[:-1] if not keep_end else string[1:]
    return string + "…" if not keep_end else "…" + string
