"""`convolve`: check the arguments once, pad once, run one algorithm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.engine.borders import canonical_pad_mode, check_pad_value, pad
from convcli.engine.direct import correlate_direct
from convcli.engine.geometry import AxisInts, Geometry, PaddingSpec, resolve_geometry
from convcli.errors import ParameterError

Algorithm = Callable[
    [npt.NDArray[np.floating], npt.NDArray[np.floating], Geometry], npt.NDArray[np.floating]
]

# "auto" picks among these; for now direct is the only algorithm.
ALGORITHMS: dict[str, Algorithm] = {"direct": correlate_direct}
METHODS = ("auto", *ALGORITHMS)
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def choose_method(method: str, kernel_shape: tuple[int, ...], geometry: Geometry) -> str:
    """Return the algorithm ``method`` stands for (``auto`` picks one).

    Examples
    --------
    >>> from convcli.engine.geometry import resolve_geometry
    >>> choose_method("auto", (3, 3), resolve_geometry((64, 64), (3, 3)))
    'direct'
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return "direct" if method == "auto" else method


def convolve(
    x: npt.ArrayLike,
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
) -> npt.NDArray[np.floating]:
    """Cross-correlate (or, with ``flip``, convolve) an array with a kernel.

    ``out[i] = sum over j of xp[i*stride + j*dilation] * kernel[j]``, with
    ``i`` and ``j`` multi-indices over the spatial axes and ``xp`` the padded
    input.

    Parameters
    ----------
    x : array_like, shape (N0, ..., Nd-1[, C...])
        Signal, image or volume. The first ``kernel.ndim`` axes are spatial;
        any trailing axes are channels, each filtered independently.
        Integers are converted to ``dtype`` first, so they never wrap around.
    kernel : array_like, shape (K0, ..., Kd-1)
        Finite real numbers; any size, even or odd, rectangular.
    padding : {'same', 'valid', 'full'} or int or sequence, optional
        See :func:`convcli.engine.geometry.resolve_geometry`. ``'same'``
        centres odd kernels; an even kernel is anchored at the element
        before its centre, as in PyTorch.
    pad_mode : str, optional
        ``zero`` (alias ``constant``), ``reflect``, ``symmetric``,
        ``replicate`` (alias ``edge``) or ``wrap`` (alias ``circular``).
    pad_value : float, optional
        The fill of ``zero`` mode.
    stride, dilation : int or sequence of int, optional
        Per spatial axis, each >= 1. Only the outputs kept by the stride are
        computed.
    flip : bool, optional
        Reverse the kernel along every spatial axis: true convolution.
    method : {'auto', 'direct'}, optional
        The algorithm.
    dtype : {numpy.float32, numpy.float64}, optional
        Compute and result type.

    Returns
    -------
    ndarray, shape (M0, ..., Md-1[, C...])
        ``Mi = floor((Ni + before_i + after_i - dilation_i*(Ki-1) - 1) / stride_i) + 1``.

    Raises
    ------
    ParameterError
        If any argument is invalid or the output would be empty; the message
        names the parameter and the value. It is a ``ValueError``.

    Examples
    --------
    >>> x = np.arange(16).reshape(4, 4)
    >>> convolve(x, [[0, 0, 0], [0, 0, 1], [0, 0, 0]], pad_mode="replicate")
    array([[ 1.,  2.,  3.,  3.],
           [ 5.,  6.,  7.,  7.],
           [ 9., 10., 11., 11.],
           [13., 14., 15., 15.]], dtype=float32)
    >>> convolve([0, 0, 1, 0, 0], [1, 2, 3], padding="valid", flip=True)
    array([1., 2., 3.], dtype=float32)
    """
    request = check_arguments(
        x, kernel, padding=padding, pad_mode=pad_mode, pad_value=pad_value, stride=stride,
        dilation=dilation, flip=flip, method=method, dtype=dtype,
    )  # fmt: skip
    signal = request.signal.astype(request.taps.dtype, copy=False)
    padded = pad(signal, request.geometry.padding, request.pad_mode, request.pad_value)
    return ALGORITHMS[request.method](padded, request.taps, request.geometry)


@dataclass(frozen=True)
class Request:
    """The checked arguments of one convolution, ready for an algorithm."""

    signal: npt.NDArray[np.generic]  # the input, in its own dtype
    taps: npt.NDArray[np.floating]  # the kernel in the compute dtype, flipped if asked
    geometry: Geometry
    pad_mode: str  # canonical name
    pad_value: float
    method: str  # the algorithm chosen


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
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
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
    chosen = choose_method(method, taps.shape, geometry)
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
