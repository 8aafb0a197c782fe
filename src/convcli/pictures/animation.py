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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli.colormaps import lookup_table
from convcli.errors import Message, UsageError
from convcli.explanation import Explanation
from convcli.io.atomic import write_atomically
from convcli.layer_explanation import LayerExplanation
from convcli.limits import MAX_ANIMATION_FRAMES, MAX_FRAME_PIXELS
from convcli.pictures.canvas import (
    CONTEXT,
    KEY_COLOURS,
    PADDING,
    WHITE,
    WINDOW_TINT,
    Box,
    GridLayout,
    PlotLayout,
    as_2d,
    mix,
    tap_cells,
)
from convcli.pictures.grid_frames import (
    GridScales,
    LayerLayout,
    grid_base,
    grid_frame,
    grid_layout,
    layer_base,
    layer_frame,
    layer_layout,
    layer_scales,
)
from convcli.pictures.plot_frames import DOT, plot_frame, plot_layout, tap_mark

FRAME_MS = 700
LAST_FRAME_MS = 2500  # time to read the finished output before the loop starts again


def layout(explanation: Explanation | LayerExplanation) -> GridLayout | PlotLayout | LayerLayout:
    """Return where the frames of ``explanation`` draw each part (the same for every frame)."""
    if isinstance(explanation, LayerExplanation):
        return layer_layout(explanation)
    if explanation.kernel.ndim == 1:
        return plot_layout(explanation)
    return grid_layout(explanation)


def highlights(explanation: Explanation | LayerExplanation, number: int) -> list[Box]:
    """Return the rectangles frame ``number`` draws in :data:`HIGHLIGHT`.

    In 2-D, each cell under a kernel tap (on every channel's grid, for a
    layer's filter) and the output cell being computed; in 1-D, a mark under
    each tap's sample and the current point of the curve. Tests decode the
    frames and look for the colour there, and nowhere else on the grids and plots.
    """
    where = layout(explanation)
    if isinstance(explanation, LayerExplanation):
        assert isinstance(where, LayerLayout)
        first = explanation.planes[0]
        step = first.steps[number]
        cells = tap_cells(first, step)
        return [shown.box(r, c) for shown, _, _ in where.bands for r, c in cells] + [
            where.output.box(*step.output_index)
        ]
    step = explanation.steps[number]
    rows_cols = tap_cells(explanation, step)
    if isinstance(where, GridLayout):
        return [where.shown.box(r, c) for r, c in rows_cols] + [
            where.output.box(*as_2d(step.output_index))
        ]
    assert isinstance(where, PlotLayout)
    marks = [tap_mark(where, c) for _, c in rows_cols]
    x, y = where.lag_x(step.output_index[0]), where.curve_y(step.sum)
    return [*marks, Box(x - DOT, y - DOT, x + DOT + 1, y + DOT + 1)]


def frames(explanation: Explanation | LayerExplanation) -> list[Image.Image]:
    """Draw one frame per step of ``explanation``, in order (palette images, one palette)."""
    first = explanation.planes[0] if isinstance(explanation, LayerExplanation) else explanation
    count = len(first.steps)
    if count > MAX_ANIMATION_FRAMES:
        raise UsageError(
            f"an animation shows at most {MAX_ANIMATION_FRAMES} window positions, asked for {count}"
        )
    paint: Callable[[int], Image.Image]
    where = layout(explanation)
    width, height = where.size
    if width * height > MAX_FRAME_PIXELS:  # 400 such frames are held: bounded, as the plain ones
        raise UsageError(Message(
            "an animation's frame would be {size} pixels, past {most:,}: explain a smaller "
            "{crop}, or step through it with {html}", size=f"{width}x{height}",
            most=MAX_FRAME_PIXELS,
        ))  # fmt: skip
    if isinstance(explanation, LayerExplanation):
        assert isinstance(where, LayerLayout)
        scales = layer_scales(explanation, where)
        base = layer_base(explanation, where, scales)
        paint = functools.partial(layer_frame, explanation, where, scales, base)
    elif isinstance(where, GridLayout):
        scales = GridScales.of(explanation, where)
        base = grid_base(explanation, where, scales)
        paint = functools.partial(grid_frame, explanation, where, scales, base)
    else:
        assert isinstance(where, PlotLayout)
        paint = functools.partial(plot_frame, explanation, where)
    return list(_to_palette(paint(number) for number in range(count)))


def write_animation(explanation: Explanation | LayerExplanation, path: Path) -> None:
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
    first = explanation.planes[0] if isinstance(explanation, LayerExplanation) else explanation
    if not first.steps:
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


# --- the palette ---------------------------------------------------------------------


@functools.cache
def _palette() -> npt.NDArray[np.int64]:
    """Return the frames' colours: the named ones, greys and the heat map's, at most 256."""
    greys = [(v, v, v) for v in range(0, 256, 8)] + [(255, 255, 255)]
    heat = [tuple(int(c) for c in rgb) for rgb in lookup_table("coolwarm")[::2]]
    tints = [mix(colour, WINDOW_TINT, 0.7) for colour in (WHITE, PADDING, CONTEXT)]
    colours = list(dict.fromkeys([*KEY_COLOURS, *tints, *greys, *heat]))
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
