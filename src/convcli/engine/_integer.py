"""The exact integer path: integer samples and integer weights, summed in integers.

A kernel whose weights are integers, or integers times one common factor (a
box is ones/9, a binomial Gaussian integers/16), applied to integer samples
(8 or 16 bits, most often) has integer sums: shift-and-add computes them
exactly in int16 where every sum fits (int32 or int64 otherwise), 2 to 3
times faster than in float32, and the factor is applied once, at the end.
"""

from __future__ import annotations

import functools
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
Pass = tuple[int, tuple[int, ...]]  # an axis, and the integer weights along it
Window = tuple[slice, ...]
Make = Callable[[str, tuple[int, ...], np.dtype[Any]], Any]  # (name, shape, dtype) to an array
Groups = tuple[tuple[int, tuple[tuple[Window, int], ...]], ...]  # times, (window, sign)...
_DIRECT = NS_PER_UNIT[Method.DIRECT]
NS_PER_TAP = {SUM_TYPES[0]: 0.45 * _DIRECT, SUM_TYPES[1]: _DIRECT, SUM_TYPES[2]: 2 * _DIRECT}
DENOMINATORS = 1 << 16  # the largest denominator of a common factor looked for
LARGEST_WEIGHT_SUM = 1 << 31  # of |weights| over the factor: sums of 32-bit inputs fit int64


@dataclass(frozen=True)
class Chain:
    """A kernel as 1-D passes of integer weights, axis by axis, times an integer.

    ``sobel-x`` is ``[1, 1]`` down twice and ``[-1, 0, 1]`` across: 3 passes
    where the kernel's 8 taps take 6 (see :func:`chain`).
    """

    passes: tuple[Pass, ...]
    times: int

    @property
    def growth(self) -> int:
        """The most any partial sum can be, in magnitudes of the largest sample.

        Each pass's sums are within its input's magnitude times the sum of its
        weights' magnitudes, whatever order its taps are added in.
        """
        return math.prod(sum(map(abs, weights)) for _, weights in self.passes)


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
    chain: Chain | None = None  # a 1-D kernel, or a 2-D one of rank 1, as 1-D passes

    def chain_holds(self, dtype: np.dtype[Any], fill: int, summed: np.dtype[Any]) -> bool:
        """Say whether ``chain`` runs in ``summed`` for samples of ``dtype`` and ``fill``.

        A pass's sums are not bounded as the kernel's are (:attr:`Chain.growth`).
        """
        info = np.iinfo(dtype)
        largest = max(-int(info.min), int(info.max), abs(fill))
        return self.chain is not None and largest * self.chain.growth <= np.iinfo(summed).max

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
        for candidate in SUM_TYPES:
            info = np.iinfo(candidate)
            if info.min <= least and greatest <= info.max:
                passes = self.passes(dtype, int(fill), candidate)
                return candidate if NS_PER_TAP[candidate] * passes <= self.float_cost else None
        return None

    def passes(self, dtype: np.dtype[Any], fill: int, summed: np.dtype[Any]) -> int:
        """Count the passes over the output the sums take: the chain's where it runs, else taps."""
        if self.chain is not None and self.chain_holds(dtype, fill, summed):
            return sum(_passes(weights) for _, weights in self.chain.passes)
        return int(np.count_nonzero(self.weights))


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
    return IntegerTaps(whole, factor, float_cost, chain(whole))


def chain(weights: npt.NDArray[np.int64]) -> Chain | None:
    """Write a 1-D kernel, or a 2-D one of rank 1, as 1-D passes times an integer, or None.

    A 2-D kernel is its column then its row through the largest weight, each
    over the greatest common divisor of its entries; each 1-D pass is then
    factored where that saves passes (:func:`factored`).

    Examples
    --------
    >>> chain(np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    Chain(passes=((0, (1, 1)), (0, (1, 1)), (1, (-1, 0, 1))), times=1)
    >>> chain(np.array([2, 4, 2])), chain(np.array([[1, 2], [3, 5]]))
    (Chain(passes=((0, (1, 1)), (0, (1, 1))), times=2), None)
    """
    if weights.ndim not in (1, 2) or not weights.any():
        return None
    largest = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    vectors = [weights] if weights.ndim == 1 else [weights[:, largest[1]], weights[largest[0]]]
    vectors = [v // (int(np.gcd.reduce(v)) * int(np.sign(v[v != 0][0]))) for v in vectors]
    whole = vectors[0] if weights.ndim == 1 else np.outer(*vectors)  # first weights positive
    times, rest = divmod(int(weights[largest]), int(whole[largest]))
    if rest or not np.array_equal(whole * times, weights):
        return None
    passes = [step for axis, v in enumerate(vectors) for step in factored(axis, tuple(v.tolist()))]
    if times < 0:  # taken by the last pass, which adds in either order
        axis, last = passes[-1]
        passes[-1], times = (axis, tuple(-w for w in last)), -times
    return Chain(tuple(passes), times)


def factored(axis: int, weights: tuple[int, ...]) -> tuple[Pass, ...]:
    """Write 1-D weights as the fewest NumPy passes: ``(1 + z)`` and ``(1 - z)`` divided out.

    Correlating with ``a`` then ``b`` is correlating with their product as
    polynomials; ``[1, 2, 1]`` is ``[1, 1]`` twice, 2 passes (two adds) where
    it takes 3 (an add, a product, an add). Kept only where it saves passes.

    Examples
    --------
    >>> factored(0, (1, 4, 6, 4, 1)), factored(1, (-1, 0, 1))
    (((0, (1, 1)), (0, (1, 1)), (0, (1, 1)), (0, (1, 1))), ((1, (-1, 0, 1)),))
    """
    return tuple((axis, part) for part in _fewest_passes(weights))


@functools.cache
def _fewest_passes(weights: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    best: tuple[tuple[int, ...], ...] = (weights,)
    for sign in (1, -1):
        quotient = _divide(weights, sign)
        if quotient is not None:
            rest = ((1, sign), *_fewest_passes(quotient))
            if sum(map(_passes, rest)) < sum(map(_passes, best)):
                best = rest
    return best


def _divide(weights: tuple[int, ...], sign: int) -> tuple[int, ...] | None:
    """Divide weights, as a polynomial, by ``1 + sign z``; None where it leaves a remainder."""
    quotient, carry = [], 0
    for weight in weights[:-1]:
        carry = weight - sign * carry
        quotient.append(carry)
    return tuple(quotient) if quotient and weights[-1] == sign * carry else None


def _passes(weights: tuple[int, ...]) -> int:
    """NumPy passes of shift-and-add: one per tap after the first, one per magnitude not 1."""
    found = [abs(w) for w in weights if w]
    return max(len(found) - 1, 1) + len(set(found) - {1})


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
    make: Make | None = None,
    spare: Make | None = None,
    wide: bool = False,
) -> npt.NDArray[np.integer]:
    """Cross-correlate a padded integer input with integer weights, in its own integer type.

    Shift-and-add, the taps of each weight's magnitude summed with their signs
    and multiplied once (:func:`tap_groups`): ``laplacian`` is ``-4 e`` then
    ``+ b + d + f + h``, 5 passes. Integers add in any order: every partial
    sum is a sum of some of the terms, each between 0 and its greatest, so it
    lies between the sums' least and greatest (:meth:`IntegerTaps.sum_range`)
    and none wraps around where they fit. ``make(name, shape, dtype)`` makes
    the sums' array and ``spare`` the scratch (new arrays if not given).
    ``wide``: summed in runs where the strides allow (:func:`runs`), the
    result then a view of a wider array.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.array([1, 2, 4, 8], dtype=np.int16)
    >>> g = resolve_geometry(x.shape, (3,), padding=0)
    >>> correlate_integer(x, np.array([-1, 2, 1], dtype=np.int16), g).tolist()
    [7, 14]
    """
    make, spare = make or _new, spare or _new
    ndim = geometry.spatial_ndim
    outputs = geometry.output_shape[:ndim]
    steps = tuple(zip(outputs, geometry.stride, geometry.dilation, strict=True))
    run = runs(padded, outputs, geometry.stride) if wide else None
    shape = geometry.output_shape if run is None else (outputs[0], *padded.shape[1:])
    groups = tap_groups(tuple(weights.ravel().tolist()), weights.shape, steps, run)
    out = make("sums", shape, padded.dtype)
    scratch = spare("scratch", shape, padded.dtype) if len(groups) > 1 else None
    sum_groups(_whole(padded, run), groups, _first(out, run), _first(scratch, run))
    return out if run is None else _kept_box(out, outputs)


Run = tuple[tuple[int, ...], int]  # the element strides of the spatial axes, and a length


def runs(padded: npt.NDArray[Any], outputs: tuple[int, ...], stride: tuple[int, ...]) -> Run | None:
    """Say how to sum a padded band in runs of consecutive values, or None: in windows.

    With a stride of 1 on every axis, the output laid out as wide as the
    padded band (``wide``: its first axis the outputs', the others the band's)
    is, value for value, the band shifted by each tap: every pass is then one
    NumPy loop over consecutive values, twice as fast as a window's loop row
    by row. The values between the rows (beyond the outputs, in the padding's
    columns) are sums of the band's values too, computed and never read.
    Returns the strides and how many values, from the first output to the
    last, each pass computes.
    """
    if not padded.flags.c_contiguous:
        return None
    return _runs(padded.shape, outputs, stride)


@functools.lru_cache(maxsize=64)
def _runs(shape: tuple[int, ...], outputs: tuple[int, ...], stride: tuple[int, ...]) -> Run | None:
    """Work out :func:`runs` for a band of ``shape``, once per band shape."""
    if any(step != 1 for step in stride):
        return None
    strides = tuple(math.prod(shape[axis + 1 :]) for axis in range(len(outputs)))
    return strides, _run_length((*outputs, *shape[len(outputs) :]), strides)


def _run_length(shape: tuple[int, ...], strides: tuple[int, ...]) -> int:
    """Values from the first output to the last, in runs: ``shape`` the outputs', channels too."""
    ndim = len(strides)
    channels = math.prod(shape[ndim:])
    return sum((n - 1) * s for n, s in zip(shape[:ndim], strides, strict=True)) + channels


def _new(_name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    return np.empty(shape, dtype)


def _whole(array: npt.NDArray[Any], run: Run | None) -> npt.NDArray[Any]:
    """Return what the windows of ``run`` read: ``array``'s values in a row (or ``array``)."""
    return array if run is None else array.reshape(-1)


def _first(array: npt.NDArray[Any] | None, run: Run | None) -> Any:
    """Return what a pass of ``run`` writes: the first of ``array``'s values (or ``array``)."""
    return array if array is None or run is None else array.reshape(-1)[: run[1]]


def _kept_box(wide: npt.NDArray[Any], outputs: tuple[int, ...]) -> npt.NDArray[Any]:
    """Return the outputs in a wide array (:func:`runs`): its first values along each axis."""
    return wide[(slice(None), *(slice(n) for n in outputs[1:]))]


@functools.lru_cache(maxsize=256)
def tap_groups(
    weights: tuple[int, ...],
    shape: tuple[int, ...],
    steps: tuple[tuple[int, int, int], ...],
    run: Run | None = None,
) -> Groups:
    """Group the taps by magnitude: windows of the padded input with signs, and a multiplier.

    Each group's first sign is +1 (its multiplier carries the sign of a group
    of negative weights). A group of another magnitude than 1 comes first: its
    product is then made in the output itself, and the taps of weight +-1,
    last, each add or subtract in place, with no product and no scratch.
    ``steps`` (outputs, stride and dilation per axis) fix the windows, or
    with ``run`` (:func:`runs`) the runs of values: worked out once per
    kernel and band shape, not for every band.
    """
    array = np.reshape(weights, shape)
    groups = []
    for magnitude in magnitudes(array):
        taps = zip(*np.nonzero(np.abs(array) == magnitude), strict=True)
        windows = [(_window(tap, steps, run), 1 if array[tap] > 0 else -1) for tap in taps]
        windows.sort(key=lambda window: -window[1])  # positive first
        times = int(magnitude) * windows[0][1]
        groups.append((times, tuple((window, sign * windows[0][1]) for window, sign in windows)))
    return tuple(groups[1:] + groups[:1] if len(groups) > 1 and groups[0][0] in (1, -1) else groups)


def _window(
    tap: tuple[int, ...], steps: tuple[tuple[int, int, int], ...], run: Run | None
) -> Window:
    """Return the values a tap meets: a window of the padded input, or a run (:func:`runs`)."""
    if run is None:
        return tap_window(tap, steps)
    strides, length = run
    start = sum(int(j) * d * s for j, (_, _, d), s in zip(tap, steps, strides, strict=True))
    return (slice(start, start + length),)


def sum_groups(
    padded: npt.NDArray[np.integer],
    groups: Groups,
    out: npt.NDArray[np.integer],
    scratch: npt.NDArray[np.integer] | None = None,
) -> npt.NDArray[np.integer]:
    """Write the sum of ``groups`` (:func:`tap_groups`) of ``padded``'s values into ``out``."""
    if not groups:
        out.fill(0)
    for number, (times, windows) in enumerate(groups):
        if number and times in (1, -1):  # weights of +-1, after the first group: in place
            for window, sign in windows:
                (np.add if sign * times > 0 else np.subtract)(out, padded[window], out=out)
            continue
        target = out
        if number:
            scratch = np.empty_like(out) if scratch is None else scratch
            target = scratch
        _group_sum(target, [(padded[window], sign) for window, sign in windows], times)
        if number:
            out += target
    return out


def _group_sum(target: npt.NDArray[np.integer], taps: list[tuple[Any, int]], times: int) -> None:
    """Write ``times`` the sum of the taps' values, each with its sign, into ``target``.

    A single tap is multiplied as it is copied.
    """
    (first, _), rest = taps[0], taps[1:]
    if not rest:
        if times == 1:
            np.copyto(target, first)
        else:
            np.multiply(first, target.dtype.type(times), out=target)
        return
    (second, sign), rest = rest[0], rest[1:]
    (np.add if sign > 0 else np.subtract)(first, second, out=target)
    for values, own in rest:
        (np.add if own > 0 else np.subtract)(target, values, out=target)
    if times != 1:
        np.multiply(target, target.dtype.type(times), out=target)


def correlate_chain(
    padded: npt.NDArray[np.integer],
    chain: Chain,
    geometry: Geometry,
    make: Make | None,
    spare: Make,
    wide: bool = False,
) -> npt.NDArray[np.integer]:
    """Correlate a padded integer input with a kernel written as a chain of 1-D passes.

    ``sobel-x`` is 3 passes so, where the kernel's taps take 6; a 3x3 box 4
    instead of 8. Each pass works on the whole of the axes it does not
    reduce; an axis's stride is taken by its last pass. ``make(name, shape,
    dtype)`` makes the sums' array (None: a new one), ``spare`` the arrays
    between passes. ``wide``: in runs of values where the strides allow
    (:func:`runs`), every array then as wide as ``padded``, the result a view.
    See :meth:`IntegerTaps.chain_holds`.
    """
    make, ndim = make or _new, geometry.spatial_ndim
    flat = wide and runs(padded, geometry.output_shape[:ndim], geometry.stride) is not None
    program = chain_program(chain, padded.shape, geometry.stride, geometry.dilation, flat)
    source, dtype = padded, padded.dtype
    for number, (groups, shape, run) in enumerate(program):
        last = number == len(program) - 1
        target = make("sums", shape, dtype) if last else spare(f"pass-{number % 2}", shape, dtype)
        scratch = spare("pass-scratch", shape, dtype) if len(groups) > 1 else None
        sum_groups(_whole(source, run), groups, _first(target, run), _first(scratch, run))
        source = target
    if chain.times != 1:
        values = _first(source, program[-1][2])
        np.multiply(values, dtype.type(chain.times), out=values)
    return source if not flat else _kept_box(source, geometry.output_shape[:ndim])


@functools.lru_cache(maxsize=64)
def chain_program(
    chain: Chain,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    flat: bool = False,
) -> tuple[tuple[Groups, tuple[int, ...], Run | None], ...]:
    """Work out each pass of ``chain`` on a padded band of ``shape``: groups, shape, run.

    Worked out once per band shape (:func:`tap_groups`). ``flat``: in runs of
    values (:func:`runs`; the strides are 1), each pass's array as wide as the band.
    """
    ndim = len(stride)
    last = {axis: number for number, (axis, _) in enumerate(chain.passes)}
    assert len(last) == ndim, "every axis has a pass, which takes its stride"
    program = []
    strides = tuple(math.prod(shape[axis + 1 :]) for axis in range(ndim))  # in values
    logical = shape  # the values each pass's array holds; in runs, it is as wide as the band
    for number, (axis, weights) in enumerate(chain.passes):
        along, steps = [1] * ndim, [1] * ndim
        along[axis] = len(weights)
        steps[axis] = stride[axis] if last[axis] == number else 1
        dilated = [1] * ndim
        dilated[axis] = dilation[axis]
        step = Geometry(logical, tuple(along), ((0, 0),) * ndim, tuple(steps), tuple(dilated))
        logical = step.output_shape
        windows = tuple(zip(logical[:ndim], steps, dilated, strict=True))
        run = (strides, _run_length(logical, strides)) if flat else None
        wide = (logical[0], *shape[1:]) if flat else logical
        program.append((tap_groups(weights, tuple(along), windows, run), wide, run))
    return tuple(program)
