"""Animations of the sliding window: one frame per step of an explanation, as GIF or APNG.

A 2-D frame shows the grid ``explain`` shows (input, padding, context), the
window's taps outlined, the kernel as applied, the products and their sum,
and the output filling in cell by cell. A 1-D frame is the lecture's
picture: the signal f as steps, the kernel g (reversed with flip) at the
current lag, the area under f·g shaded, and the output curve drawn so far,
on axes fixed for the whole animation so that nothing jumps.

Every frame is mapped to one fixed palette by nearest colour (Pillow's own
mapping is approximate), so a colour drawn is the colour decoded, and the
same explanation always gives the same bytes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from convcli.colormaps import lookup_table
from convcli.errors import UsageError
from convcli.explain import Explanation, Step, taps
from convcli.io.atomic import write_atomically
from convcli.limits import MAX_ANIMATION_FRAMES
from convcli.pictures import draw

RGB = tuple[int, int, int]
CellText = tuple[int, int]  # the text size of a grid's numbers, and their significant digits
WHITE: RGB = (255, 255, 255)
INK: RGB = (33, 37, 41)
MUTED: RGB = (108, 108, 108)
RULE: RGB = (200, 200, 200)
HIGHLIGHT: RGB = (22, 163, 74)  # the window and the current output: drawn nowhere else on a grid
WINDOW_TINT: RGB = (200, 240, 212)
PADDING: RGB = (228, 228, 228)
HATCH: RGB = (196, 196, 196)
CONTEXT: RGB = (220, 232, 247)
CONTEXT_EDGE: RGB = (96, 130, 180)
CONTEXT_INK: RGB = (62, 84, 120)
SIGNAL: RGB = (31, 119, 180)
SIGNAL_FILL: RGB = (206, 225, 242)
KERNEL: RGB = (214, 39, 40)
AREA: RGB = (255, 196, 40)
PADDING_BAND: RGB = (240, 240, 240)
CONTEXT_BAND: RGB = (236, 243, 251)
_KEY_COLOURS = (WHITE, INK, MUTED, RULE, HIGHLIGHT, WINDOW_TINT, PADDING, HATCH, CONTEXT,
                CONTEXT_EDGE, CONTEXT_INK, SIGNAL, SIGNAL_FILL, KERNEL, AREA, PADDING_BAND,
                CONTEXT_BAND)  # fmt: skip

FRAME_MS = 700
LAST_FRAME_MS = 2500  # time to read the finished output before the loop starts again
MARGIN = 16
GAP = 40
MAX_CELL = 44
MIN_CELL = 8
MAX_WIDTH = 1280  # the grids shrink their cells to fit; text is cut with an ellipsis
GRID_HEIGHT = 640
TITLE = 18
LABEL = 15
CAPTION = 16
LINE = 24  # the height of a line of caption text


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels: ``left <= x < right`` and ``top <= y < bottom``."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        """Return the height in pixels."""
        return self.bottom - self.top

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """The corners as ImageDraw takes them (the last row and column included)."""
        return (self.left, self.top, self.right - 1, self.bottom - 1)


@dataclass(frozen=True)
class Grid:
    """Square cells in rows and columns, the first at ``(left, top)``."""

    left: int
    top: int
    cell: int
    shape: tuple[int, int]

    def box(self, row: int, col: int) -> Box:
        """Return the pixels of one cell."""
        x, y = self.left + col * self.cell, self.top + row * self.cell
        return Box(x, y, x + self.cell, y + self.cell)

    @property
    def area(self) -> Box:
        """The pixels of the whole grid."""
        rows, cols = self.shape
        return Box(self.left, self.top, self.left + cols * self.cell, self.top + rows * self.cell)


@dataclass(frozen=True)
class GridLayout:
    """Where a 2-D frame draws what: the shown grid, kernel, products and output."""

    size: tuple[int, int]
    shown: Grid
    kernel: Grid
    products: Grid
    output: Grid
    caption: int  # the top of the text under the grids: the products written out
    formulas: int  # the top of the output-size formulas, under the longest products


@dataclass(frozen=True)
class PlotLayout:
    """Where a 1-D frame draws what: one column per shown sample, over two plots."""

    size: tuple[int, int]
    samples: Grid  # one column per shown sample, across both plots
    signal: Box  # the signal's plot
    curve: Box  # the output curve's plot, under the same columns
    signal_range: tuple[float, float]
    kernel_scale: float  # g drawn this many times taller: 1 unless g is far from f's size
    area_scale: float  # and f·g this many: 1 / g's largest weight then, so that f·g stays under f
    curve_range: tuple[float, float]
    first: int  # the shown sample where output 0's window starts
    stride: int
    span: int  # the dilated kernel's extent, in samples
    caption: int

    def signal_y(self, value: float) -> int:
        """Return the height in pixels of ``value`` on the signal's plot."""
        return _scale(value, self.signal_range, self.signal)

    def curve_y(self, value: float) -> int:
        """Return the height in pixels of ``value`` on the output curve's plot."""
        return _scale(value, self.curve_range, self.curve)

    def lag_x(self, index: int) -> int:
        """Where output ``index`` is drawn: under the middle of its window."""
        middle = self.first + index * self.stride + (self.span - 1) / 2
        return round(self.samples.left + (middle + 0.5) * self.samples.cell)


def _scale(value: float, bounds: tuple[float, float], box: Box) -> int:
    low, high = bounds
    room = 8  # above the highest value and below the lowest
    return round(box.bottom - 1 - room - (value - low) / (high - low) * (box.height - 1 - 2 * room))


def layout(explanation: Explanation) -> GridLayout | PlotLayout:
    """Return where the frames of ``explanation`` draw each part (the same for every frame)."""
    if explanation.kernel.ndim == 1:
        return _plot_layout(explanation)
    return _grid_layout(explanation)


def highlights(explanation: Explanation, number: int) -> list[Box]:
    """Return the rectangles frame ``number`` draws in :data:`HIGHLIGHT`.

    In 2-D, each cell under a kernel tap and the output cell being computed;
    in 1-D, a mark under each tap's sample and the current point of the curve.
    Tests decode the frames and look for the colour there, and nowhere else on
    the grids and plots.
    """
    where = layout(explanation)
    step = explanation.steps[number]
    rows_cols = _tap_cells(explanation, step)
    if isinstance(where, GridLayout):
        return [where.shown.box(r, c) for r, c in rows_cols] + [
            where.output.box(*_as_2d(step.output_index))
        ]
    marks = [_tap_mark(where, c) for _, c in rows_cols]
    x, y = where.lag_x(step.output_index[0]), where.curve_y(step.sum)
    return [*marks, Box(x - _DOT, y - _DOT, x + _DOT + 1, y + _DOT + 1)]


def frames(explanation: Explanation) -> list[Image.Image]:
    """Draw one frame per step of ``explanation``, in order (palette images, one palette)."""
    count = len(explanation.steps)
    if count > MAX_ANIMATION_FRAMES:
        raise UsageError(
            f"an animation shows at most {MAX_ANIMATION_FRAMES} window positions, asked for {count}"
        )
    paint: Callable[[int], Image.Image]
    where = layout(explanation)
    if isinstance(where, GridLayout):
        scales = _GridScales.of(explanation, where)
        base = _grid_base(explanation, where, scales)
        paint = functools.partial(_grid_frame, explanation, where, scales, base)
    else:
        paint = functools.partial(_plot_frame, explanation, where)
    return list(_to_palette(paint(number) for number in range(count)))


def write_animation(explanation: Explanation, path: Path) -> None:
    """Write the frames of ``explanation``: a looping GIF, or APNG for ``.png`` and ``.apng``.

    The file is written atomically, and its bytes depend on the explanation
    alone. Each frame shows for 0.7 s, the last for 2.5 s.
    """
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png", ".apng"):
        raise UsageError(
            f"an animation is written as .gif, .png or .apng (APNG), not {suffix or 'no suffix'}:"
            f" {path.name}"
        )
    if not explanation.steps:
        raise UsageError("an animation needs at least one window position (steps >= 1)")
    pictures = frames(explanation)
    durations = [FRAME_MS] * (len(pictures) - 1) + [LAST_FRAME_MS]
    fmt, options = (
        ("GIF", {"disposal": 1}) if suffix == ".gif" else ("PNG", {"default_image": False})
    )

    def save(stream: BinaryIO) -> None:
        pictures[0].save(stream, fmt, save_all=True, append_images=pictures[1:],
                         duration=durations, loop=0, **options)  # fmt: skip

    write_atomically(path, save)


# --- 2-D -------------------------------------------------------------------------------

_NAMES = ("rows", "cols")


def _as_2d(index: tuple[int, ...]) -> tuple[int, int]:
    return (0, index[0]) if len(index) == 1 else (index[0], index[1])


def _tap_cells(explanation: Explanation, step: Step) -> list[tuple[int, int]]:
    """Return the shown cells under the kernel's taps, as (row, column); row 0 in 1-D."""
    mask = np.zeros(explanation.padded.shape, dtype=bool)
    mask[taps(step.origin, explanation.geometry)] = True
    return [_as_2d(tuple(int(i) for i in index)) for index in np.argwhere(mask)]


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _grid_layout(e: Explanation) -> GridLayout:
    rows, cols = e.padded.shape
    krows, kcols = e.kernel.shape
    orows, ocols = e.output.shape
    # The kernel's column has its own cells, so a small kernel stays legible beside a large grid.
    kcell = _clamp(min(300 // kcols, (GRID_HEIGHT - 3 * LINE) // (2 * krows)), MIN_CELL, MAX_CELL)
    room = MAX_WIDTH - 2 * MARGIN - 2 * GAP - kcols * kcell
    cell = _clamp(min(room // (cols + ocols), GRID_HEIGHT // max(rows, orows)), MIN_CELL, MAX_CELL)
    top = MARGIN + 2 * LINE + 8 + LINE  # the title and its kind, then a label over each grid
    shown = Grid(MARGIN, top, cell, (rows, cols))
    kernel = Grid(shown.area.right + GAP, top, kcell, (krows, kcols))
    products = Grid(kernel.left, kernel.area.bottom + LINE + 4, kcell, (krows, kcols))
    output = Grid(kernel.area.right + GAP, top, cell, (orows, ocols))
    bottom = max(shown.area.bottom, products.area.bottom + LINE + 8, output.area.bottom)
    caption = bottom + 14
    width = max(output.area.right + MARGIN, 720)
    formulas = caption + max(len(_products(e, step, width)) for step in e.steps) * LINE
    height = formulas + 3 * LINE + 4 + MARGIN  # two formulas and a legend
    return GridLayout((width, height), shown, kernel, products, output, caption, formulas)


@dataclass(frozen=True)
class _GridScales:
    """What stays the same from frame to frame: colour scales and text sizes."""

    products: float  # the largest product's size over every step: one colour scale
    output: float
    shown_text: CellText  # size 0: the cells are too small for numbers; they show grey levels
    kernel_text: CellText
    output_text: CellText

    @classmethod
    def of(cls, e: Explanation, where: GridLayout) -> _GridScales:
        products = np.stack([step.window * e.kernel for step in e.steps])
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


def _grid_base(e: Explanation, where: GridLayout, scales: _GridScales) -> Image.Image:
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
                for axis, name in enumerate(_NAMES)]  # fmt: skip
    y = _caption(canvas, where.formulas, formulas, where.size[0])
    kinds = [("crop" if cropped else "input", WHITE, RULE)]
    if (~(e.inside | e.context)).any():
        kinds.append(("padding", PADDING, HATCH))
    if e.context.any():
        kinds.append(("context (the input around the crop)", CONTEXT, CONTEXT_EDGE))
    _legend(canvas, y + 4, [*kinds, ("window", WINDOW_TINT, HIGHLIGHT)])
    return image


def _grid_frame(
    e: Explanation, where: GridLayout, scales: _GridScales, base: Image.Image, number: int
) -> Image.Image:
    """Draw step ``number`` over the base: the window, the products, the output so far."""
    image = base.copy()
    canvas = ImageDraw.Draw(image)
    step = e.steps[number]
    index, at = _indices(e, step)
    _title(canvas, where.size[0], f"step {number + 1} of {len(e.steps)}: output[{index}], {at}",
           e.flip)  # fmt: skip
    window = _tap_cells(e, step)
    _shown_grid(canvas, image, e, where.shown, scales.shown_text, window, tinted=True)
    for row, col in window:
        _outline(canvas, where.shown.box(row, col), HIGHLIGHT, _line_width(where.shown))
    products = step.window * e.kernel
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
    _caption(canvas, where.caption, _products(e, step, where.size[0]), where.size[0])
    return image


def _title(canvas: ImageDraw.ImageDraw, width: int, what: str, flip: bool) -> None:
    kind = ("true convolution: the kernel is flipped (rotated 180°) before it slides" if flip
            else "cross-correlation: the kernel slides as written (no flip)")  # fmt: skip
    room = width - 2 * MARGIN
    title, subtitle = draw.fitted(what, TITLE, room), draw.fitted(kind, LABEL, room)
    draw.text(canvas, (MARGIN, MARGIN + LINE // 2), title, TITLE, INK)
    draw.text(canvas, (MARGIN, MARGIN + LINE + LINE // 2), subtitle, LABEL, MUTED)


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
            fill = _mix(shades[row, col], fill, 0.6 if kind == "padding" else 0.2)
        if tinted:  # lightly over grey levels, which would be lost under it
            fill = _mix(fill, WINDOW_TINT, 0.7 if shades is None else 0.35)
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


def _mix(a: Iterable[int], b: Iterable[int], weight: float) -> RGB:
    """Return ``a`` with ``weight`` of ``b`` mixed in."""
    r, g, bl = (round(x * (1 - weight) + y * weight) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


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


def _indices(e: Explanation, step: Step) -> tuple[str, str]:
    """Name a step's output and window as the terminal does: with a crop, by the whole input's."""
    cropped = e.crop_start is not None
    names = _NAMES if e.kernel.ndim == 2 else ("samples",)
    shift = e.offset if cropped else (0,) * e.kernel.ndim  # padded indices start at 0
    cells = ", ".join(
        f"{name} {s.start + o}..{s.stop - 1 + o}" + (f" every {s.step}" if s.step > 1 else "")
        for name, s, o in zip(names, taps(step.origin, e.geometry), shift, strict=True)
    )
    index = ", ".join(str(i + o) for i, o in zip(step.output_index, e.output_start, strict=True))
    return index, f"window at {'input' if cropped else 'padded'} {cells}"


def _products(e: Explanation, step: Step, width: int) -> list[str]:
    """Return the dot product of ``step`` written out, on up to three lines (one in 1-D)."""
    terms = [f"({draw.number(float(a))}·{draw.number(float(w))})"
             for a, w in zip(step.window.ravel(), e.kernel.ravel(), strict=True)]  # fmt: skip
    index, _ = _indices(e, step)
    head = f"output[{index}] = " + ("Σ f·g = " if e.kernel.ndim == 1 else "")
    return _wrap(head, terms, f" = {draw.number(step.sum)}", width, most=e.kernel.ndim * 2 - 1)


def _wrap(head: str, terms: list[str], tail: str, width: int, most: int = 3) -> list[str]:
    """Write ``head`` + the terms joined by ``+`` + ``tail`` on at most ``most`` lines."""
    room = width - 2 * MARGIN

    def size(text: str) -> int:
        return draw.text_width(text, CAPTION)

    lines: list[str] = []
    line, used = head, size(head)  # a line's width as the sum of its pieces': fast, near enough
    for number, term in enumerate(terms):
        joined = term if number == 0 else f" + {term}"
        last = len(lines) == most - 1
        left = len(terms) - number - 1  # after this term
        ending = (f" + … ({left} more){tail}" if left else tail) if last else ""
        if used + size(joined) + size(ending) > room and line.strip():
            if last:  # no room for the rest: say how many are left out
                return [*lines, f"{line} + … ({left + 1} more){tail}"]
            lines.append(line)
            line = "    + " + term
            used = size(line)
        else:
            line += joined
            used += size(joined)
    if used + size(tail) > room:
        lines.append(line)
        line = "   "
    return [*lines, line + tail]


def _caption(canvas: ImageDraw.ImageDraw, top: int, lines: list[str], width: int) -> int:
    """Draw lines of caption text from ``top``, cut to ``width``; return the height under them."""
    y = top
    for line in lines:
        shown = draw.fitted(line, CAPTION, width - 2 * MARGIN)
        draw.text(canvas, (MARGIN, y + LINE // 2), shown, CAPTION, INK)
        y += LINE
    return y


def _legend(canvas: ImageDraw.ImageDraw, top: int, kinds: list[tuple[str, RGB, RGB]]) -> None:
    x, middle = MARGIN, top + LINE // 2
    for name, fill, edge in kinds:
        canvas.rectangle((x, middle - 7, x + 14, middle + 7), fill=fill, outline=edge, width=2)
        draw.text(canvas, (x + 20, middle), name, LABEL, MUTED)
        x += 20 + draw.text_width(name, LABEL) + 22


# --- 1-D -------------------------------------------------------------------------------

_DOT = 6  # the current point's radius on the output curve
_AXIS = 56  # room for the plots' tick labels, left of the samples
SIGNAL_PLOT = 210
CURVE_PLOT = 150


def _bounds(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Return a plot's value range: from the lowest value or 0 to the highest or 0."""
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    return (low, high) if high > low else (low, low + 1.0)


def _plot_layout(e: Explanation) -> PlotLayout:
    count = e.padded.shape[0]
    column = _clamp((MAX_WIDTH - 2 * MARGIN - 2 * _AXIS) // count, MIN_CELL, MAX_CELL)
    top = MARGIN + 2 * LINE + 8 + LINE
    samples = Grid(MARGIN + _AXIS, top, column, (1, count))
    signal = Box(samples.left, top, samples.area.right, top + SIGNAL_PLOT)
    # under the signal: sample numbers, the window's marks, the products, the curve's label
    curve_top = signal.bottom + LINE + 10 + LINE + LINE + 8
    curve = Box(samples.left, curve_top, samples.area.right, curve_top + CURVE_PLOT)
    products = np.stack([step.window * e.kernel for step in e.steps])
    f_size, g_size = float(np.abs(e.padded).max()), float(np.abs(e.kernel).max())
    # A kernel of weights near 0.1 over values near 100 would be a flat line: scale it to f.
    far = f_size > 0 and g_size > 0 and not 1 / 3 <= f_size / g_size <= 3
    scale, area = (f_size / g_size, 1 / g_size) if far else (1.0, 1.0)
    signal_values = np.concatenate([e.padded, scale * e.kernel, area * products.ravel()])
    g = e.geometry
    width = max(samples.area.right + _AXIS + MARGIN, 720)
    caption = curve.bottom + LINE + 6
    return PlotLayout(
        size=(width, caption + 2 * LINE + MARGIN),
        samples=samples,
        signal=signal,
        curve=curve,
        signal_range=_bounds(signal_values),
        kernel_scale=scale,
        area_scale=area,
        curve_range=_bounds(np.concatenate([e.output.ravel(), [s.sum for s in e.steps]])),
        first=e.steps[0].origin[0],
        stride=g.stride[0],
        span=g.dilation[0] * (g.kernel_shape[0] - 1) + 1,
        caption=caption,
    )


def _tap_mark(where: PlotLayout, column: int) -> Box:
    cell = where.samples.box(0, column)
    top = where.signal.bottom + LINE + 4
    inset = max(1, cell.right - cell.left) // 6
    return Box(cell.left + inset, top, cell.right - inset, top + 6)


def _plot_frame(e: Explanation, where: PlotLayout, number: int) -> Image.Image:
    image = Image.new("RGB", where.size, WHITE)
    canvas = ImageDraw.Draw(image)
    step = e.steps[number]
    (span,) = taps(step.origin, e.geometry)
    index, at = _indices(e, step)
    _title(canvas, where.size[0], f"step {number + 1} of {len(e.steps)}: output[{index}], {at}",
           e.flip)  # fmt: skip
    plot, columns = where.signal, where.samples
    zero = where.signal_y(0.0)
    _axis(canvas, plot, where.signal_range, where.signal_y)
    scale = where.kernel_scale
    if scale != 1.0:  # g's own axis, on the right, in its colour
        for weight in sorted({float(e.kernel.min()), float(e.kernel.max())} - {0.0}):
            y = where.signal_y(weight * scale)
            canvas.line([(plot.right + 3, y), (plot.right + 7, y)], fill=KERNEL)
            draw.text(canvas, (plot.right + 10, y), draw.number(weight), 13, KERNEL)
    signal = "the crop in context" if e.crop_start is not None else "padded"
    taller = f" ({draw.number(scale, 2)} times taller: red axis)" if scale != 1.0 else ""
    reversed_ = ", reversed" if e.flip else ""
    named = f"f: the signal, {signal}    g: the kernel{reversed_}{taller}    shaded: f·g"
    draw.text(canvas, (plot.left, plot.top - LINE // 2 - 2), named, LABEL, MUTED)
    kinds = np.where(e.inside, 0, np.where(e.context, 1, 2))
    fills, lines = (SIGNAL_FILL, CONTEXT, PADDING), (SIGNAL, CONTEXT_EDGE, MUTED)
    bands = (WHITE, CONTEXT_BAND, PADDING_BAND)  # behind the samples, so padding reads as such
    for i, value in enumerate(e.padded):
        box = columns.box(0, i)
        canvas.rectangle((box.left, plot.top, box.right - 1, plot.bottom - 1), fill=bands[kinds[i]])
        y = where.signal_y(float(value))
        canvas.rectangle(
            (box.left, min(y, zero), box.right - 1, max(y, zero)), fill=fills[kinds[i]]
        )
    tap_columns = list(range(span.start, span.stop, span.step))
    for column, weight in zip(tap_columns, e.kernel, strict=True):
        box = columns.box(0, column)
        y = where.signal_y(float(e.padded[column] * weight) * where.area_scale)
        canvas.rectangle((box.left, min(y, zero), box.right - 1, max(y, zero)), fill=AREA)
    canvas.line([(plot.left, zero), (plot.right - 1, zero)], fill=RULE, width=1)
    previous = None
    for i, value in enumerate(e.padded):  # f as steps: a level per sample, risers between
        box = columns.box(0, i)
        y = where.signal_y(float(value))
        if previous is not None:
            canvas.line([(box.left, previous), (box.left, y)], fill=lines[kinds[i]], width=2)
        canvas.line([(box.left, y), (box.right - 1, y)], fill=lines[kinds[i]], width=3)
        previous = y
    for column, weight in zip(tap_columns, e.kernel, strict=True):  # g: an outlined bar per tap
        box = columns.box(0, column)
        y = where.signal_y(float(weight) * scale)
        canvas.rectangle((box.left + 1, min(y, zero), box.right - 2, max(y, zero)),
                         outline=KERNEL, width=2)  # fmt: skip
        canvas.line([(box.left + 1, y), (box.right - 2, y)], fill=KERNEL, width=3)
    _ticks(canvas, plot.bottom + LINE // 2 + 2, range(len(e.padded)),
           lambda i: columns.left + int((i + 0.5) * columns.cell),
           e.offset[0] if e.crop_start is not None else 0)  # fmt: skip
    for column in tap_columns:
        canvas.rectangle(_tap_mark(where, column).corners, fill=HIGHLIGHT)
    _caption(canvas, plot.bottom + LINE + 14, _products(e, step, where.size[0]), where.size[0])
    _curve(canvas, e, where, number)
    formula = f"output size: {e.geometry.formula(0, textbook=True)}"
    y = _caption(canvas, where.caption, [formula], where.size[0])
    _legend(canvas, y, [("f (signal)", SIGNAL_FILL, SIGNAL), ("g (kernel)", WHITE, KERNEL),
                        ("f·g: its area is the output", AREA, AREA),
                        ("window", WHITE, HIGHLIGHT)])  # fmt: skip
    return image


def _axis(
    canvas: ImageDraw.ImageDraw,
    plot: Box,
    bounds: tuple[float, float],
    height: Callable[[float], int],
) -> None:
    """Draw a vertical axis left of ``plot``, its ends and 0 written."""
    canvas.line([(plot.left - 4, plot.top), (plot.left - 4, plot.bottom - 1)], fill=RULE)
    for value in sorted({bounds[0], 0.0, bounds[1]}):
        y = height(value)
        canvas.line([(plot.left - 8, y), (plot.left - 4, y)], fill=MUTED)
        draw.text(canvas, (plot.left - 12, y), draw.number(value), 13, MUTED, anchor="r")


def _ticks(
    canvas: ImageDraw.ImageDraw, y: int, indices: range, x: Callable[[int], int], first: int
) -> None:
    """Write some of ``indices`` (plus ``first``) at ``x(i)``: as many as fit without touching."""
    widest = max(draw.text_width(str(i + first), 13) for i in (indices[0], indices[-1])) + 8
    spacing = x(indices[1]) - x(indices[0]) if len(indices) > 1 else widest
    for i in indices[:: max(1, math.ceil(widest / spacing))]:
        draw.text(canvas, (x(i), y), str(i + first), 13, MUTED, anchor="m")


def _curve(canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout, number: int) -> None:
    """Draw the output so far, on axes fixed for every frame; the current value labelled."""
    box = where.curve
    draw.text(canvas, (box.left, box.top - LINE // 2 - 2),
              "output: the area under f·g, one point per lag", LABEL, MUTED)  # fmt: skip
    _axis(canvas, box, where.curve_range, where.curve_y)
    zero = where.curve_y(0.0)
    canvas.line([(box.left, zero), (box.right - 1, zero)], fill=RULE)
    points = [(where.lag_x(s.output_index[0]), where.curve_y(s.sum)) for s in e.steps[: number + 1]]
    if len(points) > 1:
        canvas.line(points, fill=INK, width=2)
    for x, y in points[:-1]:
        canvas.ellipse((x - 3, y - 3, x + 3, y + 3), fill=INK)
    x, y = points[-1]
    canvas.ellipse((x - _DOT, y - _DOT, x + _DOT, y + _DOT), fill=HIGHLIGHT)
    value = draw.number(e.steps[number].sum)
    anchor = "l" if x < (box.left + box.right) / 2 else "r"
    shift = _DOT + 6 if anchor == "l" else -_DOT - 6
    label_y = y - 14 if y - 14 > box.top + 6 else y + 14
    left = x + shift - (draw.text_width(value, CAPTION) if anchor == "r" else 0)
    right = left + draw.text_width(value, CAPTION)
    canvas.rectangle((left - 3, label_y - 10, right + 3, label_y + 10), fill=WHITE)  # over the line
    draw.text(canvas, (x + shift, label_y), value, CAPTION, INK, anchor=anchor)
    outputs = range(e.output.shape[0])
    _ticks(canvas, box.bottom + LINE // 2 + 2, outputs, where.lag_x, e.output_start[0])


# --- the palette ---------------------------------------------------------------------


@functools.cache
def _palette() -> npt.NDArray[np.int64]:
    """Return the frames' colours: the named ones, greys and the heat map's, at most 256."""
    greys = [(v, v, v) for v in range(0, 256, 8)] + [(255, 255, 255)]
    heat = [tuple(int(c) for c in rgb) for rgb in lookup_table("coolwarm")[::2]]
    tints = [_mix(colour, WINDOW_TINT, 0.7) for colour in (WHITE, PADDING, CONTEXT)]
    colours = list(dict.fromkeys([*_KEY_COLOURS, *tints, *greys, *heat]))
    return np.array(colours[:256], dtype=np.int64)


def _nearest(rgb: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Return the palette index nearest to each colour of ``rgb`` (shape ``(..., 3)``)."""
    colours = _palette()
    known = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    order = np.argsort(known)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    indices = order[np.minimum(np.searchsorted(known[order], packed), len(known) - 1)]
    blended = known[indices] != packed  # text's smoothed edges: few, so found one by one
    if blended.any():
        keys, inverse = np.unique(packed[blended], return_inverse=True)
        found = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1)
        distance = ((found[:, None, :] - colours[None, :, :]) ** 2).sum(axis=2)
        indices[blended] = distance.argmin(axis=1)[inverse]
    return indices.astype(np.uint8)


def _to_palette(images: Iterable[Image.Image]) -> Iterator[Image.Image]:
    """Map every pixel to the nearest palette colour (exact for the colours drawn).

    Frames differ from the one before in a few places: only those are looked up.
    """
    flat = _palette().astype(np.uint8).ravel().tobytes()
    before: tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8]] | None = None
    for image in images:
        packed = np.frombuffer(image.convert("RGBX").tobytes(), dtype=np.uint32)
        packed = packed.reshape(image.height, image.width)
        if before is None:
            indices = _nearest(np.asarray(image, dtype=np.int64))
        else:
            changed = packed != before[0]
            indices = before[1].copy()
            indices[changed] = _nearest(np.asarray(image)[changed].astype(np.int64))
        before = (packed, indices)
        result = Image.fromarray(indices)
        result.putpalette(flat)  # which makes the L image a P one
        yield result
