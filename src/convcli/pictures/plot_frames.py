"""The 1-D frames, the lecture's picture: f, the kernel at the current lag, the area, the curve."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from convcli.explanation import Explanation
from convcli.pictures import draw
from convcli.pictures.canvas import (
    AREA,
    CAPTION,
    CONTEXT,
    CONTEXT_BAND,
    CONTEXT_EDGE,
    HIGHLIGHT,
    INK,
    KERNEL,
    LABEL,
    LINE,
    MARGIN,
    MAX_CELL,
    MAX_WIDTH,
    MIN_CELL,
    MUTED,
    PADDING,
    PADDING_BAND,
    RULE,
    SIGNAL,
    SIGNAL_FILL,
    WHITE,
    Box,
    Grid,
    PlotLayout,
    clamp,
    indices,
    product_lines,
    write_caption,
    write_legend,
    write_title,
)

DOT = 6  # the current point's radius on the output curve


_AXIS = 56  # room for the plots' tick labels, left of the samples


SIGNAL_PLOT = 210


CURVE_PLOT = 150


def _bounds(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Return a plot's value range: from the lowest value or 0 to the highest or 0."""
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    return (low, high) if high > low else (low, low + 1.0)


def plot_layout(e: Explanation) -> PlotLayout:
    """Return where a 1-D frame draws: a column per sample, the curve under the signal."""
    count = e.padded.shape[0]
    column = clamp((MAX_WIDTH - 2 * MARGIN - 2 * _AXIS) // count, MIN_CELL, MAX_CELL)
    top = MARGIN + 2 * LINE + 8 + LINE
    samples = Grid(MARGIN + _AXIS, top, column, (1, count))
    signal = Box(samples.left, top, samples.area.right, top + SIGNAL_PLOT)
    # under the signal: sample numbers, the window's marks, the products, the curve's label
    curve_top = signal.bottom + LINE + 10 + LINE + LINE + 8
    curve = Box(samples.left, curve_top, samples.area.right, curve_top + CURVE_PLOT)
    products = np.stack([step.products for step in e.steps])
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


def tap_mark(where: PlotLayout, column: int) -> Box:
    """Return the mark under the sample in ``column``: a tap of the window."""
    cell = where.samples.box(0, column)
    top = where.signal.bottom + LINE + 4
    inset = max(1, cell.right - cell.left) // 6
    return Box(cell.left + inset, top, cell.right - inset, top + 6)


def plot_frame(e: Explanation, where: PlotLayout, number: int) -> Image.Image:
    """Draw 1-D frame ``number``: f, g at its lag, the area under f·g, the curve so far."""
    image = Image.new("RGB", where.size, WHITE)
    canvas = ImageDraw.Draw(image)
    step = e.steps[number]
    (span,) = e.taps(step)
    index, at = indices(e, step)
    heading = f"step {number + 1} of {len(e.steps)}: output[{index}], {at}"
    write_title(canvas, where.size[0], heading, e.flip)
    plot, columns = where.signal, where.samples
    _axis(canvas, plot, where.signal_range, where.signal_y)
    _kernel_axis(canvas, e, where)
    _plot_names(canvas, e, where)
    kinds = np.where(e.inside, 0, np.where(e.context, 1, 2))
    tap_columns = list(range(span.start, span.stop, span.step))
    _signal_fill(canvas, e, where, kinds)
    _area(canvas, e, where, tap_columns)
    zero = where.signal_y(0.0)
    canvas.line([(plot.left, zero), (plot.right - 1, zero)], fill=RULE, width=1)
    _signal_steps(canvas, e, where, kinds)
    _kernel_bars(canvas, e, where, tap_columns)
    _ticks(canvas, plot.bottom + LINE // 2 + 2, range(len(e.padded)),
           lambda i: columns.left + int((i + 0.5) * columns.cell),
           e.offset[0] if e.crop_start is not None else 0)  # fmt: skip
    for column in tap_columns:
        canvas.rectangle(tap_mark(where, column).corners, fill=HIGHLIGHT)
    written = product_lines(e, step, where.size[0])
    write_caption(canvas, plot.bottom + LINE + 14, written, where.size[0])
    _curve(canvas, e, where, number)
    formula = f"output size: {e.geometry.formula(0, textbook=True)}"
    y = write_caption(canvas, where.caption, [formula], where.size[0])
    write_legend(canvas, y, [("f (signal)", SIGNAL_FILL, SIGNAL), ("g (kernel)", WHITE, KERNEL),
                        ("f·g: its area is the output", AREA, AREA),
                        ("window", WHITE, HIGHLIGHT)])  # fmt: skip
    return image


# The shown cells' kinds (0 the input or crop, 1 the image around a crop, 2 padding) are drawn
# in these colours: the samples' fill, their line, and the band behind them.
_FILLS = (SIGNAL_FILL, CONTEXT, PADDING)
_LINES = (SIGNAL, CONTEXT_EDGE, MUTED)
_BANDS = (WHITE, CONTEXT_BAND, PADDING_BAND)  # behind the samples, so padding reads as such


def _kernel_axis(canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout) -> None:
    """Draw g's own axis right of the plot, in its colour, when g is drawn taller than it is."""
    scale, plot = where.kernel_scale, where.signal
    if scale == 1.0:
        return
    for weight in sorted({float(e.kernel.min()), float(e.kernel.max())} - {0.0}):
        y = where.signal_y(weight * scale)
        canvas.line([(plot.right + 3, y), (plot.right + 7, y)], fill=KERNEL)
        draw.text(canvas, (plot.right + 10, y), draw.number(weight), 13, KERNEL)


def _plot_names(canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout) -> None:
    """Write above the plot what f, g and the shaded area are."""
    scale, plot = where.kernel_scale, where.signal
    signal = "the crop in context" if e.crop_start is not None else "padded"
    taller = f" ({draw.number(scale, 2)} times taller: red axis)" if scale != 1.0 else ""
    reversed_ = ", reversed" if e.flip else ""
    named = f"f: the signal, {signal}    g: the kernel{reversed_}{taller}    shaded: f·g"
    draw.text(canvas, (plot.left, plot.top - LINE // 2 - 2), named, LABEL, MUTED)


def _signal_fill(
    canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout, kinds: npt.NDArray[np.int_]
) -> None:
    """Fill each sample's column: its kind's band, and its bar from 0 to its value."""
    plot, zero = where.signal, where.signal_y(0.0)
    for i, (value, kind) in enumerate(zip(e.padded, kinds, strict=True)):
        box = where.samples.box(0, i)
        canvas.rectangle((box.left, plot.top, box.right - 1, plot.bottom - 1), fill=_BANDS[kind])
        y = where.signal_y(float(value))
        canvas.rectangle((box.left, min(y, zero), box.right - 1, max(y, zero)), fill=_FILLS[kind])


def _area(
    canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout, tap_columns: list[int]
) -> None:
    """Shade f·g under the window's taps: its area is the output."""
    zero = where.signal_y(0.0)
    for column, weight in zip(tap_columns, e.kernel, strict=True):
        box = where.samples.box(0, column)
        y = where.signal_y(float(e.padded[column] * weight) * where.area_scale)
        canvas.rectangle((box.left, min(y, zero), box.right - 1, max(y, zero)), fill=AREA)


def _signal_steps(
    canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout, kinds: npt.NDArray[np.int_]
) -> None:
    """Draw f as steps: a level per sample, risers between, each in its kind's colour."""
    previous = None
    for i, (value, kind) in enumerate(zip(e.padded, kinds, strict=True)):
        box = where.samples.box(0, i)
        y = where.signal_y(float(value))
        if previous is not None:
            canvas.line([(box.left, previous), (box.left, y)], fill=_LINES[kind], width=2)
        canvas.line([(box.left, y), (box.right - 1, y)], fill=_LINES[kind], width=3)
        previous = y


def _kernel_bars(
    canvas: ImageDraw.ImageDraw, e: Explanation, where: PlotLayout, tap_columns: list[int]
) -> None:
    """Draw g at its lag: an outlined bar per tap, its level drawn thick."""
    zero = where.signal_y(0.0)
    for column, weight in zip(tap_columns, e.kernel, strict=True):
        box = where.samples.box(0, column)
        y = where.signal_y(float(weight) * where.kernel_scale)
        canvas.rectangle((box.left + 1, min(y, zero), box.right - 2, max(y, zero)),
                         outline=KERNEL, width=2)  # fmt: skip
        canvas.line([(box.left + 1, y), (box.right - 2, y)], fill=KERNEL, width=3)


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
    canvas.ellipse((x - DOT, y - DOT, x + DOT, y + DOT), fill=HIGHLIGHT)
    value = draw.number(e.steps[number].sum)
    anchor = "l" if x < (box.left + box.right) / 2 else "r"
    shift = DOT + 6 if anchor == "l" else -DOT - 6
    label_y = y - 14 if y - 14 > box.top + 6 else y + 14
    left = x + shift - (draw.text_width(value, CAPTION) if anchor == "r" else 0)
    right = left + draw.text_width(value, CAPTION)
    canvas.rectangle((left - 3, label_y - 10, right + 3, label_y + 10), fill=WHITE)  # over the line
    draw.text(canvas, (x + shift, label_y), value, CAPTION, INK, anchor=anchor)
    outputs = range(e.output.shape[0])
    _ticks(canvas, box.bottom + LINE // 2 + 2, outputs, where.lag_x, e.output_start[0])
