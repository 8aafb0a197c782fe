"""Checking the arguments of a convolution once, cheapest first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.choices import Method, PadMode, choose
from convcli.engine._borders import canonical_pad_mode, check_pad_value
from convcli.engine._geometry import AxisInts, Geometry, PaddingSpec, resolve_geometry
from convcli.engine._methods import choose_method
from convcli.errors import ParameterError

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Request:
    """The checked arguments of one convolution, ready for an algorithm."""

    signal: npt.NDArray[np.generic]  # the input, in its own dtype
    taps: npt.NDArray[np.floating]  # the kernel in the compute dtype, flipped if asked
    geometry: Geometry
    pad_mode: PadMode
    pad_value: float
    method: Method  # the algorithm chosen, never auto


def check_arguments(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    padding: PaddingSpec,
    pad_mode: str,
    pad_value: float,
    stride: AxisInts,
    dilation: AxisInts,
    flip: bool,
    method: str,
    dtype: npt.DTypeLike,
) -> Request:
    """Check every argument of :func:`convolve` (cheapest first) and resolve them."""
    compute = _compute_dtype(dtype)
    requested = choose(Method, method, "method")
    mode = canonical_pad_mode(pad_mode)
    fill = check_pad_value(pad_value, compute)
    weights = _as_real_array("kernel", kernel)
    if not np.isfinite(weights).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(weights))[0])
        raise ParameterError(f"kernel must be finite, got {weights[where]} at index {where}")
    signal = _as_real_array("input", x)
    geometry = resolve_geometry(
        signal.shape, weights.shape, padding=padding, stride=stride, dilation=dilation
    )
    taps = weights.astype(compute)
    if flip:
        taps = np.flip(taps)
    chosen = choose_method(requested, taps, geometry)
    return Request(signal, taps, geometry, mode, fill, chosen)


def _compute_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating]:
    try:
        compute = np.dtype(dtype)
    except TypeError:
        compute = np.dtype(object)  # not a dtype at all: refused below
    if compute not in DTYPES or dtype is None:  # np.dtype(None) is float64
        raise ParameterError(f"dtype must be float32 or float64, got {dtype!r}")
    return compute  # type: ignore[return-value]


def _as_real_array(name: str, value: npt.ArrayLike) -> npt.NDArray[np.generic]:
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ParameterError(f"{name} must be a rectangular array of numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array
