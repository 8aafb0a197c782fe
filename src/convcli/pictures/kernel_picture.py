"""A kernel's weights as a picture: ``kernels show --picture FILE``.

Each weight a square cell coloured on one scale centred on 0 (its value
written in it when every one fits); a filter of a layer ``(C_in, kh, kw)``
each channel, with an RGB swatch when it has 3; a layer's filters a tile each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from convcli.catalog.kernel import Kernel
from convcli.choices import Colormap
from convcli.errors import ParameterError
from convcli.heat import reduction
from convcli.limits import MAX_FILTER_CHANNELS, MAX_KERNEL_PICTURE, MAX_MONTAGE_TILES
from convcli.pictures.draw import Font, filter_picture, font, heat_map
from convcli.pictures.montage import (
    BACKGROUND,
    GAP,
    INK,
    LINE,
    RGB,
    Tile,
    grid_columns,
    layout,
    left_out,
    scale_bar,
    text_length,
    wrapped,
)

GRID = 640  # pixels along a kernel picture's longest side of cells, about
WIDEST_CELL = 56
FILTER_SIDE = 128  # pixels along a layer's filter's picture, about (kernels show --picture)
KERNEL_MAP = Colormap.COOLWARM  # diverging: blue negative, the middle grey 0, red positive


def kernel_picture(kernel: Kernel) -> Image.Image:
    """Draw a kernel's weights as square cells coloured on one scale centred on 0.

    A combined kernel (``sobel``) shows each component, side by side, on one
    scale; a 3-D kernel ``(C_in, kh, kw)``, one filter, each channel, with
    its RGB swatch when it has 3; a 4-D kernel, a layer's filters, a tile
    each (see :func:`filter_pictures`). The weights are written in the
    cells when every one fits; a colour scale below states the range.

    Raises
    ------
    ParameterError
        A combined kernel of 3-D components, or one longer than
        ``MAX_KERNEL_PICTURE`` cells a side (the parameter ``picture``: the
        command line's option).
    """
    matrices = [np.atleast_2d(matrix) for matrix in kernel.matrices]
    if kernel.components and any(matrix.ndim > 2 for matrix in matrices):
        raise ParameterError(
            f"picture draws combined kernels of 1-D and 2-D components; {kernel.name}'s are 3-D",
            parameter="picture",
        )
    longest = max(max(matrix.shape[-2:]) for matrix in matrices)
    if longest > MAX_KERNEL_PICTURE:
        raise ParameterError(
            f"picture draws kernels up to {MAX_KERNEL_PICTURE} cells a side; "
            f"{kernel.name} has {longest}",
            parameter="picture",
        )
    title = [f"{kernel.name}  {'x'.join(map(str, kernel.shape))}"
             + (f"  (bias {kernel.bias:g})" if kernel.bias else "")]  # fmt: skip
    title += [kernel.description] if kernel.description else []
    biases = kernel.filter_bias or ()
    if matrices[0].ndim == 4:
        return _layer_sheet(matrices[0], title, biases)
    if matrices[0].ndim == 3:
        return _filter_sheet(matrices[0], title, biases)
    cell = max(1, min(WIDEST_CELL, GRID // longest))
    peak = max(float(np.abs(matrix).max()) for matrix in matrices)
    panels = [_cells(matrix, cell, peak) for matrix in matrices]
    names = [part.name for part in kernel.components] or [""]
    if kernel.components:
        title.append(f"{kernel.combine} of {' and '.join(names)}, on one scale")
    return _kernel_sheet(panels, names if kernel.components else [], title, peak)


def _filter_sheet(
    matrix: npt.NDArray[np.float64], title: list[str], biases: Sequence[float]
) -> Image.Image:
    """Draw one filter ``(C_in, kh, kw)``: each channel's cells, then its RGB swatch (C_in 3).

    Channels too large for a pixel a cell in rows of ``2 * GRID`` pixels are
    drawn as a layer of one filter is, reduced.
    """
    channels = matrix[:MAX_FILTER_CHANNELS]
    count, rows, cols = matrix.shape
    peak = float(np.abs(channels).max())
    panels_count = len(channels) + (count == 3)
    across = min(panels_count, max(4, math.ceil(math.sqrt(panels_count))))
    cell = min(WIDEST_CELL, GRID // max(rows, cols), 2 * GRID // (across * cols))
    if cell < 1:
        return _layer_sheet(matrix[np.newaxis], title, biases)
    title[0] += "".join(f"  (bias {bias:.4g})" for bias in biases)
    panels = [_cells(channel, cell, peak) for channel in channels]
    names = [f"channel {number}" for number in range(len(channels))]
    title.append(
        f"one filter of {count} input channel{'s' * (count > 1)} (C_in x kh x kw, as PyTorch's "
        "conv2d weights), each channel's weights on one scale"
    )
    if count == 3:
        panels.append(Image.fromarray(filter_picture(matrix, peak, cell * max(rows, cols))))
        names.append("RGB")
        title.append(_rgb_legend(peak))
    title += left_out(count, MAX_FILTER_CHANNELS, "channels", "a picture draws")
    return _kernel_sheet(panels, names, title, peak, across)


def _layer_sheet(
    matrix: npt.NDArray[np.float64], title: list[str], biases: Sequence[float]
) -> Image.Image:
    """Draw a layer's filters ``(C_out, C_in, kh, kw)``: a tile each, labelled with its index."""
    pictures, legend = filter_pictures(matrix, FILTER_SIDE)
    tiles = [
        Tile([f"filter {number}", *([f"bias {biases[number]:.4g}"] if biases else [])], picture)
        for number, picture in enumerate(pictures)
    ]
    title.append(f"{matrix.shape[0]} filters (C_out x C_in x kh x kw, as PyTorch's conv2d weights)")
    title += legend + left_out(matrix.shape[0], MAX_MONTAGE_TILES, "filters", "a sheet shows")
    return layout([tiles], title, grid_columns(len(tiles)))


def filter_pictures(filters: npt.NDArray[np.float64], side: int) -> tuple[list[RGB], list[str]]:
    """Draw a layer's filters on one scale, in about ``side`` pixels each; say how.

    At most ``MAX_MONTAGE_TILES`` filters and ``MAX_FILTER_CHANNELS`` of their
    channels are drawn (the lines say what was left out); a picture larger
    than ``side`` (a weight a pixel) is reduced, as any picture on a sheet is.
    """
    shown = filters[:MAX_MONTAGE_TILES, :MAX_FILTER_CHANNELS]
    finite = np.abs(shown[np.isfinite(shown)])
    peak = float(finite.max()) if finite.size else 0.0
    pictures = [_within(filter_picture(weights, peak, side), side) for weights in shown]
    channels = filters.shape[1]
    legend = [
        _rgb_legend(peak) + ", one scale for every filter"
        if channels == 3
        else f"weights: a grid of cells per input channel ({channels}), row by row, blue "
        f"{_number(-peak)}, grey 0, red {_number(peak)}, one scale for every filter"
    ]
    legend += left_out(channels, MAX_FILTER_CHANNELS, "each filter's channels", "a picture draws")
    return pictures, legend


def _within(rgb: RGB, side: int) -> RGB:
    """Reduce a picture longer than ``side`` by a whole factor, each pixel the mean of N x N."""
    factor = reduction(rgb.shape, side)
    return np.asarray(Image.fromarray(rgb).reduce(factor)) if factor > 1 else rgb


def _rgb_legend(peak: float) -> str:
    return (
        "weights as RGB: a weight's red, green and blue are the filter's weights on channels "
        f"0, 1 and 2, from {_number(-peak)} (0) through 0 (128, grey) to {_number(peak)} (255)"
    )


def _number(value: float) -> str:
    return f"{value or 0.0:.4g}"  # 0, not -0


def _cells(matrix: npt.NDArray[np.float64], cell: int, peak: float) -> Image.Image:
    """Draw one matrix: a square of ``cell`` pixels per weight, its value written if it fits."""
    rgb, _, _ = heat_map(matrix, KERNEL_MAP, scale=peak)
    rows, cols = matrix.shape
    picture = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    if cell >= 6:  # a white line between cells
        picture[cell - 1 :: cell, :] = 255
        picture[:, cell - 1 :: cell] = 255
    image = Image.fromarray(np.ascontiguousarray(picture))
    legible = _legible(matrix, cell)
    if legible is None:
        return image  # not every weight would be legible: none is written
    texts, face, size = legible
    draw = ImageDraw.Draw(image)
    for r in range(rows):
        for c in range(cols):
            light = float(rgb[r, c] @ np.array([0.299, 0.587, 0.114])) > 150
            text = texts[r][c]
            where = (
                c * cell + (cell - 1 - text_length(face, text)) // 2,
                r * cell + (cell - 1 - size) // 2,
            )
            draw.text(where, text, fill=INK if light else BACKGROUND, font=face)
    return image


def _legible(
    matrix: npt.NDArray[np.float64], cell: int
) -> tuple[list[list[str]], Font, int] | None:
    """Return the weights as text, the font and its size, when every one fits its cell."""
    if cell < 24:
        return None
    for digits in (3, 2):
        texts = [[f"{value:.{digits}g}" for value in row] for row in matrix.tolist()]
        for size in range(min(14, cell // 4), 8, -1):
            face = font(size)
            if max(text_length(face, text) for row in texts for text in row) <= cell - 5:
                return texts, face, size
    return None


def _kernel_sheet(
    panels: list[Image.Image],
    names: list[str],
    title: list[str],
    peak: float,
    across: int | None = None,
) -> Image.Image:
    """Set the panels in rows of ``across`` (all: one row) under a title, the colour scale below."""
    face = font(13)
    named = LINE if names else 0
    across = across or len(panels)
    count = len(panels)
    rows = [range(start, min(start + across, count)) for start in range(0, count, across)]
    panels_width = max(sum(panels[n].width + GAP for n in row) - GAP for row in rows)
    width = max(panels_width, 320) + 2 * GAP
    title = [part for text in title for part in wrapped(face, text, width - 2 * GAP)]
    heights = [named + max(panels[n].height for n in row) for row in rows]
    top = GAP + len(title) * LINE + GAP
    height = top + sum(heights) + GAP * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height + 3 * LINE + 2 * GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for number, text in enumerate(title):
        draw.text((GAP, GAP + number * LINE), text, fill=INK, font=face)
    for row, row_height in zip(rows, heights, strict=True):
        x = GAP + (width - 2 * GAP - panels_width) // 2
        for n in row:
            draw.text((x, top), names[n] if names else "", fill=INK, font=face)
            sheet.paste(panels[n], (x, top + named))
            x += panels[n].width + GAP
        top += row_height + GAP
    below = height + GAP
    ends = (_number(-peak), _number(peak))
    scale_bar(draw, (GAP, below), width - 2 * GAP, KERNEL_MAP, ends, face, middle="0")
    draw.text((GAP, below + 2 * LINE), "weights: blue negative, red positive, grey 0",
              fill=INK, font=face)  # fmt: skip
    return sheet
