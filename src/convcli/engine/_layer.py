"""A convolutional layer: cross-correlation summed over the input's channels, as PyTorch's conv2d.

The input is ``(H, W, C_in)``, channels last as convcli's images are (an
``(H, W)`` input is one channel); the weights are in PyTorch's layout,
``(C_out, C_in/groups, kh, kw)``, so a trained network's are used as
exported; the output is ``(H', W', C_out)``, each feature map a channel::

    out[y, x, o] = bias[o] + sum over c, i, j of
                   xp[y*s0 + i*d0, x*s1 + j*d1, g*C_in/groups + c] * weights[o, c, i, j]

with ``g = o // (C_out/groups)`` the group of filter ``o`` and ``xp`` the
padded input. ``auto`` lays each output's windows on every channel side by
side (im2col) for a band of output rows at a time and multiplies them by
the weights as one ``(kh*kw*C_in/groups, C_out/groups)`` matrix per group:
BLAS sums over the taps and channels of every filter at once, and memory
stays at one band's columns. A named method sums the engine's correlations
of each filter's channels with that method instead.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from convcli.choices import Channels, Method, PadMode, choose
from convcli.engine._api import convolve
from convcli.engine._bands import in_bands, padded_band
from convcli.engine._geometry import Geometry, resolve_geometry
from convcli.engine._plan import Convolution, as_real_array
from convcli.errors import ParameterError

Floats = npt.NDArray[np.floating]

# Windows per matrix product: every product has this one shape, so an output's sum is the same
# wherever it lies (see the matrix method's _product). One thread of BLAS multiplied 256 to 4096
# windows alike for a first layer (147-long columns by 64 filters) and a second (1600 by 64);
# 512 was best or near it with 8 filters and with 9-long columns (benchmarks/README.md).
CALL = 512
SPARE = 8  # products a band holds at least
COLUMNS_BYTES = 4 << 20  # one band's im2col, unless SPARE products are more


@dataclass(frozen=True)
class LayerPlan:
    """A layer, checked and resolved for an input of known shape."""

    taps: Floats  # (C_out, C_in/groups, kh, kw) in the compute dtype, flipped if asked
    bias: Floats | None  # (C_out,)
    groups: int
    geometry: Geometry  # of the input (H, W, C_in) and the kernel's (kh, kw)
    pad_mode: PadMode
    pad_value: float
    method: Method  # auto: im2col and matrix products; else the engine's method per channel
    single: bool  # a 3-D kernel: one feature map, returned without a channel axis

    @property
    def maps_shape(self) -> tuple[int, ...]:
        """``(H', W', C_out)``: the feature maps, each a channel."""
        return (*self.geometry.output_shape[:2], self.taps.shape[0])

    def matrix(self) -> Floats:
        """Return the weights as one ``(kh*kw*C_in/groups, C_out/groups)`` matrix per group."""
        out, per_group, kh, kw = self.taps.shape
        grouped = self.taps.reshape(self.groups, out // self.groups, per_group, kh, kw)
        columns = grouped.transpose(0, 3, 4, 2, 1)  # each row of the matrix: one tap, one channel
        return np.ascontiguousarray(columns.reshape(self.groups, kh * kw * per_group, -1))


def convolve_channels(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    /,
    *,
    channels: str = "each",
    bias: npt.ArrayLike | None = None,
    groups: int = 1,
    threads: int | None = None,
    **settings: Any,
) -> Floats:
    """Written out below, from the engine's :func:`convolve` and the layer's parameters."""
    if not layer_asked(channels, bias, groups):
        return convolve(x, kernel, threads=threads, **settings)
    return convolve_layer(x, Convolution(kernel, **settings), bias, groups, threads)


def layer_asked(channels: str, bias: npt.ArrayLike | None, groups: int) -> bool:
    """Say whether ``channels`` asks for a layer; refuse ``bias`` or ``groups`` without one."""
    if choose(Channels, channels, "channels") is Channels.SUM:
        return True
    for name, unset in (("bias", bias is None), ("groups", groups == 1)):
        if not unset:
            message = f"{name} is a layer's: give channels='sum' with it"
            raise ParameterError(message, parameter=name)
    return False


def convolve_layer(
    x: npt.ArrayLike,
    asked: Convolution,
    bias: npt.ArrayLike | None = None,
    groups: int = 1,
    threads: int | None = None,
) -> Floats:
    """Apply ``asked`` (its kernel the layer's weights) as a layer; see :func:`convolve_channels`.

    Examples
    --------
    >>> rgb = np.zeros((2, 3, 3)); rgb[..., 0] = 1; rgb[..., 2] = 4
    >>> filters = np.ones((2, 3, 1, 1)); filters[1, 2] = -1  # R+G+B, R+G-B
    >>> convolve_layer(rgb, Convolution(filters), bias=[0, 10])[0, 0]
    array([5., 7.], dtype=float32)
    """
    signal = as_real_array("input", x)
    plan = plan_layer(asked, signal.shape, bias, groups)
    if signal.ndim == 2:
        signal = signal[..., np.newaxis]
    if plan.method is Method.AUTO:
        out = _by_matrix_products(plan, signal, threads)
    else:
        out = _by_channel(plan, signal, threads)
    return out[..., 0] if plan.single else out


def plan_layer(
    asked: Convolution, shape: tuple[int, ...], bias: npt.ArrayLike | None, groups: int
) -> LayerPlan:
    """Check a layer's arguments (the settings first, as :func:`convolve` does) for ``shape``."""
    checked = asked.checked()
    weights = checked.weights
    if weights.ndim not in (3, 4):
        raise ParameterError(
            f"kernel must be (C_in, kh, kw) or (C_out, C_in/groups, kh, kw) with channels='sum', "
            f"got shape {weights.shape}",
            parameter="kernel",
        )
    if len(shape) not in (2, 3):
        raise ParameterError(
            f"input must be (H, W) or (H, W, C_in) with channels='sum', got shape {shape}",
            parameter="input",
        )
    single = weights.ndim == 3
    taps = (weights[np.newaxis] if single else weights).astype(checked.compute)
    count = _check_groups(groups, taps.shape, shape)
    geometry = resolve_geometry((*shape[:2], count), taps.shape[2:], padding=checked.padding,
                                stride=checked.stride, dilation=checked.dilation)  # fmt: skip
    if checked.flip:
        taps = np.flip(taps, axis=(2, 3))
    offsets = None if bias is None else _check_bias(bias, taps.shape[0], checked.compute)
    return LayerPlan(taps, offsets, groups, geometry, checked.pad_mode, checked.pad_value,
                     checked.method, single)  # fmt: skip


def _check_groups(groups: int, weights: tuple[int, ...], shape: tuple[int, ...]) -> int:
    """Return the input's channel count if the weights and ``groups`` fit it."""
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ParameterError(f"groups must be an int >= 1, got {groups!r}", parameter="groups")
    count = shape[2] if len(shape) == 3 else 1
    filters, per_group = weights[:2]
    if count % groups or filters % groups:
        raise ParameterError(
            f"groups must divide the input's {count} channels and the kernel's {filters} "
            f"filters, got {groups}",
            parameter="groups",
        )
    if per_group * groups != count:
        each = f"{per_group} per group, groups={groups}; " if groups > 1 else ""
        raise ParameterError(
            f"kernel takes {per_group * groups} input channels ({each}kernel shape {weights}) "
            f"but the input has {count} (shape {shape})",
            parameter="kernel",
        )
    return count


def _check_bias(bias: npt.ArrayLike, filters: int, dtype: np.dtype[np.floating]) -> Floats:
    offsets = as_real_array("bias", bias)
    if offsets.shape != (filters,):
        raise ParameterError(
            f"bias must hold one number per filter, shape ({filters},), got shape {offsets.shape}",
            parameter="bias",
        )
    if not np.isfinite(offsets).all():
        raise ParameterError("bias must be finite", parameter="bias")
    return offsets.astype(dtype)


def _by_matrix_products(
    plan: LayerPlan, signal: npt.NDArray[np.generic], threads: int | None
) -> Floats:
    """Compute the layer a band of output rows at a time, in threads when asked."""
    out = np.empty(plan.maps_shape, dtype=plan.taps.dtype)
    matrix = plan.matrix()
    rows = band_rows(plan.geometry, plan.taps.itemsize)

    def band(start: int, rows: int) -> Floats:
        padded, _ = padded_band(plan, signal, start, rows, plan.taps.dtype)
        rows_out = out[start : start + rows]
        _band(plan, matrix, padded, rows_out)
        return rows_out

    for _ in in_bands(plan.geometry, band, rows, threads):
        pass  # each band writes its rows of out
    return out


def band_rows(geometry: Geometry, itemsize: int) -> int:
    """Output rows per band: its columns near ``COLUMNS_BYTES``, and at least ``SPARE`` products.

    A band's last product is padded with zeros to the one shape: a band of
    ``SPARE`` products or more wastes at most one in ``SPARE``.
    """
    kh, kw = geometry.kernel_shape
    window = kh * kw * geometry.input_shape[2] * itemsize  # one window's column, in bytes
    windows = max(COLUMNS_BYTES // window, SPARE * CALL)
    return -(-windows // geometry.output_shape[1])


def _band(plan: LayerPlan, matrix: Floats, band: Floats, out: Floats) -> None:
    """Write one band's output rows: its columns (im2col) by each group's matrix, plus the bias."""
    g, groups = plan.geometry, plan.groups
    rows, width = out.shape[:2]
    kh, kw = g.kernel_shape
    per_group = g.input_shape[2] // groups
    r, c, item = band.strides[0], band.strides[1], band.itemsize
    strides = (per_group * item, g.stride[0] * r, g.stride[1] * c, g.dilation[0] * r,
               g.dilation[1] * c, item)  # fmt: skip
    shape = (groups, rows, width, kh, kw, per_group)
    windows = as_strided(band, shape=shape, strides=strides, writeable=False)
    columns = windows.reshape(groups, rows * width, -1)  # the copy: one window a row
    results = out.reshape(rows * width, groups, -1).transpose(1, 0, 2)
    _products(columns, matrix, results)
    if plan.bias is not None:
        out += plan.bias


def _products(columns: Floats, matrix: Floats, out: Floats) -> None:
    """Multiply the columns by the matrix into ``out``, group by group, in products of one shape."""
    count = columns.shape[1]
    whole = count - count % CALL
    for start in range(0, whole, CALL):
        np.matmul(columns[:, start : start + CALL], matrix, out=out[:, start : start + CALL])
    if whole < count:  # the rest, padded with zeros to the one shape
        rest = np.zeros((columns.shape[0], CALL, columns.shape[2]), dtype=columns.dtype)
        rest[:, : count - whole] = columns[:, whole:]
        out[:, whole:] = np.matmul(rest, matrix)[:, : count - whole]


def _by_channel(plan: LayerPlan, signal: npt.NDArray[np.generic], threads: int | None) -> Floats:
    """Sum the engine's correlation of each filter's channels, by the method asked."""
    g = plan.geometry
    out = np.zeros(plan.maps_shape, dtype=plan.taps.dtype)
    filters, per_group = plan.taps.shape[:2]
    for o in range(filters):
        first = o // (filters // plan.groups) * per_group  # the group's first input channel
        for c in range(per_group):
            out[..., o] += convolve(
                signal[..., first + c], plan.taps[o, c], padding=g.padding, pad_mode=plan.pad_mode,
                pad_value=plan.pad_value, stride=g.stride, dilation=g.dilation,
                method=plan.method, dtype=plan.taps.dtype, threads=threads,
            )  # fmt: skip
    if plan.bias is not None:
        out += plan.bias
    return out


_LAYER_PARAMETERS = """    channels : {'each', 'sum'}, optional
        ``each`` filters each channel on its own (the above). ``sum`` is a
        layer of a convolutional network, PyTorch's ``conv2d``: ``x`` is
        ``(H, W, C_in)`` (channels last; ``(H, W)`` is one channel), the
        kernel ``(C_in, kh, kw)`` gives one feature map ``(H', W')`` and
        ``(C_out, C_in/groups, kh, kw)`` (PyTorch's layout) gives ``C_out``,
        ``(H', W', C_out)``, each the sum over the channels of the filter's
        cross-correlations. ``method='auto'`` multiplies the windows of
        every channel by all the filters at once (im2col and BLAS); a named
        method sums that method's correlation of each channel.
    bias : array_like, shape (C_out,), optional
        With ``channels='sum'``: added to each filter's map.
    groups : int, optional
        With ``channels='sum'``: the channels and filters in ``groups``
        equal groups, each filter summing over its group's channels only;
        ``groups=C_in`` is a depthwise layer.
"""


def _widened(function: Any) -> None:
    """Give ``function`` the engine's ``convolve``'s signature and text, and the layer's."""
    signature = inspect.signature(convolve)
    layer = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, default, kind in (
            ("channels", "each", "str"),
            ("bias", None, "ArrayLike | None"),
            ("groups", 1, "int"),
        )
    ]
    x, kernel, *keywords = signature.parameters.values()
    given = [p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in (x, kernel)]
    function.__signature__ = signature.replace(parameters=[*given, *keywords, *layer])
    text = convolve.__doc__ or ""
    returns = "\n    Returns\n"
    function.__doc__ = text.replace("\n" + returns, "\n" + _LAYER_PARAMETERS + returns, 1)
    function.__name__ = function.__qualname__ = convolve.__name__  # it is the engine's, widened


_widened(convolve_channels)
