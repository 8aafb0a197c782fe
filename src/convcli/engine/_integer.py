"""The exact integer path: integer samples and integer weights, summed in integers.

A kernel whose weights are integers, or integers times one common factor (a
box is ones/9, a binomial Gaussian integers/16), applied to integer samples
(8 or 16 bits, most often) has integer sums: shift-and-add computes them
exactly in int16 where every sum fits (int32 or int64 otherwise), 2 to 3
times faster than in float32, and the factor is applied once, at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.choices import Method
from convcli.engine._direct import tap_window
from convcli.engine._geometry import Geometry
from convcli.engine._methods import NS_PER_UNIT

SUM_TYPES = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
# Nanoseconds per output value per non-zero tap of shift-and-add, one thread, 2048x2048
# u8 input, kernels of 3, 5 and 9 (Intel Xeon, 2 cores, 2026-12-07): int16 0.21-0.26
# (median 0.23), int32 0.48-0.61 (0.49), float32 0.42-0.59 (0.49): int16 is 0.45 times
# float32, int32 the same. Taken as those shares of the cost model's direct method, with
# which they are compared, so that they follow its calibration; int64 twice int32.
Split = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]  # column, row, times
_DIRECT = NS_PER_UNIT[Method.DIRECT]
NS_PER_TAP = {SUM_TYPES[0]: 0.45 * _DIRECT, SUM_TYPES[1]: _DIRECT, SUM_TYPES[2]: 2 * _DIRECT}
DENOMINATORS = 1 << 16  # the largest denominator of a common factor looked for
LARGEST_WEIGHT_SUM = 1 << 31  # of |weights| over the factor: sums of 32-bit inputs fit int64


@dataclass(frozen=True)
class IntegerTaps:
    """A kernel as applied, written as integer weights times one factor, exactly.

    ``weights * factor`` equals the kernel in float64, bit for bit; ``factor``
    is positive. ``float_cost`` is the cost model's nanoseconds per output
    value of the float method the plan chose: the integer path runs where it
    is cheaper.
    """

    weights: npt.NDArray[np.int64]
    factor: float
    float_cost: float
    split: Split | None = None  # a 2-D kernel of rank 1, as a column and a row of integers

    def split_holds(self, dtype: np.dtype[Any], fill: int, summed: np.dtype[Any]) -> bool:
        """Say whether ``split`` runs in ``summed`` for samples of ``dtype`` and ``fill``.

        A column pass's sums are not bounded as the kernel's are; all are within
        the largest sample's magnitude times the weights' magnitudes.
        """
        info = np.iinfo(dtype)
        largest = max(-int(info.min), int(info.max), abs(fill))
        return (
            self.split is not None
            and largest * int(np.abs(self.weights).sum()) <= np.iinfo(summed).max
        )

    def sum_range(self, dtype: np.dtype[Any], fill: int = 0) -> tuple[int, int]:
        """Return the least and greatest sum (and partial sum) for samples of ``dtype``.

        The samples are those of ``dtype`` and the ``zero`` mode's ``fill``.
        Every partial sum of shift-and-add lies in it too: each tap adds a
        term between its weight times the least and the greatest sample.

        Examples
        --------
        >>> taps = integer_taps(np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]), 1.0)
        >>> taps.sum_range(np.dtype(np.uint8))
        (-1020, 1020)
        """
        info = np.iinfo(dtype)
        least, greatest = min(int(info.min), fill), max(int(info.max), fill)
        positive = int(self.weights[self.weights > 0].sum())
        negative = int(self.weights[self.weights < 0].sum())
        return (positive * least + negative * greatest, positive * greatest + negative * least)

    def sum_type(self, dtype: np.dtype[Any], fill: float = 0.0) -> np.dtype[Any] | None:
        """Return the narrowest integer type that holds every sum, if cheaper than float.

        None where the integer path does not apply: samples that are not
        integers of at most 32 bits, a ``zero`` fill that is not an integer.
        """
        if dtype.kind not in "ui" or dtype.itemsize > 4 or not float(fill).is_integer():
            return None
        least, greatest = self.sum_range(dtype, int(fill))
        taps = np.count_nonzero(self.weights)
        for candidate in SUM_TYPES:
            info = np.iinfo(candidate)
            if info.min <= least and greatest <= info.max:
                return candidate if NS_PER_TAP[candidate] * taps <= self.float_cost else None
        return None


def integer_taps(kernel: npt.NDArray[np.floating], float_cost: float) -> IntegerTaps | None:
    """Write a kernel as integer weights times one positive factor, or return None.

    The factor is found as a fraction (denominators up to 65536) and taken
    only when every weight divided by it is exactly an integer in float64.

    Examples
    --------
    >>> box = integer_taps(np.full((3, 3), 1 / 9), 1.0)
    >>> box.weights.tolist()[0], box.factor == 1 / 9
    ([1, 1, 1], True)
    >>> integer_taps(np.array([0.5, 1 / 3]), 1.0).weights.tolist()
    [3, 2]
    >>> integer_taps(np.array([0.1, np.pi]), 1.0) is None
    True
    """
    weights = np.asarray(kernel, dtype=np.float64)
    factor = _common_factor(magnitudes(weights))
    if factor is None:
        return None
    over = weights / factor
    if not np.array_equal(over, np.rint(over)) or np.abs(over).sum() > LARGEST_WEIGHT_SUM:
        return None
    whole = over.astype(np.int64)
    return IntegerTaps(whole, factor, float_cost, _split(whole))


def _split(weights: npt.NDArray[np.int64]) -> Split | None:
    """Write a 2-D kernel as ``times`` times the outer product of two integer vectors, or None.

    The vectors are the column and row through the largest weight, each over
    the greatest common divisor of its entries.
    """
    if weights.ndim != 2 or not weights.any():
        return None
    i, j = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    column, row = weights[:, j], weights[i, :]
    column, row = column // np.gcd.reduce(column), row // np.gcd.reduce(row)
    times, rest = divmod(int(weights[i, j]), int(column[i] * row[j]))
    if rest or not np.array_equal(np.outer(column, row) * times, weights):
        return None
    if column[i] < 0:  # summed with a positive sign, column then row: no pass to negate
        column, times = -column, -times
    return (column, row, times) if times > 0 else (column, -row, -times)


def magnitudes(weights: npt.NDArray[np.number]) -> list[float]:
    """Return the distinct magnitudes of the non-zero weights, smallest first.

    Not ``np.unique``: on a first call it imports ``numpy.ma``, 10 ms of a
    one-pixel run's start-up, for the few weights of a kernel.
    """
    return sorted({abs(w) for w in weights.ravel().tolist() if w != 0})


def _common_factor(magnitudes: list[float]) -> float | None:
    """Return the largest number each magnitude is an integer multiple of (None: none)."""
    fractions = []
    for magnitude in magnitudes:
        fraction = Fraction(magnitude).limit_denominator(DENOMINATORS)
        if float(fraction) != magnitude:
            return None
        fractions.append(fraction)
    if not fractions:
        return 1.0  # all zeros: any factor will do
    common = math.lcm(*(f.denominator for f in fractions))
    numerators = [f.numerator * (common // f.denominator) for f in fractions]
    return float(Fraction(math.gcd(*numerators), common))


def scaled(
    sums: npt.NDArray[np.integer], factor: float, out: npt.NDArray[np.floating]
) -> npt.NDArray[np.floating]:
    """Write ``sums`` times ``factor`` into ``out``, in ``out``'s float type.

    The sums are converted first (exact below 2^24 in float32), then
    multiplied by the factor in that type: one rounding, none for a factor
    of a power of 2. :mod:`convcli.ranges` maps levels the same way.
    """
    if factor == 1:
        np.copyto(out, sums)  # the same values, a conversion faster than a product
    else:
        np.multiply(sums, out.dtype.type(factor), out=out, dtype=out.dtype)
    return out


def correlate_integer(
    padded: npt.NDArray[np.integer],
    weights: npt.NDArray[np.integer],
    geometry: Geometry,
    out: npt.NDArray[np.integer] | None = None,
    scratch: npt.NDArray[np.integer] | None = None,
) -> npt.NDArray[np.integer]:
    """Cross-correlate a padded integer input with integer weights, in its own integer type.

    Shift-and-add with the taps of each weight's magnitude summed first, with
    their signs, and multiplied once: ``sobel-x`` is ``(c - a) + 2 (f - d) +
    (i - g)``, 6 passes where one per tap and product takes 8. Integers add
    in any order: every partial sum lies between the sums' least and greatest
    (:meth:`IntegerTaps.sum_range`), so none wraps around where they fit.
    ``out`` and ``scratch`` (the output's shape and type) are made if not given.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.array([1, 2, 4, 8], dtype=np.int16)
    >>> g = resolve_geometry(x.shape, (3,), padding=0)
    >>> correlate_integer(x, np.array([-1, 2, 1], dtype=np.int16), g).tolist()
    [7, 14]
    """
    if out is None:
        out = np.empty(geometry.output_shape, dtype=padded.dtype)
    spatial = geometry.output_shape[: geometry.spatial_ndim]
    steps = tuple(zip(spatial, geometry.stride, geometry.dilation, strict=True))
    sign = 0  # out holds sign times the sum so far; 0: nothing yet
    for magnitude in map(int, magnitudes(weights)):  # integer weights: integer magnitudes
        taps = [(padded[tap_window(tap, steps)], int(np.sign(weights[tap]))) for tap in
                zip(*np.nonzero(np.abs(weights) == magnitude), strict=True)]  # fmt: skip
        if sign == 0:  # the first magnitude is summed in out itself
            sign = _signed_sum(out, taps, magnitude)
            continue
        scratch = np.empty_like(out) if scratch is None else scratch
        sign = _add_signed(out, sign, scratch, _signed_sum(scratch, taps, magnitude))
    if sign == 0:
        out.fill(0)
    elif sign < 0:
        np.negative(out, out=out)
    return out


def _signed_sum(target: npt.NDArray[np.integer], taps: list[tuple[Any, int]], times: int) -> int:
    """Write ``times`` the sum of the taps' values, each with its sign, into ``target``, +-.

    Return the sign ``target`` holds it with: the first tap's (a pass fewer than
    negating). One tap is multiplied as it is copied.
    """
    (first, sign), rest = taps[0], taps[1:]
    if not rest:
        if times == 1:
            np.copyto(target, first)
        else:
            np.multiply(first, target.dtype.type(times), out=target)
        return sign
    (second, other), rest = rest[0], rest[1:]
    combine = np.add if other == sign else np.subtract
    combine(first, second, out=target)
    for values, own in rest:
        if own == sign:
            target += values
        else:
            target -= values
    if times != 1:
        np.multiply(target, target.dtype.type(times), out=target)
    return sign


def _add_signed(
    out: npt.NDArray[np.integer], sign: int, part: npt.NDArray[np.integer], part_sign: int
) -> int:
    """Add ``part_sign * part`` to ``out``, which holds ``sign`` times a sum; return the sign."""
    if part_sign == sign:
        out += part
    elif sign > 0:
        out -= part
    else:  # out is minus the sum: part - out is the new sum itself
        np.subtract(part, out, out=out)
        return 1
    return sign


def correlate_split(
    padded: npt.NDArray[np.integer],
    split: Split,
    geometry: Geometry,
    out: npt.NDArray[np.integer],
    spare: Callable[[str, tuple[int, ...], np.dtype[Any]], Any],
) -> npt.NDArray[np.integer]:
    """Correlate a padded integer input with a rank-1 2-D kernel: its column, then its row.

    ``sobel-x`` is 4 passes so (``[1, 2, 1]`` down, ``[-1, 0, 1]`` across), 6
    as one kernel; a 3x3 box 4 instead of 8. ``spare(name, shape, dtype)``
    gives the scratch arrays. See :meth:`IntegerTaps.split_holds` for the sums.
    """
    column, row, times = split
    dtype, zero = padded.dtype, ((0, 0), (0, 0))
    (down, across), (skip, step) = geometry.dilation, geometry.stride
    first = Geometry(padded.shape, (len(column), 1), zero, (skip, 1), (down, 1))
    middle = spare("middle", first.output_shape, dtype)
    scratch = spare("middle-scratch", first.output_shape, dtype)
    correlate_integer(padded, column[:, None].astype(dtype), first, middle, scratch)
    second = Geometry(middle.shape, (1, len(row)), zero, (1, step), (1, across))
    correlate_integer(
        middle, row[None, :].astype(dtype), second, out, spare("scratch", out.shape, dtype)
    )
    if times != 1:
        np.multiply(out, dtype.type(times), out=out)
    return out
