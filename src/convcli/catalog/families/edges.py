"""Edges, lines and relief: ImageMagick's named kernels at an angle, LoG, emboss and Gabor.

The named kernels have ImageMagick's numbers (``MagickCore/morphology.c``)
and turn as ImageMagick turns them: clockwise, by multiples of 45 degrees
(exact; see :func:`rotate`). The first-derivative ones (Sobel, Prewitt,
Roberts, Frei and Chen's first mask) take any other angle too, by their
steerable form (see :func:`steer`).
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
    check_eighths,
    direction,
    impulse,
    rotate,
    sigma_side,
    steer,
)
from convcli.catalog.kernel import Matrix
from convcli.choices import Range
from convcli.errors import KernelError

_ROOT2 = math.sqrt(2.0)
# ImageMagick's Laplacian:N, as its documentation and morphology.c write them.
LAPLACIANS = {
    0: [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    1: [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    2: [[-2, 1, -2], [1, 4, 1], [-2, 1, -2]],
    3: [[1, -2, 1], [-2, 4, -2], [1, -2, 1]],
    5: [[-4, -1, 0, -1, -4], [-1, 2, 3, 2, -1], [0, 3, 4, 3, 0], [-1, 2, 3, 2, -1],
        [-4, -1, 0, -1, -4]],
    7: [[-10, -5, -2, -1, -2, -5, -10], [-5, 0, 3, 4, 3, 0, -5], [-2, 3, 6, 7, 6, 3, -2],
        [-1, 4, 7, 8, 7, 4, -1], [-2, 3, 6, 7, 6, 3, -2], [-5, 0, 3, 4, 3, 0, -5],
        [-10, -5, -2, -1, -2, -5, -10]],
    15: [[0, 0, -1, 0, 0], [0, -1, -2, -1, 0], [-1, -2, 16, -2, -1], [0, -1, -2, -1, 0],
         [0, 0, -1, 0, 0]],
    19: [[0, -1, -1, -2, -2, -2, -1, -1, 0], [-1, -2, -4, -5, -5, -5, -4, -2, -1],
         [-1, -4, -5, -3, 0, -3, -5, -4, -1], [-2, -5, -3, 12, 24, 12, -3, -5, -2],
         [-2, -5, 0, 24, 40, 24, 0, -5, -2], [-2, -5, -3, 12, 24, 12, -3, -5, -2],
         [-1, -4, -5, -3, 0, -3, -5, -4, -1], [-1, -2, -4, -5, -5, -5, -4, -2, -1],
         [0, -1, -1, -2, -2, -2, -1, -1, 0]],
}  # fmt: skip
# The compass kernels, at angle 0: each responds to intensity falling to the right.
COMPASS = {
    "sobel": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "prewitt": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "roberts": [[0, 0, 0], [1, -1, 0], [0, 0, 0]],
    "kirsch": [[5, -3, -3], [5, 0, -3], [5, -3, -3]],
    "compass": [[1, 1, -1], [1, -2, -1], [1, 1, -1]],
}
STEERABLE = ("sobel", "prewitt", "roberts")  # first derivatives: any angle
# Frei and Chen's nine masks (1977), numbered as ImageMagick's FreiChen:11 to :19 (its
# FreiChen:1 is :11, and :0 the same unscaled; :2 a diagonal of its own). The textbook's
# numbers: ImageMagick 6's source scales the first four by 1/sqrt(2), not 1/(2 sqrt(2)),
# and writes the bottom rows of 12 and 17 with other signs (its masks are not orthonormal).
_R = _ROOT2
FREICHEN = {
    0: ([[1, 0, -1], [_R, 0, -_R], [1, 0, -1]], 1.0),
    1: ([[1, 0, -1], [_R, 0, -_R], [1, 0, -1]], 1 / (2 * _R)),
    2: ([[1, _R, 0], [_R, 0, -_R], [0, -_R, -1]], 1 / (2 * _R)),
    11: ([[1, 0, -1], [_R, 0, -_R], [1, 0, -1]], 1 / (2 * _R)),
    12: ([[1, _R, 1], [0, 0, 0], [-1, -_R, -1]], 1 / (2 * _R)),
    13: ([[_R, -1, 0], [-1, 0, 1], [0, 1, -_R]], 1 / (2 * _R)),
    14: ([[0, 1, -_R], [-1, 0, 1], [_R, -1, 0]], 1 / (2 * _R)),
    15: ([[0, -1, 0], [1, 0, 1], [0, -1, 0]], 1 / 2),
    16: ([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], 1 / 2),
    17: ([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], 1 / 6),
    18: ([[-2, 1, -2], [1, 4, 1], [-2, 1, -2]], 1 / 6),
    19: ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 1 / 3),
}
FREICHEN_STEERABLE = (0, 1, 11)  # the first-derivative mask: any angle, as Sobel's
_PREWITT_X = [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]


def _log_matrix(shape: tuple[int, ...], sigma: float) -> Matrix:
    # Zero-sum, so that flat regions give 0.
    import numpy as np

    rows, cols = centred(shape)
    q = (rows**2 + cols**2) / (2 * sigma**2)
    weights = -(1 - q) * np.exp(-q) / (math.pi * sigma**4)
    return weights - weights.mean()  # type: ignore[no-any-return]


def _laplacian_side(n: float) -> int:
    if int(n) not in LAPLACIANS:
        raise KernelError(f"n must be one of {', '.join(map(str, LAPLACIANS))}, got {n:g}")
    return len(LAPLACIANS[int(n)])


def _laplacian_matrix(shape: tuple[int, ...], n: float) -> Matrix:
    import numpy as np

    return np.array(LAPLACIANS[int(n)], dtype=np.float64)


def _compass_family(name: str, description: str, tags: tuple[str, ...]) -> Family:
    """Return the family of an ImageMagick 3x3 kernel at an angle.

    A first derivative takes any angle (exact at multiples of 45, steered
    between); the others multiples of 45 only.
    """
    turn = steer if name in STEERABLE else rotate

    def side(angle: float) -> int:
        if name not in STEERABLE:
            check_eighths(angle, (3, 3))
        return 3

    def build(shape: tuple[int, ...], angle: float) -> Matrix:
        import numpy as np

        return turn(np.array(COMPASS[name], dtype=np.float64), angle)

    return Family(name, description, (ANGLE,), side, build, Range.ABS, tags,
                  imagemagick=f"{name.capitalize()}:A")  # fmt: skip


def _freichen_side(n: float, angle: float) -> int:
    if int(n) not in FREICHEN:
        raise KernelError(f"n must be one of {', '.join(map(str, FREICHEN))}, got {n:g}")
    if int(n) not in FREICHEN_STEERABLE:
        check_eighths(angle, (3, 3))
    return 3


def _freichen_matrix(shape: tuple[int, ...], n: float, angle: float) -> Matrix:
    import numpy as np

    values, scale = FREICHEN[int(n)]
    turn = steer if int(n) in FREICHEN_STEERABLE else rotate
    return turn(np.array(values, dtype=np.float64) * scale, angle)


def _emboss_matrix(shape: tuple[int, ...], angle: float) -> Matrix:
    # The image plus its Prewitt derivative away from the light, scaled so that the
    # larger of its two parts is 1: angle 225 (the top left) is the built-in emboss.
    import numpy as np

    cos, sin = direction(angle)
    along_x = np.array(_PREWITT_X, dtype=np.float64)
    derivative = cos * along_x + sin * along_x.T
    return impulse(shape) - derivative / max(abs(cos), abs(sin))


def _gabor_side(sigma: float, theta: float, wavelength: float, gamma: float, psi: float) -> int:
    return sigma_side(sigma / min(gamma, 1.0))  # covers the envelope's longer axis


def _gabor_matrix(
    shape: tuple[int, ...], sigma: float, theta: float, wavelength: float, gamma: float,
    psi: float,
) -> Matrix:  # fmt: skip
    # A cosine wave across the direction theta under a Gaussian envelope, as OpenCV's
    # getGaborKernel, with theta and psi in degrees.
    import numpy as np

    rows, cols = centred(shape)
    cos, sin = direction(theta)
    along, across = cols * cos + rows * sin, -cols * sin + rows * cos
    envelope = np.exp(-(along**2 + gamma**2 * across**2) / (2 * sigma**2))
    return envelope * np.cos(2 * math.pi * along / wavelength + math.radians(psi))


EDGES = (
    Family("log", "Laplacian of Gaussian: blobs and edges at the scale sigma (zero-sum)",
           (SIGMA, SIZE), sigma_side, _log_matrix, Range.ABS, ("edge", "blob")),
    Family("laplacian", "ImageMagick's Laplacian:n (0, 1, 2, 3, 5, 7; 15 and 19 its LoGs); "
           "the built-in laplacian is the negative of n=1",
           (Parameter("n", int, 0, 0, "ImageMagick's number"),), _laplacian_side,
           _laplacian_matrix, Range.ABS, ("edge",), imagemagick="Laplacian:N"),
    _compass_family("sobel", "ImageMagick's Sobel at an angle (0: positive where intensity "
                    "falls to the right, sobel-x turned 180 degrees)", ("edge", "gradient")),
    _compass_family("prewitt", "ImageMagick's Prewitt at an angle (0: prewitt-x turned 180 "
                    "degrees)", ("edge", "gradient")),
    _compass_family("roberts", "ImageMagick's Roberts at an angle (a 2-pixel difference)",
                    ("edge", "gradient")),
    _compass_family("kirsch", "Kirsch's compass kernel at an angle; kirsch (the set) is its "
                    "edge magnitude", ("edge",)),
    _compass_family("compass", "Prewitt's compass kernel at an angle; compass@ is the set",
                    ("edge",)),
    Family("freichen", "Frei and Chen's mask n (ImageMagick's numbers: 11 to 19 the nine, "
           "1 and 0 (unscaled) the first, 2 a diagonal) at an angle",
           (Parameter("n", int, 0, 0, "ImageMagick's number"), ANGLE), _freichen_side,
           _freichen_matrix, Range.ABS, ("edge",), positional=2,
           imagemagick="FreiChen:N[,A]"),
    Family("emboss", "Emboss lit from an angle (225: the top left, the built-in emboss)",
           (Parameter("angle", float, 225.0, -math.inf, "the light's direction, degrees "
                      "clockwise from +x"),), lambda angle: 3, _emboss_matrix, Range.CLIP,
           ("stylize",)),
    Family("gabor", "Gabor filter: a wave of a wavelength across the direction theta under a "
           "Gaussian (psi 0 even, 90 odd)",
           (Parameter("sigma", float, 2.0, 0.0, "the envelope's standard deviation"),
            Parameter("theta", float, 0.0, -math.inf, "degrees, clockwise from +x"),
            Parameter("wavelength", float, 6.0, 0.0, "pixels per cycle"),
            Parameter("gamma", float, 0.5, 0.0, "the envelope's aspect ratio"),
            Parameter("psi", float, 0.0, -math.inf, "phase, degrees")),
           _gabor_side, _gabor_matrix, Range.ABS, ("edge", "texture"), positional=5),
)  # fmt: skip
