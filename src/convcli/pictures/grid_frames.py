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
from convcli.layer_explanation import LayerExplanation
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

LABEL_ROOM = 100  # pixels: a grid's label may run past a narrower grid, up to the next one


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
        return cls.over([e], e.output, (where.shown.cell, where.kernel.cell, where.output.cell))

    @classmethod
    def over(
        cls, planes: list[Explanation], output: npt.NDArray[np.float64], cells: tuple[int, int, int]
    ) -> GridScales:
        """Return one set of scales for the grids of every plane, and the output's.

        ``cells`` are the shown grids', the kernels' and the output's cell sizes.
        """
        products = np.stack([step.products for e in planes for step in e.steps])
        kernels = [value for e in planes for value in e.kernel.ravel()]
        shown, kernel, out = cells
        return cls(
            products=float(np.abs(products).max()),
            output=float(np.abs(output).max(initial=0.0)),
            shown_text=_text_size(shown, [v for e in planes for v in e.padded.ravel()]),
            kernel_text=_text_size(kernel, [*kernels, *products.ravel()]),
            output_text=_text_size(out, output.ravel()),
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
    _plane_base(canvas, image, e, (where.shown, where.kernel, where.products), scales)
    _output_base(canvas, e, e.output.shape, where.output)
    _formulas_and_legend(canvas, e, where.formulas, where.size[0])
    return image


def _plane_base(
    canvas: ImageDraw.ImageDraw,
    image: Image.Image,
    e: Explanation,
    grids: tuple[Grid, Grid, Grid],
    scales: GridScales,
    channel: int | None = None,
) -> None:
    """Draw one plane's grid, its kernel and their labels: of a channel, named by its index."""
    shown, kernel, products = grids
    _shown_grid(canvas, image, e, shown, scales.shown_text, np.ndindex(*e.padded.shape))
    cropped = e.crop_start is not None
    what = f"{'crop in context' if cropped else 'input, padded'} ({e.pad_mode})"
    _label(canvas, shown, what if channel is None else f"channel {channel}: {what}")
    weights, _, _ = draw.heat_map(e.kernel)
    _value_grid(canvas, kernel, e.kernel, weights, scales.kernel_text)
    name = "kernel" if channel is None else f"kernel[{channel}]"
    _label(canvas, kernel, name + (", flipped" if e.flip else ""))
    _label(canvas, products, f"window \u00d7 {name}")


def _output_base(
    canvas: ImageDraw.ImageDraw, e: Explanation, shape: tuple[int, ...], grid: Grid
) -> None:
    """Draw the output's empty cells and its label."""
    for row, col in np.ndindex(*shape):
        canvas.rectangle(grid.box(row, col).corners, fill=WHITE, outline=RULE)
    whole = " at the crop" if e.crop_start is not None else ""
    _label(canvas, grid, f"output {'x'.join(map(str, shape))}{whole}")


def _formulas_and_legend(canvas: ImageDraw.ImageDraw, e: Explanation, top: int, width: int) -> None:
    """Write the output-size formulas, and a legend of the kinds of cells shown."""
    formulas = [f"output {name}: {e.geometry.formula(axis, textbook=True)}"
                for axis, name in enumerate(AXIS_NAMES)]  # fmt: skip
    y = write_caption(canvas, top, formulas, width)
    kinds = [("crop" if e.crop_start is not None else "input", WHITE, RULE)]
    if (~(e.inside | e.context)).any():
        kinds.append(("padding", PADDING, HATCH))
    if e.context.any():
        kinds.append(("context (the input around the crop)", CONTEXT, CONTEXT_EDGE))
    write_legend(canvas, y + 4, [*kinds, ("window", WINDOW_TINT, HIGHLIGHT)])


def grid_frame(
    e: Explanation, where: GridLayout, scales: GridScales, base: Image.Image, number: int
) -> Image.Image:
    """Draw step ``number`` over the base: the window, the products, the output so far."""
    image = base.copy()
    canvas = ImageDraw.Draw(image)
    _heading(canvas, e, number, where.size[0])
    _plane_frame(canvas, image, e, (where.shown, where.products), scales, number)
    _output_frame(canvas, e, e.output, where.output, scales, number)
    write_caption(canvas, where.caption, product_lines(e, e.steps[number], where.size[0]),
                  where.size[0])  # fmt: skip
    return image


def _heading(canvas: ImageDraw.ImageDraw, e: Explanation, number: int, width: int) -> None:
    index, at = indices(e, e.steps[number])
    write_title(
        canvas, width, f"step {number + 1} of {len(e.steps)}: output[{index}], {at}", e.flip
    )


def _plane_frame(
    canvas: ImageDraw.ImageDraw,
    image: Image.Image,
    e: Explanation,
    grids: tuple[Grid, Grid],
    scales: GridScales,
    number: int,
) -> None:
    """Draw one plane's window at step ``number``, its products and their sum."""
    shown, products = grids
    step = e.steps[number]
    window = tap_cells(e, step)
    _shown_grid(canvas, image, e, shown, scales.shown_text, window, tinted=True)
    for row, col in window:
        _outline(canvas, shown.box(row, col), HIGHLIGHT, _line_width(shown))
    colours, _, _ = draw.heat_map(step.products, scale=scales.products)
    _value_grid(canvas, products, step.products, colours, scales.kernel_text)
    below = products.area
    draw.text(canvas, (below.left, below.bottom + LINE // 2 + 4), f"Σ = {draw.number(step.sum)}",
              TITLE, INK)  # fmt: skip


def _output_frame(
    canvas: ImageDraw.ImageDraw,
    e: Explanation,
    output: npt.NDArray[np.float64],
    grid: Grid,
    scales: GridScales,
    number: int,
) -> None:
    """Draw the outputs computed up to step ``number`` (``e``'s windows), the current outlined."""
    done = np.full(output.shape, np.nan)
    for earlier in e.steps[: number + 1]:
        done[earlier.output_index] = output[earlier.output_index]
    colours, _, _ = draw.heat_map(output, scale=scales.output)
    _value_grid(canvas, grid, done, colours, scales.output_text)
    _outline(canvas, grid.box(*e.steps[number].output_index), HIGHLIGHT, _line_width(grid))


# --- a layer's filter: a band of grids per channel, their sums added ------------------------


@dataclass(frozen=True)
class LayerLayout:
    """Where a layer's frame draws what: per channel a band, its grid, kernel and products."""

    size: tuple[int, int]
    bands: tuple[tuple[Grid, Grid, Grid], ...]  # per channel: the shown grid, kernel, products
    output: Grid
    caption: int  # the top of the total: the channels' sums and the bias
    formulas: int


def layer_layout(e: LayerExplanation) -> LayerLayout:
    """Return where a layer's frame draws its grids: a band per channel, the output beside them."""
    first = e.planes[0]
    rows, cols = first.padded.shape
    krows, kcols = first.kernel.shape
    orows, ocols = e.output.shape
    band = max(GRID_HEIGHT // len(e.planes), 3 * LINE)  # each channel's share of the height
    kcell = clamp(min(150 // kcols, (band - LINE) // krows), MIN_CELL, MAX_CELL)
    room = MAX_WIDTH - 2 * MARGIN - 3 * GAP - 2 * max(kcols * kcell, LABEL_ROOM)
    cell = clamp(min(room // (cols + ocols), band // rows), MIN_CELL, MAX_CELL)
    top = MARGIN + 2 * LINE + 8 + LINE  # the title and its kind, then a label over each grid
    bands, y = [], top
    for _ in e.planes:
        shown = Grid(MARGIN, y, cell, (rows, cols))
        kernel = Grid(shown.left + _width(shown) + GAP, y, kcell, (krows, kcols))
        products = Grid(kernel.left + _width(kernel) + GAP, y, kcell, (krows, kcols))
        bands.append((shown, kernel, products))
        y = max(shown.area.bottom, products.area.bottom + LINE + 8) + LINE + 8  # the next label
    products = bands[0][2]
    output = Grid(products.left + _width(products) + GAP, top, cell, (orows, ocols))
    caption = max(y - LINE, output.area.bottom) + 14
    width = max(output.area.right + MARGIN, 720)
    height = caption + LINE + 3 * LINE + 4 + MARGIN  # the total, two formulas and a legend
    return LayerLayout((width, height), tuple(bands), output, caption, caption + LINE)


def layer_scales(e: LayerExplanation, where: LayerLayout) -> GridScales:
    """Return the scales of a layer's grids: one for every channel and frame."""
    shown, kernel, _ = where.bands[0]
    return GridScales.over(e.planes, e.output, (shown.cell, kernel.cell, where.output.cell))


def layer_base(e: LayerExplanation, where: LayerLayout, scales: GridScales) -> Image.Image:
    """Draw what every frame of a layer's filter shows alike: each channel's grids, the labels."""
    image = Image.new("RGB", where.size, WHITE)
    canvas = ImageDraw.Draw(image)
    for plane, channel, grids in zip(e.planes, e.channels, where.bands, strict=True):
        _plane_base(canvas, image, plane, grids, scales, channel)
    _output_base(canvas, e.planes[0], e.output.shape, where.output)
    _formulas_and_legend(canvas, e.planes[0], where.formulas, where.size[0])
    return image


def layer_frame(
    e: LayerExplanation, where: LayerLayout, scales: GridScales, base: Image.Image, number: int
) -> Image.Image:
    """Draw step ``number`` on every channel, and the output: the channels' sums plus the bias."""
    image = base.copy()
    canvas = ImageDraw.Draw(image)
    first = e.planes[0]
    _heading(canvas, first, number, where.size[0])
    for plane, (shown, _, products) in zip(e.planes, where.bands, strict=True):
        _plane_frame(canvas, image, plane, (shown, products), scales, number)
    _output_frame(canvas, first, e.output, where.output, scales, number)
    index, _ = indices(first, first.steps[number])
    sums = " + ".join(draw.number(plane.steps[number].sum) for plane in e.planes)
    total = (
        f"output[{index}] = {sums} + bias {draw.number(e.bias)} = {draw.number(e.totals[number])}"
    )
    write_caption(canvas, where.caption, [total], where.size[0])
    return image


def _label(canvas: ImageDraw.ImageDraw, grid: Grid, what: str) -> None:
    room = _width(grid) + GAP - 8  # up to the next grid
    shown = draw.fitted(what, LABEL, room)
    draw.text(canvas, (grid.left, grid.top - LINE // 2 - 2), shown, LABEL, MUTED)


def _width(grid: Grid) -> int:
    """Return the width a grid takes: its label's, at least."""
    return max(grid.area.right - grid.left, LABEL_ROOM)


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
