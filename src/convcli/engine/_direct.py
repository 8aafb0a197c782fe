"""The direct method: shift-and-add, one vectorized pass per kernel tap."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from convcli.engine._geometry import Geometry


def correlate_direct(
    padded: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Cross-correlate an already padded input with a kernel.

    For each non-zero tap ``w`` at kernel index ``j`` the output gains
    ``w * padded[j*dilation :: stride]`` (cut to the output size), so only the
    outputs that are kept are ever computed. Zero taps contribute nothing,
    even where the input is NaN or infinite (as in ``scipy.ndimage``).

    Parameters
    ----------
    padded : ndarray, shape (P0, ..., Pd-1[, C...])
        The input after padding, in the compute dtype.
    kernel : ndarray, shape (K0, ..., Kd-1)
        The kernel, in the compute dtype.
    geometry : Geometry
        Stride, dilation and output shape.
    out : ndarray, optional
        Where to write the result (saves a copy when it is a slice of a larger output).

    Returns
    -------
    ndarray, shape ``geometry.output_shape``
        The correlation.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> correlate_direct(x, np.array([1.0, -1.0]), resolve_geometry(x.shape, (2,), padding=0))
    array([-1., -2., -4.])
    """
    if out is None:
        out = np.empty(geometry.output_shape, dtype=padded.dtype)
    out_spatial = geometry.output_shape[: geometry.spatial_ndim]
    steps = tuple(zip(out_spatial, geometry.stride, geometry.dilation, strict=True))
    taps = list(zip(*np.nonzero(kernel), strict=True))
    if not taps:
        out.fill(0)
        return out
    scratch = np.empty(out.shape, dtype=out.dtype) if len(taps) > 1 else out
    for number, tap in enumerate(taps):
        add_tap(out, scratch, padded[tap_window(tap, steps)], kernel[tap], first=number == 0)
    return out


def tap_window(tap: tuple[int, ...], steps: tuple[tuple[int, int, int], ...]) -> tuple[slice, ...]:
    """Return the slices of the padded input a tap meets; ``steps``: (outputs, stride, dilation)."""
    return tuple(
        slice(j * d, j * d + (m - 1) * s + 1, s) for j, (m, s, d) in zip(tap, steps, strict=True)
    )


def add_tap(
    out: npt.NDArray[np.floating],
    scratch: npt.NDArray[np.floating],
    values: npt.NDArray[np.floating],
    weight: np.floating,
    *,
    first: bool,
) -> None:
    """Add ``weight * values`` to ``out`` (the first tap writes it: no zero-filling pass).

    A weight of 1 or -1 adds or subtracts with no product: the same result,
    exactly, in one pass fewer (Sobel, Prewitt and Laplacian weights are
    mostly these).
    """
    if first:
        if weight == 1:
            np.copyto(out, values)
        elif weight == -1:
            np.negative(values, out=out)
        else:
            np.multiply(values, weight, out=out)
    elif weight == 1:
        out += values
    elif weight == -1:
        out -= values
    else:
        np.multiply(values, weight, out=scratch)
        out += scratch
