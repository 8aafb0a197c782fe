"""The 2-D frames: the shown grid, the kernel, the products and the output, cell by cell."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from convcli.explanation import Explanation
from convcli.pictures import draw
from convcli.pictures.canvas import (
    AXIS_NAMES,
    CONTEXT,
    CONTEXT_EDGE,
    CONTEXT_INK,
    GAP,
    GRID_HEIGHT,
    HATCH,
    HIGHLIGHT,
    INK,
    LABEL,
    LINE,
    MARGIN,
    MAX_CELL,
    MAX_WIDTH,
    MIN_CELL,
    MUTED,
    PADDING,
    RGB,
    RULE,
    TITLE,
    WHITE,
    WINDOW_TINT,
    Box,
    CellText,
    Grid,
    GridLayout,
    clamp,
    indices,
    mix,
    product_lines,
    tap_cells,
    write_caption,
    write_legend,
    write_title,
)


def grid_layout(e: Explanation) -> GridLayout:
    """Return where a 2-D frame draws its grids: cells shrink to fit the width."""
    rows, cols = e.padded.shape
    krows, kcols = e.kernel.shape
    orows, ocols = e.output.shape
    # The kernel's column has its own cells, so a small kernel stays legible beside a large grid.
    kcell = clamp(min(300 // kcols, (GRID_HEIGHT - 3 * LINE) // (2 * krows)), MIN_CELL, MAX_CELL)
    room = MAX_WIDTH - 2 * MARGIN - 2 * GAP - kcols * kcell
    cell = clamp(min(room // (cols + ocols), GRID_HEIGHT // max(rows, orows)), MIN_CELL, MAX_CELL)
    top = MARGIN + 2 * LINE + 8 + LINE  # the title and its kind, then a label over each grid
    shown = Grid(MARGIN, top, cell, (rows, cols))
    kernel = Grid(shown.area.right + GAP, top, kcell, (krows, kcols))
    products = Grid(kernel.left, kernel.area.bottom + LINE + 4, kcell, (krows, kcols))
    output = Grid(kernel.area.right + GAP, top, cell, (orows, ocols))
    bottom = max(shown.area.bottom, products.area.bottom + LINE + 8, output.area.bottom)
    caption = bottom + 14
    width = max(output.area.right + MARGIN, 720)
    formulas = caption + max(len(product_lines(e, step, width)) for step in e.steps) * LINE
    height = formulas + 3 * LINE + 4 + MARGIN  # two formulas and a legend
    return GridLayout((width, height), shown, kernel, products, output, caption, formulas)


@dataclass(frozen=True)
class GridScales:
    """What stays the same from frame to frame: colour scales and text sizes."""

    products: float  # the largest product's size over every step: one colour scale
    output: float
    shown_text: CellText  # size 0: the cells are too small for numbers; they show grey levels
    kernel_text: CellText
    output_text: CellText

    @classmethod
    def of(cls, e: Explanation, where: GridLayout) -> GridScales:
        """Return the scales of ``e``'s grids: one for every frame."""
        products = np.stack([step.products for step in e.steps])
        return cls(
            products=float(np.abs(products).max()),
            output=float(np.abs(e.output).max(initial=0.0)),
            shown_text=_text_size(where.shown.cell, e.padded.ravel()),
            kernel_text=_text_size(where.kernel.cell, [*e.kernel.ravel(), *products.ravel()]),
            output_text=_text_size(where.output.cell, e.output.ravel()),
        )


def _text_size(cell: int, values: Iterable[float]) -> CellText:
    """Return the largest text size (up to 18) and digits at which every value fits its cell.

    Three significant digits, or two if three would be too small to read; (0, 3): none fits.
    """
    numbers = list(values)
    for digits in (3, 2):
        longest = max((draw.number(float(v), digits) for v in numbers), key=len, default="0")
        for size in range(min(18, int(cell * 0.42)), 10, -1):
            if draw.text_width(longest, size) <= cell - 4:
                return (size, digits)
    return (0, 3)


def grid_base(e: Explanation, where: GridLayout, scales: GridScales) -> Image.Image:
    """Draw what every 2-D frame shows alike: the grid, the kernel, the labels, the formulas."""
    image = Image.new("RGB", where.size, WHITE)
    canvas = ImageDraw.Draw(image)
    _shown_grid(canvas, image, e, where.shown, scales.shown_text, np.ndindex(*e.padded.shape))
    cropped = e.crop_start is not None
    _label(
        canvas, where.shown, f"{'crop in context' if cropped else 'input, padded'} ({e.pad_mode})"
    )
    weights, _, _ = draw.heat_map(e.kernel)
    _value_grid(canvas, where.kernel, e.kernel, weights, scales.kernel_text)
    _label(canvas, where.kernel, "kernel" + (", flipped" if e.flip else ""))
    _label(canvas, where.products, "window \u00d7 kernel")
    for row, col in np.ndindex(*e.output.shape):
        canvas.rectangle(where.output.box(row, col).corners, fill=WHITE, outline=RULE)
    whole = " at the crop" if e.crop_start is not None else ""
    _label(canvas, where.output, f"output {'x'.join(map(str, e.output.shape))}{whole}")
    formulas = [f"output {name}: {e.geometry.formula(axis, textbook=True)}"
                for axis, name in enumerate(AXIS_NAMES)]  # fmt: skip
    y = write_caption(canvas, where.formulas, formulas, where.size[0])
    kinds = [("crop" if cropped else "input", WHITE, RULE)]
    if (~(e.inside | e.context)).any():
        kinds.append(("padding", PADDING, HATCH))
    if e.context.any():
        kinds.append(("context (the input around the crop)", CONTEXT, CONTEXT_EDGE))
    write_legend(canvas, y + 4, [*kinds, ("window", WINDOW_TINT, HIGHLIGHT)])
    return image


def grid_frame(
    e: Explanation, where: GridLayout, scales: GridScales, base: Image.Image, number: int
) -> Image.Image:
    """Draw step ``number`` over the base: the window, the products, the output so far."""
    image = base.copy()
    canvas = ImageDraw.Draw(image)
    step = e.steps[number]
    index, at = indices(e, step)
    heading = f"step {number + 1} of {len(e.steps)}: output[{index}], {at}"
    write_title(canvas, where.size[0], heading, e.flip)
    window = tap_cells(e, step)
    _shown_grid(canvas, image, e, where.shown, scales.shown_text, window, tinted=True)
    for row, col in window:
        _outline(canvas, where.shown.box(row, col), HIGHLIGHT, _line_width(where.shown))
    products = step.products
    colours, _, _ = draw.heat_map(products, scale=scales.products)
    _value_grid(canvas, where.products, products, colours, scales.kernel_text)
    below = where.products.area
    draw.text(canvas, (below.left, below.bottom + LINE // 2 + 4), f"Σ = {draw.number(step.sum)}",
              TITLE, INK)  # fmt: skip
    done = np.full(e.output.shape, np.nan)
    for earlier in e.steps[: number + 1]:
        done[earlier.output_index] = e.output[earlier.output_index]
    colours, _, _ = draw.heat_map(e.output, scale=scales.output)
    _value_grid(canvas, where.output, done, colours, scales.output_text)
    _outline(canvas, where.output.box(*step.output_index), HIGHLIGHT, _line_width(where.output))
    write_caption(canvas, where.caption, product_lines(e, step, where.size[0]), where.size[0])
    return image


def _label(canvas: ImageDraw.ImageDraw, grid: Grid, what: str) -> None:
    room = max(grid.area.right - grid.left, 100) + GAP - 8  # up to the next grid
    shown = draw.fitted(what, LABEL, room)
    draw.text(canvas, (grid.left, grid.top - LINE // 2 - 2), shown, LABEL, MUTED)


def _line_width(grid: Grid) -> int:
    return 1 if grid.cell < 16 else max(2, grid.cell // 12)  # small cells: their values show


def _outline(canvas: ImageDraw.ImageDraw, box: Box, colour: RGB, width: int) -> None:
    canvas.rectangle(box.corners, outline=colour, width=width)


def _shown_grid(
    canvas: ImageDraw.ImageDraw,
    image: Image.Image,
    e: Explanation,
    grid: Grid,
    text: CellText,
    cells: Iterable[tuple[int, ...]],
    *,
    tinted: bool = False,
) -> None:
    """Draw shown cells: input, padding (hatched) and context (dashed); ``tinted``: the window's."""
    size, digits = text
    shades = _shades(e.padded) if size == 0 else None
    for row, col in cells:
        box = grid.box(row, col)
        kind = "input" if e.inside[row, col] else "context" if e.context[row, col] else "padding"
        fill = {"input": WHITE, "padding": PADDING, "context": CONTEXT}[kind]
        if shades is not None:  # too small for numbers: the values as grey levels, padding paler
            fill = mix(shades[row, col], fill, 0.6 if kind == "padding" else 0.2)
        if tinted:  # lightly over grey levels, which would be lost under it
            fill = mix(fill, WINDOW_TINT, 0.7 if shades is None else 0.35)
        canvas.rectangle(box.corners, fill=fill, outline=RULE if grid.cell >= 16 else fill)
        if kind == "padding" and grid.cell >= 16:
            image.paste(_hatch(grid.cell - 2, fill), (box.left + 1, box.top + 1))
        elif kind == "context":
            _dashed(canvas, box, CONTEXT_EDGE)
        if size:
            ink = {"input": INK, "padding": MUTED, "context": CONTEXT_INK}[kind]
            middle = ((box.left + box.right) / 2, (box.top + box.bottom) / 2)
            draw.text(
                canvas,
                middle,
                draw.number(float(e.padded[row, col]), digits),
                size,
                ink,
                anchor="m",
            )


def _shades(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    rgb, _, _ = draw.heat_map(values - values.min(), "gray")
    return rgb


@functools.cache
def _hatch(side: int, fill: RGB) -> Image.Image:
    """Return a cell of padding: hatched, so that it reads as not the input's even in grey."""
    tile = Image.new("RGB", (side, side), fill)
    canvas = ImageDraw.Draw(tile)
    for x in range(-side, side, 7):
        canvas.line([(x, side), (x + side, 0)], fill=HATCH, width=1)
    return tile


def _dashed(canvas: ImageDraw.ImageDraw, box: Box, colour: RGB) -> None:
    right, bottom = box.right - 1, box.bottom - 1
    for x in range(box.left, right, 6):
        for y in (box.top, bottom):
            canvas.line([(x, y), (min(x + 3, right), y)], fill=colour)
    for y in range(box.top, bottom, 6):
        for x in (box.left, right):
            canvas.line([(x, y), (x, min(y + 3, bottom))], fill=colour)


def _value_grid(
    canvas: ImageDraw.ImageDraw,
    grid: Grid,
    values: npt.NDArray[np.float64],
    colours: npt.NDArray[np.uint8],
    text: CellText,
) -> None:
    """Draw heat-coloured cells with their values; a NaN is a cell not computed yet: skipped."""
    for row, col in np.ndindex(*values.shape):
        box = grid.box(row, col)
        value = float(values[row, col])
        if math.isnan(value):  # left empty, as the base draws it
            continue
        fill: RGB = (int(colours[row, col][0]), int(colours[row, col][1]),
                     int(colours[row, col][2]))  # fmt: skip
        canvas.rectangle(box.corners, fill=fill, outline=WHITE)
        if text[0]:
            dark = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] < 120
            middle = ((box.left + box.right) / 2, (box.top + box.bottom) / 2)
            draw.text(
                canvas,
                middle,
                draw.number(value, text[1]),
                text[0],
                WHITE if dark else INK,
                anchor="m",
            )
