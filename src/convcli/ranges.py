"""Output range mapping: from filter responses to the numbers an output format holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.choices import Range

__all__ = ["DEPTHS", "Mapped", "clipped_share", "finite_bounds", "map_range"]

# The sample types an output can have, and the value of full intensity in each.
DEPTHS = {"uint8": 255, "uint16": 65535, "float32": None}


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
    bounds: tuple[float, float] | None = None,
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
    bounds : (float, float), optional
        For ``rescale``: the minimum and maximum to map, when ``response`` is
        only a band of the whole (see :func:`finite_bounds`).

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
        low, high = bounds or finite_bounds(values) or (0.0, 0.0)
        if high > low:
            unit = np.subtract(values, np.float32(low))
            np.divide(unit, np.float32(high - low), out=unit)
        else:
            unit = np.zeros_like(values)
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
    # Clipped means the output changed: beyond half a step outside, not 255.00002.
    full_scale = DEPTHS[depth]
    slack = 0.5 / full_scale if full_scale else 0.0
    if not unit.size or (unit.min() >= -slack and unit.max() <= 1 + slack):
        return 0.0  # the common case, without the masks (NaN fails both tests: counted below)
    outside = (unit < -slack) | (unit > 1 + slack)
    return float(outside.mean())


def finite_bounds(values: npt.NDArray[np.floating]) -> tuple[float, float] | None:
    """Return the minimum and maximum of the finite values, or None if there are none.

    Examples
    --------
    >>> finite_bounds(np.array([3.0, np.nan, -1.0, np.inf]))
    (-1.0, 3.0)
    """
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else None
