"""Where a kernel goes: padding, stride, dilation and the output-shape formula.

Pure Python, no NumPy, so that a shape can be planned, checked and reported
without touching any pixels.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import SupportsIndex, TypeAlias, TypeGuard

from convcli.choices import PaddingWord
from convcli.errors import ParameterError
from convcli.limits import MAX_GEOMETRY as LARGEST

PaddingSpec: TypeAlias = str | int | Sequence[int | Sequence[int]]
AxisInts: TypeAlias = int | Sequence[int]


@dataclass(frozen=True)
class Geometry:
    """The resolved, per-axis parameters of one convolution.

    Attributes
    ----------
    input_shape : tuple of int
        Full input shape: the spatial axes first, then any channel axes.
    kernel_shape : tuple of int
        Kernel shape; its length is the number of spatial axes.
    padding : tuple of (int, int)
        ``(before, after)`` padding per spatial axis.
    stride, dilation : tuple of int
        One value per spatial axis.
    """

    input_shape: tuple[int, ...]
    kernel_shape: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def spatial_ndim(self) -> int:
        """Number of spatial axes (the kernel's number of dimensions)."""
        return len(self.kernel_shape)

    @property
    def channel_shape(self) -> tuple[int, ...]:
        """Shape of the trailing channel axes, filtered independently."""
        return self.input_shape[self.spatial_ndim :]

    @cached_property  # read by every band
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the result, channel axes included."""
        spatial = (_axis_output(*self._axis(i)) for i in range(self.spatial_ndim))
        return (*spatial, *self.channel_shape)

    def formula(self, axis: int, textbook: bool = False) -> str:
        """Write out the output-size formula of one spatial axis with its numbers.

        ``textbook`` writes the floor and the product as a textbook does
        (for ``convcli explain``); the default is plain ASCII (for reports).

        Examples
        --------
        >>> g = resolve_geometry((5,), (3,), padding=1, stride=2)
        >>> g.formula(0)
        'floor((5 + 1 + 1 - 1*(3 - 1) - 1) / 2) + 1 = 3'
        >>> g.formula(0, textbook=True)
        '⌊(5 + 1 + 1 - 1·(3 - 1) - 1) / 2⌋ + 1 = 3'
        """
        n, (before, after), k, s, d = self._axis(axis)
        size = _axis_output(n, (before, after), k, s, d)
        floor, close, times = ("⌊", "⌋", "·") if textbook else ("floor(", ")", "*")
        return (
            f"{floor}({n} + {before} + {after} - {d}{times}({k} - 1) - 1) / {s}{close} + 1 = {size}"
        )

    def _axis(self, axis: int) -> tuple[int, tuple[int, int], int, int, int]:
        return (
            self.input_shape[axis],
            self.padding[axis],
            self.kernel_shape[axis],
            self.stride[axis],
            self.dilation[axis],
        )


def _axis_output(n: int, pad: tuple[int, int], k: int, stride: int, dilation: int) -> int:
    # PyTorch's formula; Python's // floors, so a too-small input gives <= 0.
    return (n + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def resolve_geometry(
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    padding: PaddingSpec = "same",
    stride: AxisInts = 1,
    dilation: AxisInts = 1,
) -> Geometry:
    """Check and resolve the parameters of a convolution to per-axis values.

    Parameters
    ----------
    input_shape : sequence of int
        Shape of the input; its first ``len(kernel_shape)`` axes are spatial.
    kernel_shape : sequence of int
        Shape of the kernel.
    padding : {'valid', 'same', 'full'} or int or sequence
        ``'valid'``: none. ``'same'``: ``dilation*(k-1)`` in total per axis,
        the smaller half before, so the output has ``ceil(n/stride)`` elements.
        ``'full'``: ``dilation*(k-1)`` on both sides. An int pads every side;
        a sequence gives one entry per spatial axis, each an int (both sides)
        or a ``(before, after)`` pair.
    stride, dilation : int or sequence of int
        One value for all spatial axes, or one per axis; each >= 1.

    Returns
    -------
    Geometry
        The resolved parameters and the output shape.

    Raises
    ------
    ParameterError
        If a parameter is invalid or the output would be empty.

    Examples
    --------
    >>> g = resolve_geometry((480, 640, 3), (3, 3), padding="same", stride=2)
    >>> g.padding, g.output_shape
    (((1, 1), (1, 1)), (240, 320, 3))
    """
    kernel_shape = _shape("kernel", kernel_shape)
    input_shape = _shape("input", input_shape)
    ndim = len(kernel_shape)
    if ndim == 0:
        raise ParameterError("kernel must have at least 1 dimension, got a scalar")
    if len(input_shape) < ndim:
        raise ParameterError(
            f"kernel has {ndim} dimensions but the input only {len(input_shape)} "
            f"(input shape {input_shape}, kernel shape {kernel_shape})"
        )
    for name, shape in (("kernel", kernel_shape), ("input", input_shape)):
        if 0 in shape:
            raise ParameterError(f"{name} is empty: shape {shape}")

    strides = per_axis_ints("stride", stride, ndim)
    dilations = per_axis_ints("dilation", dilation, ndim)
    pads = _resolve_padding(padding, kernel_shape, dilations)
    geometry = Geometry(input_shape, kernel_shape, pads, strides, dilations)
    for axis, size in enumerate(geometry.output_shape[:ndim]):
        if size <= 0:
            n, k, d = input_shape[axis], kernel_shape[axis], dilations[axis]
            before, after = pads[axis]
            raise ParameterError(
                f"output would be empty along axis {axis}: {geometry.formula(axis)}; "
                f"the dilated kernel spans {d * (k - 1) + 1} but the padded input "
                f"only {n + before + after}"
            )
    return geometry


def output_shape(
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    padding: PaddingSpec = "same",
    stride: AxisInts = 1,
    dilation: AxisInts = 1,
) -> tuple[int, ...]:
    """Shape that :func:`convcli.convolve` returns, computed without any pixels.

    Per spatial axis, ``floor((n + before + after - dilation*(k-1) - 1) / stride) + 1``;
    the channel axes of the input are kept.

    Parameters
    ----------
    input_shape, kernel_shape : sequence of int
        As for :func:`resolve_geometry`.
    padding, stride, dilation
        As for :func:`resolve_geometry`.

    Returns
    -------
    tuple of int
        The output shape, channel axes included.

    Raises
    ------
    ParameterError
        If a parameter is invalid or the output would be empty.

    Examples
    --------
    >>> output_shape((8, 8), (3, 3), padding="valid")
    (6, 6)
    >>> output_shape((480, 640, 3), (5, 5), padding=2, stride=2)
    (240, 320, 3)
    >>> output_shape((100,), (3,), padding="full", dilation=4)
    (108,)
    """
    return resolve_geometry(
        input_shape, kernel_shape, padding=padding, stride=stride, dilation=dilation
    ).output_shape


def _is_int(value: object) -> TypeGuard[SupportsIndex]:
    # bool is an int to Python, but True as a stride is a mistake, not a 1.
    return isinstance(value, SupportsIndex) and not isinstance(value, bool)


def _shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    if not all(_is_int(size) and operator.index(size) >= 0 for size in shape):
        raise ParameterError(f"{name} shape must be non-negative ints, got {tuple(shape)}")
    return tuple(operator.index(size) for size in shape)


def per_axis_ints(name: str, value: AxisInts, ndim: int) -> tuple[int, ...]:
    """Return ``value`` (one int for every axis, or ``ndim`` ints) as ``ndim`` ints of 1 or more."""
    if _is_int(value):
        values = (operator.index(value),) * ndim
    elif isinstance(value, tuple | list) and len(value) == ndim and all(map(_is_int, value)):
        values = tuple(map(operator.index, value))
    else:
        raise ParameterError(
            f"{name} must be an int or {ndim} ints (one per spatial axis), got {value!r}",
            parameter=name,
        )
    shown = values[0] if _is_int(value) else values
    if min(values) < 1:
        raise ParameterError(f"{name} must be >= 1, got {shown}", parameter=name)
    if max(values) > LARGEST:
        raise ParameterError(f"{name} must be at most {LARGEST}, got {shown}", parameter=name)
    return values


def _resolve_padding(
    padding: PaddingSpec, kernel_shape: tuple[int, ...], dilations: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    spans = [d * (k - 1) for k, d in zip(kernel_shape, dilations, strict=True)]
    ndim = len(kernel_shape)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            return tuple((span // 2, span - span // 2) for span in spans)
        if padding == "full":
            return tuple((span, span) for span in spans)
        raise ParameterError(
            f"padding must be one of {', '.join(PaddingWord)}, an int, or one entry "
            f"per spatial axis, got {padding!r}",
            parameter="padding",
        )
    pads = _explicit_padding(padding, ndim)
    shown = padding if _is_int(padding) else pads
    if min(min(pair) for pair in pads) < 0:
        raise ParameterError(f"padding must be >= 0, got {shown}", parameter="padding")
    if max(max(pair) for pair in pads) > LARGEST:
        raise ParameterError(f"padding must be at most {LARGEST}, got {shown}", parameter="padding")
    return pads


def _explicit_padding(padding: PaddingSpec, ndim: int) -> tuple[tuple[int, int], ...]:
    if _is_int(padding):
        size = operator.index(padding)
        return ((size, size),) * ndim
    if isinstance(padding, tuple | list) and len(padding) == ndim:
        pads = []
        for entry in padding:
            if _is_int(entry):
                pads.append((operator.index(entry), operator.index(entry)))
            elif isinstance(entry, tuple | list) and len(entry) == 2 and all(map(_is_int, entry)):
                pads.append((operator.index(entry[0]), operator.index(entry[1])))
            else:
                break
        else:
            return tuple(pads)
    raise ParameterError(
        f"padding must be one of {', '.join(PaddingWord)}, an int, or {ndim} entries "
        f"(one per spatial axis, each an int or a (before, after) pair), got {padding!r}",
        parameter="padding",
    )
