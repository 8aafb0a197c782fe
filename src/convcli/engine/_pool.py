"""A layer's other stages: pooling and activations, as PyTorch computes them.

Pooling reduces the first two axes of ``(H, W[, C...])`` (channels last, as
the layer's feature maps are), each channel on its own, as ``max_pool2d``
and ``avg_pool2d`` do with their defaults (``dilation=1``,
``ceil_mode=False``). Activations act on each value. Floats of 64 bits
stay so; every other real input becomes float32.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from convcli.engine._api import convolve
from convcli.engine._borders import pad
from convcli.engine._direct import tap_window
from convcli.engine._geometry import (
    AxisInts,
    Geometry,
    PaddingSpec,
    per_axis_ints,
    resolve_geometry,
)
from convcli.engine._plan import as_real_array
from convcli.errors import ParameterError

Floats = npt.NDArray[np.floating]


def max_pool(
    x: npt.ArrayLike,
    kernel_size: AxisInts,
    stride: AxisInts | None = None,
    padding: PaddingSpec = 0,
) -> Floats:
    """Return the largest value of each window, as ``torch.nn.functional.max_pool2d``.

    ``stride`` is ``kernel_size`` unless given; the padding lies outside
    every window's choice (it is minus infinity), and may be at most half
    the window on each side, as in PyTorch. NaN in a window gives NaN.

    Examples
    --------
    >>> max_pool(np.arange(16).reshape(4, 4), 2)
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> max_pool(np.full((3, 3), -1), 2, padding=1)  # the padding is never the largest
    array([[-1., -1.],
           [-1., -1.]], dtype=float32)
    """
    values = _floats(x)
    geometry = _pool_geometry(values.shape, kernel_size, stride, padding)
    padded = pad(values, geometry.padding, "zero", -np.inf)
    out = np.full(geometry.output_shape, -np.inf, dtype=values.dtype)
    for window in _windows(padded, geometry):
        np.maximum(out, window, out=out)  # NaN in any window stays NaN, as in PyTorch
    return out


def avg_pool(
    x: npt.ArrayLike,
    kernel_size: AxisInts,
    stride: AxisInts | None = None,
    padding: PaddingSpec = 0,
    *,
    count_include_pad: bool = True,
) -> Floats:
    """Return the mean of each window, as ``torch.nn.functional.avg_pool2d``.

    The padding is zeros; with ``count_include_pad`` (PyTorch's default)
    they count in every mean, so each sum is divided by ``kh * kw``;
    without it, by the number of the window's values that lie in the input.

    Examples
    --------
    >>> avg_pool(np.arange(16).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    >>> avg_pool([[1, 1], [1, 1]], 2, stride=1, padding=1)
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]], dtype=float32)
    >>> avg_pool([[1, 1], [1, 1]], 2, stride=1, padding=1, count_include_pad=False)[0]
    array([1., 1., 1.], dtype=float32)
    """
    values = _floats(x)
    dtype = values.dtype
    geometry = _pool_geometry(values.shape, kernel_size, stride, padding)
    sums = convolve(values, np.ones(geometry.kernel_shape), padding=geometry.padding,
                    pad_mode="zero", stride=geometry.stride, dtype=dtype)  # fmt: skip
    if count_include_pad:
        return sums / dtype.type(np.prod(geometry.kernel_shape))
    axes = zip(geometry.input_shape, geometry.kernel_shape, geometry.padding, geometry.stride,
               strict=False)  # fmt: skip
    per_axis = [  # how many of each window's rows, and of its columns, lie in the input
        convolve(np.ones(n), np.ones(k), padding=[sides], pad_mode="zero", stride=s, dtype=dtype)
        for n, k, sides, s in axes
    ]
    counts: Floats = np.multiply.outer(*per_axis)
    divisor = counts.reshape(counts.shape + (1,) * (values.ndim - 2))
    return (sums / divisor).astype(dtype, copy=False)


def _pool_geometry(
    shape: tuple[int, ...], kernel_size: AxisInts, stride: AxisInts | None, padding: PaddingSpec
) -> Geometry:
    """Resolve a pool's window over the first two axes; refuse padding over half a window."""
    if len(shape) < 2:
        raise ParameterError(f"input must be (H, W[, C...]) to pool, got shape {shape}")
    window = per_axis_ints("kernel_size", kernel_size, 2)
    step = window if stride is None else stride
    geometry = resolve_geometry(shape, window, padding=padding, stride=step)
    for (before, after), size in zip(geometry.padding, window, strict=True):
        if max(before, after) > size // 2:
            raise ParameterError(
                f"padding must be at most half the pool's window (kernel_size={window}), "
                f"got {padding!r}",
                parameter="padding",
            )
    return geometry


def _windows(padded: Floats, geometry: Geometry) -> Iterator[Floats]:
    """Yield, for each position in the window, the padded values it takes at every output."""
    steps = tuple(zip(geometry.output_shape[:2], geometry.stride, geometry.dilation, strict=True))
    for tap in itertools.product(*(range(k) for k in geometry.kernel_shape)):
        yield padded[tap_window(tap, steps)]


def relu(x: npt.ArrayLike) -> Floats:
    """``max(x, 0)``, as ``torch.relu`` (NaN stays NaN).

    >>> relu([-2, 0, 3])
    array([0., 0., 3.], dtype=float32)
    """
    values = _floats(x)
    return np.where(values < 0, 0, values).astype(values.dtype, copy=False)


def leaky_relu(x: npt.ArrayLike, slope: float = 0.01) -> Floats:
    """``x`` where positive, ``slope * x`` elsewhere, as ``torch.nn.functional.leaky_relu``.

    >>> leaky_relu([-2, 0, 3], slope=0.5)
    array([-1.,  0.,  3.], dtype=float32)
    """
    values = _floats(x)
    if isinstance(slope, bool) or not isinstance(slope, int | float) or not np.isfinite(slope):
        raise ParameterError(f"slope must be a finite number, got {slope!r}", parameter="slope")
    return np.where(values < 0, values * values.dtype.type(slope), values).astype(values.dtype)


def tanh(x: npt.ArrayLike) -> Floats:
    """Return the hyperbolic tangent, as ``torch.tanh``.

    >>> tanh([0, 100])
    array([0., 1.], dtype=float32)
    """
    return np.tanh(_floats(x))


def sigmoid(x: npt.ArrayLike) -> Floats:
    """``1 / (1 + exp(-x))``, as ``torch.sigmoid``, without overflow at either end.

    >>> sigmoid([-200, 0, 200])
    array([0. , 0.5, 1. ], dtype=float32)
    """
    values = _floats(x)
    small: Floats = np.exp(-np.abs(values))  # at most 1: exp(-x) for x >= 0, exp(x) below
    numerator: Floats = np.where(values >= 0, 1, small)
    return (numerator / (1 + small)).astype(values.dtype, copy=False)


def absolute(x: npt.ArrayLike) -> Floats:
    """``|x|``, as ``torch.abs``: both signs of an edge filter's response.

    >>> absolute([-2, 0, 3])
    array([2., 0., 3.], dtype=float32)
    """
    return np.abs(_floats(x))


def _floats(x: npt.ArrayLike) -> Floats:
    values = as_real_array("input", x)
    return values.astype(np.float64 if values.dtype == np.float64 else np.float32, copy=False)
