"""The separable method: a kernel as a sum of outer products, one 1-D pass per axis per term."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from convcli.engine._direct import add_tap, correlate_direct
from convcli.engine._geometry import Geometry

Vector = npt.NDArray[np.float64]
# A term is one vector per axis; the kernel is the sum of the terms' outer products.
Terms = tuple[tuple[Vector, ...], ...]


def factor(kernel: npt.NDArray[np.floating]) -> Terms:
    """Write a kernel as a sum of outer products of 1-D vectors, as few as it takes.

    A rank-1 kernel gets exact factors, taken from the row and column
    through its largest weight (``sobel-x`` is exactly ``[-1,-2,-1]`` by
    ``[1,0,-1]``). Otherwise a 2-D kernel gets its singular value
    decomposition, truncated where singular values fall below the largest
    times the kernel's side times the machine epsilon of its dtype (as
    ``numpy.linalg.matrix_rank`` counts rank): a term dropped is below the
    rounding of the result's own type. A 3-D kernel that is not rank 1 gets
    no terms. Cached per kernel and dtype.

    Examples
    --------
    >>> terms = factor(np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    >>> [[v.tolist() for v in term] for term in terms]
    [[[-1.0, -2.0, -1.0], [1.0, -0.0, -1.0]]]
    >>> len(factor(np.eye(3)))
    3
    """
    weights = np.asarray(kernel, dtype=np.float64)
    tolerance = float(np.finfo(np.result_type(kernel, np.float32)).eps) * max(weights.shape)
    return _factor(weights.shape, weights.tobytes(), tolerance)


@functools.lru_cache(maxsize=128)
def _factor(shape: tuple[int, ...], data: bytes, tolerance: float) -> Terms:
    kernel = np.frombuffer(data, dtype=np.float64).reshape(shape)
    if kernel.ndim == 1 or not kernel.any():
        return ((kernel.copy(),),) if kernel.ndim == 1 else ()
    pivot = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    fibres = []
    for axis in range(kernel.ndim):
        index = list(pivot)
        index[axis] = slice(None)  # type: ignore[call-overload]
        fibres.append(kernel[tuple(index)].copy())
    for fibre in fibres[1:]:
        fibre /= kernel[pivot]
    if _equal(_outer(fibres), kernel):
        return (tuple(fibres),)
    if kernel.ndim != 2:
        return ()
    u, s, vt = np.linalg.svd(kernel)
    rank = int(np.sum(s > tolerance * s[0]))
    return tuple((u[:, i] * s[i], vt[i].copy()) for i in range(rank))


def _outer(vectors: list[Vector]) -> npt.NDArray[np.float64]:
    return functools.reduce(np.multiply.outer, vectors)


def _equal(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    return bool(np.all(np.abs(a - b) <= 1e-12 * np.abs(b).max()))


def correlate_separable(
    padded: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Cross-correlate an already padded input, one 1-D pass per axis per term.

    Each pass keeps only the outputs the stride keeps, so the later passes
    run on less. Falls back to the direct method when the kernel has no
    terms (a 3-D kernel of higher rank).

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.arange(16.0).reshape(4, 4)
    >>> g = resolve_geometry(x.shape, (3, 3), padding=0)
    >>> correlate_separable(x, np.ones((3, 3)), g)
    array([[45., 54.],
           [81., 90.]])
    """
    terms = factor(kernel)
    if not terms:
        return correlate_direct(padded, kernel, geometry, out)
    spatial = geometry.output_shape[: geometry.spatial_ndim]
    total = None
    for term in terms:
        response = padded
        for axis, vector in enumerate(term):
            last = axis == len(term) - 1 and total is None  # the first term's: into out itself
            response = _pass(response, vector.astype(padded.dtype), axis, spatial[axis],
                             geometry.stride[axis], geometry.dilation[axis],
                             out if last else None)  # fmt: skip
        total = response if total is None else np.add(total, response, out=total)
    assert total is not None
    return total


def _pass(
    x: npt.NDArray[np.floating], taps: npt.NDArray[np.floating], axis: int, size: int, step: int,
    dilation: int, out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:  # fmt: skip
    """Correlate along one axis, keeping ``size`` outputs every ``step`` (into ``out`` if given)."""
    shape = list(x.shape)
    shape[axis] = size
    nonzero = np.flatnonzero(taps)
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    if not nonzero.size:
        out.fill(0)
        return out
    scratch = np.empty_like(out) if nonzero.size > 1 else out
    window = [slice(None)] * x.ndim
    for number, offset in enumerate(nonzero):
        start = int(offset) * dilation
        window[axis] = slice(start, start + (size - 1) * step + 1, step)
        add_tap(out, scratch, x[tuple(window)], taps[offset], first=number == 0)
    return out
