"""`convolve`: plan the convolution once, then run the chosen algorithm band by band."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from convcli.engine._bands import output_array, plan_bands
from convcli.engine._geometry import AxisInts, PaddingSpec
from convcli.engine._plan import Convolution, check_arguments


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
    integer: bool | None = None,
    threads: int | None = None,
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
        See :func:`convcli.engine._geometry.resolve_geometry`. ``'same'``
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
    method : {'auto', 'direct', 'separable', 'fft', 'matrix'}, optional
        The algorithm: shift-and-add, 1-D passes over a rank decomposition,
        spectra, or matrix products with banded Toeplitz matrices (BLAS:
        give it one thread when ``threads`` runs several). ``auto`` picks
        the fastest by a cost model measured on this machine (see
        :mod:`convcli.engine._methods`). All agree to float32 rounding.
    dtype : {numpy.float32, numpy.float64}, optional
        Compute and result type.
    integer : bool or None, optional
        The exact integer path, for integer inputs (of at most 32 bits) and a
        kernel whose weights are integers or integers times one common factor
        (a box is ones/9): shift-and-add in int16 where every sum fits (int32,
        int64 otherwise), the factor applied at the end, in ``dtype``. The
        same result as the float path wherever that one is exact (sums below
        2^24 in float32, a factor of a power of 2). None (default): taken when
        ``method`` is ``auto`` and the cost model finds it cheaper. True: also
        beside an explicit ``method`` (which float inputs still use). False: never.
    threads : int or None, optional
        Threads to share the work (None: one per CPU). The result does not
        depend on it.

    Returns
    -------
    ndarray, shape (M0, ..., Md-1[, C...])
        ``Mi = floor((Ni + before_i + after_i - dilation_i*(Ki-1) - 1) / stride_i) + 1``.

    Raises
    ------
    ParameterError
        If any argument is invalid or the output would be empty; the message
        names the parameter and the value. It is a ``ValueError``.

    See Also
    --------
    Convolution : the same arguments, checked once, for many inputs of one shape.
    convolve_bands : a plan's result in bands of output rows.

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
    asked = Convolution(
        kernel, padding=padding, pad_mode=pad_mode, pad_value=pad_value, stride=stride,
        dilation=dilation, flip=flip, method=method, dtype=dtype, integer=integer,
    )  # fmt: skip
    plan, signal = check_arguments(x, asked)
    out = output_array(plan.geometry.output_shape, plan.taps.dtype)
    for _ in plan_bands(plan, signal, threads=threads, out=out):  # each band writes its rows of out
        pass
    return out
