"""Checking the arguments of a convolution once, cheapest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.choices import Method, PadMode, choose
from convcli.engine._borders import canonical_pad_mode, check_pad_value
from convcli.engine._geometry import AxisInts, Geometry, PaddingSpec, resolve_geometry
from convcli.engine._methods import choose_method
from convcli.errors import ParameterError

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Plan:
    """The checked settings of one convolution, for an input of known shape."""

    taps: npt.NDArray[np.floating]  # the kernel in the compute dtype, flipped if asked
    geometry: Geometry
    pad_mode: PadMode
    pad_value: float
    method: Method  # the algorithm chosen, never auto


@dataclass(frozen=True)
class Request(Plan):
    """The checked arguments of one convolution, ready for an algorithm."""

    signal: npt.NDArray[np.generic] = field(kw_only=True)  # the input, in its own dtype


@dataclass(frozen=True)
class _Settings:
    """Every argument but the input's, checked."""

    weights: npt.NDArray[np.generic]
    compute: np.dtype[np.floating]
    padding: PaddingSpec
    pad_mode: PadMode
    pad_value: float
    stride: AxisInts
    dilation: AxisInts
    flip: bool
    method: Method

    def plan(self, shape: tuple[int, ...]) -> Plan:
        geometry = resolve_geometry(shape, self.weights.shape, padding=self.padding,
                                    stride=self.stride, dilation=self.dilation)  # fmt: skip
        taps = self.weights.astype(self.compute)
        if self.flip:
            taps = np.flip(taps)
        chosen = choose_method(self.method, taps, geometry)
        return Plan(taps, geometry, self.pad_mode, self.pad_value, chosen)


def check_arguments(x: npt.ArrayLike, kernel: npt.ArrayLike, **settings: Any) -> Request:
    """Check every argument of :func:`convolve` (cheapest first) and resolve them."""
    checked = _check_settings(kernel, **settings)
    signal = _as_real_array("input", x)
    return Request(**vars(checked.plan(signal.shape)), signal=signal)


def plan_convolution(
    shape: tuple[int, ...],
    kernel: npt.ArrayLike,
    *,
    padding: PaddingSpec = "same",
    pad_mode: str = "reflect",
    pad_value: float = 0.0,
    stride: AxisInts = 1,
    dilation: AxisInts = 1,
    flip: bool = False,
    method: str = "auto",
    dtype: npt.DTypeLike = np.float32,
) -> Plan:
    """Check the arguments of :func:`convcli.convolve` for an input of ``shape``, unread.

    For inputs that are not in memory (a Dask array): the plan fixes the
    geometry, the kernel as applied and the method, so that every piece is
    computed as the whole would be.

    Examples
    --------
    >>> plan = plan_convolution((512, 512, 3), np.ones((3, 3)), stride=2)
    >>> plan.geometry.output_shape, plan.method
    ((256, 256, 3), <Method.DIRECT: 'direct'>)
    """
    checked = _check_settings(kernel, padding=padding, pad_mode=pad_mode, pad_value=pad_value,
                              stride=stride, dilation=dilation, flip=flip, method=method,
                              dtype=dtype)  # fmt: skip
    return checked.plan(tuple(shape))


def _check_settings(
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
) -> _Settings:
    compute = _compute_dtype(dtype)
    requested = choose(Method, method, "method")
    mode = canonical_pad_mode(pad_mode)
    fill = check_pad_value(pad_value, compute)
    weights = _as_real_array("kernel", kernel)
    if not np.isfinite(weights).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(weights))[0])
        raise ParameterError(f"kernel must be finite, got {weights[where]} at index {where}")
    return _Settings(weights, compute, padding, mode, fill, stride, dilation, flip, requested)


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
