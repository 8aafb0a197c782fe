"""Output range mapping: from filter responses to the numbers an output format holds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.choices import Depth, Range

__all__ = [
    "DEPTHS",
    "Bounds",
    "Levels",
    "Mapped",
    "Reach",
    "clipped_share",
    "finite_bounds",
    "levels",
    "map_bounds",
    "map_range",
    "ranges_that_help",
    "reach",
]

# What rescale maps from and to: one low and high bound, or one of each per channel.
Bounds = tuple[float, float] | tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]

# The sample types an output can have, and the value of full intensity in each.
DEPTHS: dict[str, int | None] = {Depth.UINT8: 255, Depth.UINT16: 65535, Depth.FLOAT32: None}


@dataclass(frozen=True)
class Mapped:
    """A response mapped to an output's sample type.

    Attributes
    ----------
    values : ndarray
        ``uint8``, ``uint16`` or ``float32``, the shape of the response.
    clipped : float
        Fraction of samples that fell outside the range and were clipped.
    """

    values: npt.NDArray[np.generic]
    clipped: float


def map_range(
    response: npt.NDArray[np.floating],
    mode: Range | str,
    *,
    white: float,
    depth: str,
    bounds: Bounds | None = None,
) -> Mapped:
    """Map a filter response to an output depth.

    Parameters
    ----------
    response : ndarray
        The filtered values, in the units of the input (0 to ``white``).
    mode : {'clip', 'abs', 'rescale', 'offset', 'raw'}
        ``clip``: 0 to ``white`` onto the output range, the rest clipped.
        ``abs``: the magnitude, then as ``clip``. ``rescale``: minimum to
        maximum onto the full range. ``offset``: zero at mid-grey, for signed
        responses. ``raw``: the float values unchanged (``float32`` only).
    white : float
        The input's full intensity: 255, 65535, or 1.0 for float images.
    depth : {'uint8', 'uint16', 'float32'}
        The output sample type; a float output keeps the input's units.
    bounds : (float, float) or (ndarray, ndarray), optional
        For ``rescale``: the minimum and maximum to map, when ``response`` is
        only a band of the whole (see :func:`finite_bounds`); or one of each
        per channel (the last axis: a layer's feature maps, see :func:`map_bounds`).

    Returns
    -------
    Mapped
        Rounded to nearest for integer depths.

    Examples
    --------
    >>> r = np.array([-100.0, 0.0, 127.6, 300.0])
    >>> map_range(r, "clip", white=255, depth="uint8").values
    array([  0,   0, 128, 255], dtype=uint8)
    >>> map_range(r, "abs", white=255, depth="uint8").values
    array([100,   0, 128, 255], dtype=uint8)
    >>> map_range(r, "rescale", white=255, depth="uint8").values
    array([  0,  64, 145, 255], dtype=uint8)
    """
    values = np.asarray(response, dtype=np.float32)
    if mode == Range.RAW:
        return Mapped(values, 0.0)
    # One working array, every step in place: the same float32 operations in the same order.
    if mode == Range.RESCALE:
        unit = _rescaled(values, bounds or finite_bounds(values) or (0.0, 0.0))
        clipped = 0.0
    else:
        unit = _unit(values, mode, white)
        clipped = _outside(unit, depth)
    np.fmax(unit, np.float32(0.0), out=unit)  # NaN and -inf to 0: fmax ignores NaN
    np.minimum(unit, np.float32(1.0), out=unit)
    full = DEPTHS[depth]
    np.multiply(unit, np.float32(white if full is None else full), out=unit)
    if full is None:
        return Mapped(unit, clipped)
    return Mapped(np.rint(unit, out=unit).astype(depth), clipped)


@dataclass(frozen=True)
class Levels:
    """How exact integer sums map to an output's samples: a table made by :func:`map_range`.

    For a response that is integer sums times a factor (the engine's integer
    path), each sum from ``lowest`` has its mapped value in ``table``, computed
    by :func:`map_range` itself from the float the engine would have given:
    the same bytes as mapping the float response, in one pass over the sums.

    Attributes
    ----------
    lowest : int
        The sum of ``table[0]``.
    table : ndarray
        The mapped value of each sum, ``uint8`` or ``uint16``.
    kept : (int, int)
        The first and last sum not clipped (an interval: each range is
        monotonic in the sum, or in its magnitude).
    clipped_only : bool
        The table is the sums themselves clipped to the output's range:
        mapped so, without the table.
    magnitudes_only : bool
        The table is the sums' magnitudes clipped so (``abs``, a factor of 1).
    """

    lowest: int
    table: npt.NDArray[np.unsignedinteger]
    kept: tuple[int, int]
    clipped_only: bool
    magnitudes_only: bool = False

    def map(self, sums: npt.NDArray[np.integer], out: npt.NDArray[np.generic]) -> int:
        """Write the mapped ``sums`` into ``out``; return how many were clipped. ``sums`` is reused.

        Sums clipped, or their magnitudes clipped, are mapped in a few passes
        of NumPy (an ``abs``, a comparison counted, a clip, a cast); others
        through the table, 10 times as long a value (``np.take``). Where the
        table keeps every sum it holds (``rescale``), none is counted.

        Examples
        --------
        >>> table = levels(-4, 4, 0.25, "offset", white=1.0, depth="uint8")
        >>> out = np.empty(3, np.uint8)
        >>> table.map(np.array([-4, 0, 4], np.int16), out), out.tolist()
        (2, [0, 128, 255])
        """
        first, last = self.kept
        full, bits = (1 << 8 * self.table.itemsize) - 1, 8 * sums.itemsize  # no np.iinfo: 1.5 us
        # The least integer has no magnitude of its type: -(-32768) is -32768 in int16.
        magnitudes = self.magnitudes_only and self.lowest > -(1 << bits - 1)
        if magnitudes:  # then mapped as clip maps them, the kept sums from 0
            np.abs(sums, out=sums)
            first = 0
        every = first <= self.lowest and self.lowest + len(self.table) - 1 <= last  # rescale's
        clipped = 0 if every else _outside_count(sums, first, last)
        if self.clipped_only or magnitudes:
            np.clip(sums, 0, full, out=sums)
            np.copyto(out, sums, casting="unsafe")
            return clipped
        index = sums.view(np.dtype(f"u{sums.itemsize}"))  # from lowest, modulo 2**bits
        np.subtract(index, index.dtype.type(self.lowest % 2**bits), out=index)
        np.take(self.table, index, out=out, mode="clip")
        return clipped


def _outside_count(sums: npt.NDArray[np.integer], first: int, last: int) -> int:
    """Count the sums outside ``first`` to ``last``: one comparison where ``first`` is 0."""
    unsigned = sums.view(np.dtype(f"u{sums.itemsize}"))  # negative sums: 2**bits more
    if first == 0 and sums.dtype.kind == "i" and last < 2 ** (8 * sums.itemsize - 1):
        return int(np.count_nonzero(unsigned > last))
    return sums.size - int(np.count_nonzero((sums >= first) & (sums <= last)))


def levels(
    lowest: int,
    highest: int,
    factor: float,
    mode: Range | str,
    *,
    white: float,
    depth: str,
    bounds: tuple[float, float] | None = None,
) -> Levels:
    """Tabulate :func:`map_range` for sums ``lowest`` to ``highest`` times ``factor``.

    Each sum's float is made as the engine makes it (converted to float32,
    then multiplied by the factor in float32). ``depth`` is an integer one.

    Examples
    --------
    >>> mapped = levels(-2, 300, 1.0, "clip", white=255, depth="uint8")
    >>> mapped.table[[0, 2, 257, 302]].tolist(), mapped.kept, mapped.clipped_only
    ([0, 0, 255, 255], (0, 255), True)
    """
    sums = np.arange(lowest, highest + 1)
    response = np.multiply(sums, np.float32(factor), dtype=np.float32)
    table = map_range(response, mode, white=white, depth=depth, bounds=bounds).values
    if mode == Range.RESCALE:
        kept = np.arange(sums.size)
    else:
        kept = np.flatnonzero(~_outside_each(_unit(response, mode, white), depth))
    assert kept.size == 0 or kept[-1] - kept[0] + 1 == kept.size, "the kept sums are an interval"
    span = (lowest + int(kept[0]), lowest + int(kept[-1])) if kept.size else (1, 0)
    full = DEPTHS[depth]
    clipped_only = full is not None and np.array_equal(table, np.clip(sums, 0, full))
    magnitudes_only = full is not None and np.array_equal(table, np.clip(np.abs(sums), 0, full))
    return Levels(lowest, table, span, clipped_only, magnitudes_only)  # type: ignore[arg-type]


def clipped_share(
    response: npt.NDArray[np.floating], mode: Range | str, *, white: float, depth: str
) -> float:
    """Return the share of ``response`` that :func:`map_range` would clip (none in raw, rescale).

    Examples
    --------
    >>> clipped_share(np.array([-100.0, 0.0, 127.6, 300.0]), "clip", white=255, depth="uint8")
    0.5
    """
    if mode in (Range.RAW, Range.RESCALE):
        return 0.0
    return _outside(_unit(np.asarray(response, dtype=np.float32), mode, white), depth)


def _unit(
    values: npt.NDArray[np.float32], mode: Range | str, white: float
) -> npt.NDArray[np.float32]:
    unit: npt.NDArray[np.float32] = values / np.float32(white)
    if mode == Range.ABS:
        np.abs(unit, out=unit)
    elif mode == Range.OFFSET:
        np.add(unit, np.float32(0.5), out=unit)
    return unit


def _outside(unit: npt.NDArray[np.float32], depth: str) -> float:
    slack = _slack(depth)
    if not unit.size or (unit.min() >= -slack and unit.max() <= 1 + slack):
        return 0.0  # the common case, without the masks (NaN fails both tests: counted below)
    return float(_outside_each(unit, depth).mean())


def _outside_each(unit: npt.NDArray[np.float32], depth: str) -> npt.NDArray[np.bool_]:
    slack = _slack(depth)
    return (unit < -slack) | (unit > 1 + slack)


def _slack(depth: str) -> float:
    # Clipped means the output changed: beyond half a step outside, not 255.00002.
    full_scale = DEPTHS[depth]
    return 0.5 / full_scale if full_scale else 0.0


def _rescaled(values: npt.NDArray[np.float32], bounds: Bounds) -> npt.NDArray[np.float32]:
    """Map each low bound to 0 and high bound to 1; 0 where they are equal (or none is known)."""
    low, high = (np.asarray(bound, dtype=np.float64) for bound in bounds)
    flat = ~(high > low)  # NaN bounds too: a map without one finite value
    unit = np.subtract(values, low.astype(np.float32))
    np.divide(unit, np.where(flat, 1.0, high - low).astype(np.float32), out=unit)
    if flat.any():
        np.copyto(unit, np.float32(0.0), where=flat)
    return unit


def map_bounds(bands: Iterable[npt.NDArray[np.floating]]) -> Bounds | None:
    """Return each channel's finite minimum and maximum over ``bands`` (NaN: none), for ``rescale``.

    The last axis is the channels: a layer's feature maps, each mapped from
    its own least to its own greatest value. None if there are no bands.

    Examples
    --------
    >>> maps = np.array([[[0.0, 5.0], [2.0, np.inf]], [[4.0, 5.0], [-np.inf, np.nan]]])
    >>> low, high = map_bounds([maps])
    >>> low.tolist(), high.tolist()
    ([0.0, 5.0], [4.0, 5.0])
    >>> map_range(maps, "rescale", white=255, depth="uint8", bounds=(low, high)).values[..., 0]
    array([[  0, 128],
           [255,   0]], dtype=uint8)
    """
    lows, highs = [], []
    for band in bands:
        finite = np.where(np.isfinite(band), band, np.nan).reshape(-1, band.shape[-1])
        lows.append(np.fmin.reduce(finite, axis=0, initial=np.inf))
        highs.append(np.fmax.reduce(finite, axis=0, initial=-np.inf))
    if not lows:
        return None
    low, high = np.fmin.reduce(lows, axis=0), np.fmax.reduce(highs, axis=0)
    none = np.isinf(low)  # no finite value: its initial bound, made NaN
    return np.where(none, np.nan, low), np.where(none, np.nan, high)


def finite_bounds(values: npt.NDArray[np.floating]) -> tuple[float, float] | None:
    """Return the minimum and maximum of the finite values, or None if there are none.

    Examples
    --------
    >>> finite_bounds(np.array([3.0, np.nan, -1.0, np.inf]))
    (-1.0, 3.0)
    """
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


@dataclass(frozen=True)
class Reach:
    """What a response can be, worked out from its kernels' weights, for inputs 0 to white.

    In units of white: ``low`` and ``high`` bound the response over every
    input (the weights' signs decide them); ``centred`` says that it is 0
    wherever the input is flat, as for weights that sum to 0 (an edge, a
    Laplacian).
    """

    low: float
    high: float
    centred: bool  # 0 on flat regions, whatever their level: the weights sum to 0

    @property
    def signed(self) -> bool:
        """Whether the response can be negative."""
        return self.low < -_TINY


_TINY = 1e-9  # relative: a float sum of weights that is 0 on paper


def reach(stages: Sequence[tuple[Sequence[npt.NDArray[np.floating]], float]]) -> Reach:
    """Bound the response of a pipeline, each stage its matrices and bias, to inputs in [0, 1].

    A stage of several matrices is their magnitude (square root of the sum
    of squares); the bias is taken as a shift of unknown size, in its sign's direction.

    Examples
    --------
    >>> sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    >>> reach([([sharpen], 0.0)])
    Reach(low=-4.0, high=5.0, centred=False)
    >>> reach([([np.full((3, 3), 1 / 9)], 0.0)]).signed
    False
    """
    low, high = 0.0, 1.0
    flat = [0.0, 1.0]  # the response to a flat input at 0 and at white; NaN: not known
    for matrices, bias in stages:
        parts = [_span(matrix, low, high) for matrix in matrices]
        if len(parts) == 1:
            low, high, total = parts[0]
            flat = [0.0 if total == 0 else total * level for level in flat]  # 0 even after NaN
        else:  # a magnitude: never negative, at most the root of each part's largest squared
            low, high = 0.0, math.sqrt(sum(max(a * a, b * b) for a, b, _ in parts))
            flat = [math.sqrt(sum((t * level) ** 2 for *_, t in parts if t)) for level in flat]
        if bias:
            low, high = (low, math.inf) if bias > 0 else (-math.inf, high)
            flat = [math.nan, math.nan]
    return Reach(low, high, centred=flat == [0.0, 0.0])


def _span(matrix: npt.NDArray[np.floating], low: float, high: float) -> tuple[float, float, float]:
    """Return the least and greatest response of ``matrix`` to inputs in [low, high]; its sum."""
    positive, negative = float(matrix[matrix > 0].sum()), float(matrix[matrix < 0].sum())
    total = positive + negative
    if abs(total) <= _TINY * (positive - negative):  # 0 on paper, not quite in floats
        total = 0.0
    return positive * low + negative * high, positive * high + negative * low, total


def ranges_that_help(mode: Range | str, how: Reach) -> list[Range]:
    """Return the ranges that would clip less than ``mode`` did, for a response of this reach.

    A signed response that is 0 on flat regions (an edge, a Laplacian) is
    what ``abs``, ``offset`` and ``rescale`` are for (``offset`` holds half
    the magnitudes ``abs`` does). Any other is helped only by a range that
    holds its whole reach (``abs`` only when it can be negative: else it is
    ``clip``), and always by ``rescale``.

    Examples
    --------
    >>> edges = Reach(-4.0, 4.0, centred=True)
    >>> " ".join(ranges_that_help("clip", edges)), " ".join(ranges_that_help("abs", edges))
    ('abs offset rescale', 'rescale')
    >>> " ".join(ranges_that_help("offset", Reach(0.0, 1.0, centred=False)))  # a blur
    'clip rescale'
    """
    if how.signed and how.centred:
        after = {Range.CLIP: [Range.ABS, Range.OFFSET], Range.OFFSET: [Range.ABS]}
        return [*after.get(Range(mode), []), Range.RESCALE]
    holds = {
        Range.CLIP: how.low >= -_TINY and how.high <= 1 + _TINY,
        Range.ABS: how.signed and max(-how.low, how.high) <= 1 + _TINY,
        Range.OFFSET: how.low >= -0.5 - _TINY and how.high <= 0.5 + _TINY,
    }
    return [r for r, fits in holds.items() if fits and r != mode] + [Range.RESCALE]
