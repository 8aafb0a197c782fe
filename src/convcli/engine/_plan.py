"""A convolution as asked, and its plan: the arguments checked once, cheapest first."""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.choices import Method, PadMode, choose
from convcli.engine._borders import canonical_pad_mode, check_pad_value
from convcli.engine._geometry import AxisInts, Geometry, PaddingSpec, resolve_geometry
from convcli.engine._integer import IntegerTaps, integer_taps
from convcli.engine._methods import choose_method, estimate_costs
from convcli.errors import ParameterError

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Convolution:
    """A convolution as asked: the kernel and the keywords of :func:`convcli.convolve` but threads.

    The one place these settings are declared: :func:`convcli.convolve`
    writes them out as its signature, and every other caller builds one of
    these. Nothing is checked until :meth:`plan`.

    Examples
    --------
    >>> plan = Convolution(np.ones((3, 3)), stride=2).plan((512, 512, 3))
    >>> plan.geometry.output_shape, plan.method
    ((256, 256, 3), <Method.SEPARABLE: 'separable'>)
    """

    kernel: npt.ArrayLike
    _: KW_ONLY
    padding: PaddingSpec = "same"
    pad_mode: str = "reflect"
    pad_value: float = 0.0
    stride: AxisInts = 1
    dilation: AxisInts = 1
    flip: bool = False
    method: str = "auto"
    dtype: npt.DTypeLike = np.float32
    integer: bool | None = None

    def plan(self, shape: tuple[int, ...]) -> ConvolutionPlan:
        """Check every argument (cheapest first) and resolve them for an input of ``shape``, unread.

        The plan fixes the geometry, the kernel as applied and the method,
        so that every band, tile or frame of that shape is computed as the
        whole would be, with nothing checked again.

        Raises
        ------
        ParameterError
            As :func:`convcli.convolve` does, with the same messages.
        """
        return self.checked().plan(tuple(shape))

    def checked(self) -> Checked:
        """Check every argument that does not depend on the input, cheapest first."""
        compute = _compute_dtype(self.dtype)
        requested = choose(Method, self.method, "method")
        mode = canonical_pad_mode(self.pad_mode)
        fill = check_pad_value(self.pad_value, compute)
        weights = as_real_array("kernel", self.kernel)
        if not np.isfinite(weights).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(weights))[0])
            raise ParameterError(f"kernel must be finite, got {weights[where]} at index {where}")
        integer = requested == Method.AUTO if self.integer is None else bool(self.integer)
        return Checked(weights, compute, self.padding, mode, fill, self.stride, self.dilation,
                       self.flip, requested, integer)  # fmt: skip


@dataclass(frozen=True)
class ConvolutionPlan:
    """One convolution, checked and resolved for an input of known shape: what each band needs."""

    taps: npt.NDArray[np.floating]  # the kernel in the compute dtype, flipped if asked
    geometry: Geometry
    pad_mode: PadMode
    pad_value: float
    method: Method  # the algorithm chosen, never auto
    integer: IntegerTaps | None = None  # the kernel in integers, where the exact path may run

    def sum_type(self, dtype: np.dtype[Any]) -> np.dtype[Any] | None:
        """Return the integer type inputs of ``dtype`` are summed in (exact), or None: float."""
        if self.integer is None:
            return None
        return self.integer.sum_type(dtype, self.sum_fill)

    def sum_range(self, dtype: np.dtype[Any]) -> tuple[int, int]:
        """Return the least and greatest integer sum for inputs of ``dtype`` (:meth:`sum_type`)."""
        assert self.integer is not None, "only a plan with integer weights has sums"
        return self.integer.sum_range(dtype, int(self.sum_fill))

    @property
    def sum_fill(self) -> float:
        """The sample beyond the edges that is no input's: ``pad_value`` in ``zero`` mode; 0."""
        return self.pad_value if self.pad_mode == PadMode.ZERO else 0.0

    def check_input(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        """Refuse an input this plan was not made for: other than real numbers, or another shape."""
        _check_real("input", dtype)
        if tuple(shape) != self.geometry.input_shape:
            raise ParameterError(
                f"input must have the shape the plan was made for, "
                f"{self.geometry.input_shape}, got {tuple(shape)}"
            )


@dataclass(frozen=True)
class Checked:
    """Every argument but the input's, checked: what does not depend on the input's shape."""

    weights: npt.NDArray[np.generic]
    compute: np.dtype[np.floating]
    padding: PaddingSpec
    pad_mode: PadMode
    pad_value: float
    stride: AxisInts
    dilation: AxisInts
    flip: bool
    method: Method
    integer: bool

    def plan(self, shape: tuple[int, ...]) -> ConvolutionPlan:
        geometry = resolve_geometry(shape, self.weights.shape, padding=self.padding,
                                    stride=self.stride, dilation=self.dilation)  # fmt: skip
        taps = self.weights.astype(self.compute)
        if self.flip:
            taps = np.flip(taps)
        chosen = choose_method(self.method, taps, geometry)
        exact = None
        if self.integer:
            weights = np.flip(self.weights) if self.flip else self.weights
            cost = estimate_costs(taps, geometry).get(chosen, math.inf)
            exact = integer_taps(weights.astype(np.float64), cost)
        return ConvolutionPlan(taps, geometry, self.pad_mode, self.pad_value, chosen, exact)


def check_arguments(
    x: npt.ArrayLike, asked: Convolution
) -> tuple[ConvolutionPlan, npt.NDArray[np.generic]]:
    """Check every argument of :func:`convolve`, cheapest first; return the plan and the input."""
    checked = asked.checked()
    signal = as_real_array("input", x)
    return checked.plan(signal.shape), signal


def _compute_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating]:
    try:
        compute = np.dtype(dtype)
    except TypeError:
        compute = np.dtype(object)  # not a dtype at all: refused below
    if compute not in DTYPES or dtype is None:  # np.dtype(None) is float64
        raise ParameterError(f"dtype must be float32 or float64, got {dtype!r}")
    return compute  # type: ignore[return-value]


def as_real_array(name: str, value: npt.ArrayLike) -> npt.NDArray[np.generic]:
    """Return ``value`` as an array of real numbers; refuse ragged lists and other dtypes."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ParameterError(f"{name} must be a rectangular array of numbers: {error}") from None
    _check_real(name, array.dtype)
    return array


def _check_real(name: str, dtype: np.dtype[Any]) -> None:
    if dtype.kind not in "biuf":
        raise ParameterError(f"{name} must hold real numbers, got dtype {dtype}")
