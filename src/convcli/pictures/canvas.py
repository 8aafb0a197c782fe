"""What the animation's frames share: colours, sizes, where things go, the text under them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

from convcli.explanation import Explanation, Step
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
KEY_COLOURS = (WHITE, INK, MUTED, RULE, HIGHLIGHT, WINDOW_TINT, PADDING, HATCH, CONTEXT,
                CONTEXT_EDGE, CONTEXT_INK, SIGNAL, SIGNAL_FILL, KERNEL, AREA, PADDING_BAND,
                CONTEXT_BAND)  # fmt: skip

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


AXIS_NAMES = ("rows", "cols")


def as_2d(index: tuple[int, ...]) -> tuple[int, int]:
    """Return an output index as (row, column): a 1-D one is a row."""
    return (0, index[0]) if len(index) == 1 else (index[0], index[1])


def tap_cells(explanation: Explanation, step: Step) -> list[tuple[int, int]]:
    """Return the shown cells under the kernel's taps, as (row, column); row 0 in 1-D."""
    mask = np.zeros(explanation.padded.shape, dtype=bool)
    mask[explanation.taps(step)] = True
    return [as_2d(tuple(int(i) for i in index)) for index in np.argwhere(mask)]


def clamp(value: int, low: int, high: int) -> int:
    """Return ``value`` held within ``low`` and ``high``."""
    return max(low, min(high, value))


def write_title(canvas: ImageDraw.ImageDraw, width: int, what: str, flip: bool) -> None:
    """Write the frame's title, and whether the kernel is flipped, under it."""
    kind = ("true convolution: the kernel is flipped (rotated 180°) before it slides" if flip
            else "cross-correlation: the kernel slides as written (no flip)")  # fmt: skip
    room = width - 2 * MARGIN
    title, subtitle = draw.fitted(what, TITLE, room), draw.fitted(kind, LABEL, room)
    draw.text(canvas, (MARGIN, MARGIN + LINE // 2), title, TITLE, INK)
    draw.text(canvas, (MARGIN, MARGIN + LINE + LINE // 2), subtitle, LABEL, MUTED)


def mix(a: Iterable[int], b: Iterable[int], weight: float) -> RGB:
    """Return ``a`` with ``weight`` of ``b`` mixed in."""
    r, g, bl = (round(x * (1 - weight) + y * weight) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def indices(e: Explanation, step: Step) -> tuple[str, str]:
    """Name a step's output and window as the terminal does: with a crop, by the whole input's."""
    cropped = e.crop_start is not None
    names = AXIS_NAMES if e.kernel.ndim == 2 else ("samples",)
    shift = e.offset if cropped else (0,) * e.kernel.ndim  # padded indices start at 0
    cells = ", ".join(
        f"{name} {s.start + o}..{s.stop - 1 + o}" + (f" every {s.step}" if s.step > 1 else "")
        for name, s, o in zip(names, e.taps(step), shift, strict=True)
    )
    index = ", ".join(str(i + o) for i, o in zip(step.output_index, e.output_start, strict=True))
    return index, f"window at {'input' if cropped else 'padded'} {cells}"


def product_lines(e: Explanation, step: Step, width: int) -> list[str]:
    """Return the dot product of ``step`` written out, on up to three lines (one in 1-D)."""
    terms = [f"({draw.number(float(a))}·{draw.number(float(w))})"
             for a, w in zip(step.window.ravel(), e.kernel.ravel(), strict=True)]  # fmt: skip
    index, _ = indices(e, step)
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


def write_caption(canvas: ImageDraw.ImageDraw, top: int, lines: list[str], width: int) -> int:
    """Draw lines of caption text from ``top``, cut to ``width``; return the height under them."""
    y = top
    for line in lines:
        shown = draw.fitted(line, CAPTION, width - 2 * MARGIN)
        draw.text(canvas, (MARGIN, y + LINE // 2), shown, CAPTION, INK)
        y += LINE
    return y


def write_legend(canvas: ImageDraw.ImageDraw, top: int, kinds: list[tuple[str, RGB, RGB]]) -> None:
    """Write one line of swatches: each kind of cell or line, named."""
    x, middle = MARGIN, top + LINE // 2
    for name, fill, edge in kinds:
        canvas.rectangle((x, middle - 7, x + 14, middle + 7), fill=fill, outline=edge, width=2)
        draw.text(canvas, (x + 20, middle), name, LABEL, MUTED)
        x += 20 + draw.text_width(name, LABEL) + 22
