"""Shapes: the mean over a disk, diamond, square, rectangle, octagon, plus or ring.

ImageMagick's shape kernels weigh each cell of the shape 1 (its
``-convolve`` then normalises); convcli's are means, summing to 1, as its
``cross`` and ``disk`` always were.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from convcli.catalog.families._base import (
    Family,
    Parameter,
    anchored,
    centred,
    normalized,
    too_wide,
)
from convcli.catalog.kernel import Matrix
from convcli.choices import Range
from convcli.errors import KernelError
from convcli.limits import MAX_KERNEL_SIZE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def _radius(default: int) -> Parameter:
    return Parameter("radius", int, default, 1, "half the side")


def _side(radius: float) -> int:
    return 2 * int(radius) + 1


def _disk_side(r: float) -> int:
    return 2 * math.floor(r) + 1


def _mean_where(inside: npt.NDArray[np.bool_]) -> Matrix:
    import numpy as np

    return normalized(inside.astype(np.float64))


def _disk_matrix(shape: tuple[int, ...], r: float) -> Matrix:
    rows, cols = centred(shape)
    return _mean_where(rows**2 + cols**2 <= r * r)


def _diamond_matrix(shape: tuple[int, ...], radius: float) -> Matrix:
    rows, cols = centred(shape)
    return _mean_where(abs(rows) + abs(cols) <= radius)


def _square_matrix(shape: tuple[int, ...], radius: float) -> Matrix:
    import numpy as np

    return np.full(shape, 1.0 / math.prod(shape))


def _octagon_matrix(shape: tuple[int, ...], radius: float) -> Matrix:
    # ImageMagick's: the square without its corners, |x| + |y| <= r + r // 2.
    rows, cols = centred(shape)
    return _mean_where(abs(rows) + abs(cols) <= radius + int(radius) // 2)


def _plus_matrix(shape: tuple[int, ...], radius: float) -> Matrix:
    rows, cols = centred(shape)
    return _mean_where((rows == 0) | (cols == 0))


def _ring_side(r1: float, r2: float) -> int:
    inner, outer = sorted((r1, r2))
    if 2 * outer + 1 > MAX_KERNEL_SIZE:  # before the search for a pixel between the radii
        raise KernelError(too_wide(2 * math.floor(outer) + 1))
    if not any(_sum_of_two_squares(d2) for d2 in range(math.floor(inner**2) + 1,
                                                      math.floor(outer**2) + 1)):  # fmt: skip
        raise KernelError(f"no pixel lies between radius {inner:g} and {outer:g}")
    return 2 * math.floor(outer) + 1


def _sum_of_two_squares(n: int) -> bool:
    return any(math.isqrt(n - a * a) ** 2 == n - a * a for a in range(math.isqrt(n) + 1))


def _ring_matrix(shape: tuple[int, ...], r1: float, r2: float) -> Matrix:
    # ImageMagick's: the cells with r1^2 < x^2 + y^2 <= r2^2.
    inner, outer = sorted((r1, r2))
    rows, cols = centred(shape)
    squared = rows**2 + cols**2
    return _mean_where((inner**2 < squared) & (squared <= outer**2))


def _rectangle_origin(
    width: float, height: float, x: float | None, y: float | None
) -> tuple[int, int]:
    origin = (int(y) if y is not None else (int(height) - 1) // 2,
              int(x) if x is not None else (int(width) - 1) // 2)  # fmt: skip
    if origin[0] >= height or origin[1] >= width:
        raise KernelError(f"the origin +{origin[1]}+{origin[0]} is outside {width:g}x{height:g}")
    return origin


def _rectangle_shape(
    width: float, height: float, x: float | None, y: float | None
) -> tuple[int, int]:
    rows, cols = anchored((int(height), int(width)), _rectangle_origin(width, height, x, y))[0]
    return rows, cols


def _rectangle_matrix(
    shape: tuple[int, ...], width: float, height: float, x: float | None = None,
    y: float | None = None,
) -> Matrix:  # fmt: skip
    import numpy as np

    origin = _rectangle_origin(width, height, x, y)
    _, (top, left) = anchored((int(height), int(width)), origin)
    matrix = np.zeros(shape)
    matrix[top : top + int(height), left : left + int(width)] = 1.0 / (width * height)
    return matrix


SHAPES = (
    Family("disk", "Mean over a disk of radius r (blur; also a matched filter for round spots)",
           (Parameter("r", float, 2.0, 0.0, "radius, in pixels"),), _disk_side, _disk_matrix,
           Range.CLIP, ("blur", "shape"), imagemagick="Disk:R (normalised)"),
    Family("diamond", "Mean over a diamond, |x| + |y| <= radius", (_radius(1),), _side,
           _diamond_matrix, Range.CLIP, ("blur", "shape"),
           imagemagick="Diamond:R (normalised)"),
    Family("square", "Mean over a square of side 2 radius + 1 (a box)", (_radius(1),), _side,
           _square_matrix, Range.CLIP, ("blur", "shape"), imagemagick="Square:R (normalised)"),
    Family("rectangle", "Mean over a width x height rectangle anchored at x, y (from the top "
           "left; auto: its centre)",
           (Parameter("width", int, 3, 1, "columns"), Parameter("height", int, 3, 1, "rows"),
            Parameter("x", int, None, 0, "the anchor's column"),
            Parameter("y", int, None, 0, "the anchor's row")),
           _rectangle_shape, _rectangle_matrix, Range.CLIP, ("blur", "shape"), positional=4,
           imagemagick="Rectangle:WxH+X+Y (normalised)"),
    Family("octagon", "Mean over an octagon, the square of side 2 radius + 1 without its "
           "corners", (_radius(2),), _side, _octagon_matrix, Range.CLIP, ("blur", "shape"),
           imagemagick="Octagon:R (normalised)"),
    Family("plus", "Mean over a + of arms radius long (radius 1: the built-in cross)",
           (_radius(2),), _side, _plus_matrix, Range.CLIP, ("blur", "shape"),
           imagemagick="Plus:R (normalised)"),
    Family("ring", "Mean over the cells between radius r1 (left out) and r2 (kept)",
           (Parameter("r1", float, 1.0, 0.0, "inner radius"),
            Parameter("r2", float, 2.0, 0.0, "outer radius")),
           _ring_side, _ring_matrix, Range.CLIP, ("shape",), positional=2,
           imagemagick="Ring:R1,R2 (normalised)"),
)  # fmt: skip
