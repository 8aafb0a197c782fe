"""Blurs and what is built from them: box, Gaussian, binomial, 1-D and half Gaussians, lines.

Also the kernels made by subtracting a blur: difference of Gaussians,
unsharp mask and high-pass.
"""

from __future__ import annotations

import math

from convcli.catalog.families._base import (
    ANGLE,
    SIGMA,
    SIZE,
    Family,
    Parameter,
    centred,
    direction,
    gaussian,
    impulse,
    normalized,
    radius_side,
    sigma_side,
)
from convcli.catalog.kernel import Matrix
from convcli.choices import Range
from convcli.errors import KernelError

RADIUS = Parameter("radius", int, None, 0, "half the side; 0 or auto covers +-3 sigma")


def _box_side(size: float) -> int:
    return int(size)


def _box_matrix(shape: tuple[int, ...]) -> Matrix:
    import numpy as np

    return np.full(shape, 1.0 / math.prod(shape))


def _gaussian_matrix(shape: tuple[int, ...], sigma: float) -> Matrix:
    return gaussian(shape, sigma)


def _binomial_side(radius: float | None) -> int:
    return radius_side(radius, 1)


def _binomial_matrix(shape: tuple[int, ...], radius: float | None = None) -> Matrix:
    # Row n of Pascal's triangle over 2^n, an outer product with itself.
    import numpy as np

    n = shape[0] - 1
    row = np.array([math.comb(n, k) / 2**n for k in range(n + 1)])
    return np.outer(row, row)


# A line of weights at an angle (blur, comet, motion): samples a pixel apart along the
# line, each spread over the four nearest cells by bilinear weights (anti-aliased).


def _line_shape(reach: float, angle: float) -> tuple[int, int]:
    """Fit a line reaching ``reach`` pixels either side of the centre at ``angle``."""
    cos, sin = direction(angle)
    rows, cols = (2 * math.ceil(reach * abs(part) - 1e-9) + 1 for part in (sin, cos))
    return rows, cols


def _line(shape: tuple[int, ...], offsets: Matrix, weights: Matrix, angle: float) -> Matrix:
    """Spread ``weights`` at ``offsets`` along the line at ``angle``; the sum made 1."""
    import numpy as np

    weights = normalized(weights)  # before: a turn by 90 degrees moves them unchanged
    cos, sin = direction(angle)
    rows, cols = shape[0] // 2 + offsets * sin, shape[1] // 2 + offsets * cos
    top, left = np.floor(rows), np.floor(cols)
    down, right = rows - top, cols - left
    matrix = np.zeros((shape[0] + 1, shape[1] + 1))  # the extra cells only ever get 0
    for row_step, row_part in ((0, 1 - down), (1, down)):
        for col_step, col_part in ((0, 1 - right), (1, right)):
            index = ((top + row_step).astype(int), (left + col_step).astype(int))
            np.add.at(matrix, index, weights * row_part * col_part)
    return matrix[: shape[0], : shape[1]]


def _blur_reach(radius: float | None, sigma: float) -> int:
    return int(radius) if radius else math.ceil(3 * sigma)


def _blur_shape(radius: float | None, sigma: float, angle: float) -> tuple[int, int]:
    return _line_shape(_blur_reach(radius, sigma), angle)


def _blur_matrix(
    shape: tuple[int, ...], sigma: float, angle: float, radius: float | None = None
) -> Matrix:
    import numpy as np

    reach = _blur_reach(radius, sigma)
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    return _line(shape, offsets, np.exp(-(offsets**2) / (2 * sigma**2)), angle)


def _comet_width(width: float | None, sigma: float) -> int:
    return int(width) if width else math.ceil(3 * sigma) + 1


def _comet_shape(width: float | None, sigma: float, angle: float) -> tuple[int, int]:
    return _line_shape(_comet_width(width, sigma) - 1, angle)


def _comet_matrix(
    shape: tuple[int, ...], sigma: float, angle: float, width: float | None = None
) -> Matrix:
    # Half a Gaussian from the centre outwards: the other half of the line is 0.
    import numpy as np

    offsets = np.arange(_comet_width(width, sigma), dtype=np.float64)
    return _line(shape, offsets, np.exp(-(offsets**2) / (2 * sigma**2)), angle)


def _motion_shape(length: float, angle: float) -> tuple[int, int]:
    return _line_shape((length - 1) / 2, angle)


def _motion_matrix(shape: tuple[int, ...], length: float, angle: float) -> Matrix:
    import numpy as np

    offsets = np.arange(length, dtype=np.float64) - (length - 1) / 2
    return _line(shape, offsets, np.ones(int(length)), angle)


def _dog_side(radius: float | None, sigma1: float, sigma2: float) -> int:
    if sigma1 == sigma2:
        raise KernelError("sigma1 and sigma2 must differ (their difference is 0)")
    return 2 * int(radius) + 1 if radius else sigma_side(max(sigma1, sigma2))


def _dog_matrix(
    shape: tuple[int, ...], sigma1: float, sigma2: float, radius: float | None = None
) -> Matrix:
    # ImageMagick's: the difference of the two normal densities, its positive weights
    # then scaled to sum 1 and its negative ones to sum -1 (zero-sum).
    import numpy as np

    rows, cols = centred(shape)
    squared = rows**2 + cols**2
    densities = [np.exp(-squared / (2 * s * s)) / (2 * math.pi * s * s) for s in (sigma1, sigma2)]
    difference = densities[0] - densities[1]
    positive, negative = difference.clip(min=0), difference.clip(max=0)
    return positive / positive.sum() - negative / negative.sum()  # type: ignore[no-any-return]


def _unsharp_matrix(shape: tuple[int, ...], sigma: float, amount: float) -> Matrix:
    identity = impulse(shape)
    return identity + amount * (identity - gaussian(shape, sigma))


def _highpass_matrix(shape: tuple[int, ...], sigma: float) -> Matrix:
    return impulse(shape) - gaussian(shape, sigma)


def _unsharp_side(sigma: float, amount: float) -> int:
    return sigma_side(sigma)


BLURS = (
    Family("box", "Mean of a size x size square (blur)",
           (Parameter("size", int, 3, 1, "side length"),), _box_side, _box_matrix,
           Range.CLIP, ("blur",)),
    Family("gaussian", "Gaussian blur", (SIGMA, SIZE), sigma_side, _gaussian_matrix,
           Range.CLIP, ("blur",), imagemagick="Gaussian:RxS (with R given)"),
    Family("binomial", "Binomial blur, Pascal's triangle row 2r as an outer product, sum 1 "
           "(ImageMagick's Binomial, normalised)",
           (Parameter("radius", int, 1, 1, "half the side"),), _binomial_side, _binomial_matrix,
           Range.CLIP, ("blur",), imagemagick="Binomial:R"),
    Family("blur", "1-D Gaussian along a line at an angle (ImageMagick's Blur, sampled)",
           (RADIUS, SIGMA, ANGLE), _blur_shape, _blur_matrix, Range.CLIP, ("blur",),
           positional=3, imagemagick="Blur:RxS[,A]"),
    Family("comet", "Half a 1-D Gaussian, from the centre along the angle: a one-sided "
           "streak (ImageMagick's Comet)",
           (Parameter("width", int, None, 0, "length of the half; auto covers 3 sigma"),
            SIGMA, ANGLE), _comet_shape, _comet_matrix, Range.CLIP, ("blur",),
           positional=3, imagemagick="Comet:WxS[,A]"),
    Family("motion", "Motion blur, the mean along a centred line of a length at an angle "
           "(anti-aliased)",
           (Parameter("length", int, 5, 1, "pixels along the line"), ANGLE),
           _motion_shape, _motion_matrix, Range.CLIP, ("blur",), positional=2),
    Family("dog", "Difference of Gaussians, sigma1 minus sigma2, its positive and negative "
           "weights each summing to 1 (ImageMagick's DoG): blobs and edges",
           (RADIUS, Parameter("sigma1", float, 1.0, 0.0, "the positive Gaussian's"),
            Parameter("sigma2", float, 1.6, 0.0, "the negative Gaussian's")),
           _dog_side, _dog_matrix, Range.ABS, ("edge", "blob"),
           positional=3, imagemagick="DoG:R,S1,S2"),
    Family("unsharp", "Unsharp mask: the image plus amount x (image - its Gaussian blur)",
           (SIGMA, Parameter("amount", float, 1.0, 0.0, "how much detail to add")),
           _unsharp_side, _unsharp_matrix, Range.CLIP,
           ("sharpen",), positional=2),
    Family("highpass", "High-pass: the image minus its Gaussian blur (zero-sum)",
           (SIGMA,), sigma_side, _highpass_matrix, Range.OFFSET, ("edge",)),
)  # fmt: skip
