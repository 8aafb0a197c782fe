"""The matrix method: each kernel row as a banded Toeplitz matrix, applied by matrix products.

Along the last spatial axis, ``BLOCK`` consecutive outputs of one kernel row
are one row of a matrix product: the input samples they read (a window of
``(BLOCK - 1) * stride + span`` samples) times a Toeplitz matrix that holds
the kernel row's taps on its diagonals, stride and dilation included. The
matrix is the same for every window, so the windows of a band, gathered
side by side, go through a few products of one shape (:func:`_product`),
which makes every output's sum the same wherever it lies: a tile equals
the whole array bit for bit. The other axes' taps (the kernel's rows) are
shifted adds of these products. BLAS does the arithmetic; it multiplies the
Toeplitz matrix's zeros too, which costs less than the direct method's one
pass over memory per tap, for mid-size kernels (benchmarks/matrix.py).
Input with NaN or infinity goes to the direct method, as with FFT: a zero
of the matrix times NaN would spread it along the window.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from convcli.engine._direct import correlate_direct
from convcli.engine._geometry import Geometry
from convcli.engine._separable import Terms, factor

BLOCK = 32  # outputs per window: the fastest of 8 to 128 (dense 3 to 15, 2048^2, one thread)


def correlate_matrix(
    padded: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Cross-correlate an already padded input with a kernel, by matrix products.

    Takes the arguments of :func:`convcli.engine._direct.correlate_direct`.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> correlate_matrix(x, np.array([1.0, -1.0]), resolve_geometry(x.shape, (2,), padding=0))
    array([-1., -2., -4.])
    """
    if padded.dtype.kind == "f" and not np.isfinite(padded).all():
        return correlate_direct(padded, kernel, geometry, out)
    if out is None:
        out = np.empty(geometry.output_shape, dtype=padded.dtype)
    n = geometry.spatial_ndim
    last, rows = n - 1, geometry.output_shape[: n - 1]
    count = geometry.output_shape[last]
    step, spread = geometry.stride[last], geometry.dilation[last]
    block = BLOCK  # always: one shape of product (see _product)
    blocks = -(-count // block)
    window = (block - 1) * step + spread * (geometry.kernel_shape[last] - 1) + 1
    lines = _lines(padded, last, (blocks - 1) * block * step + window)
    item = lines.itemsize
    windows = as_strided(
        lines,
        shape=(*lines.shape[:-1], blocks, window),
        strides=(*lines.strides[:-1], block * step * item, item),
        writeable=False,
    )
    # Written in place when the output's rows are whole blocks; else gathered, then copied.
    shape = (*rows, *geometry.channel_shape, blocks, block)
    in_place = not geometry.channel_shape and blocks * block == count and out.flags.c_contiguous
    total = out.reshape(shape) if in_place else np.empty(shape, dtype=padded.dtype)
    terms = factor(kernel) if n == 2 else ()
    if 0 < len(terms) < geometry.kernel_shape[0]:  # low rank: each term's row once, then adds
        _low_rank(windows, terms, geometry, (block, step, spread, window), total)
    else:
        _by_rows(windows, kernel, geometry, (block, step, spread, window), total)
    if not in_place:
        flat = total.reshape(*total.shape[:-2], blocks * block)[..., :count]
        out[...] = np.moveaxis(flat, -1, last)
    return out


def _lines(padded: npt.NDArray[np.floating], last: int, width: int) -> npt.NDArray[np.floating]:
    """Return the input with its last spatial axis last (after channels), ``width`` or wider.

    Copied (the channels moved, zeros added to hold whole windows) only when
    it is not so already: BLAS wants each window's samples side by side.
    """
    moved = np.moveaxis(padded, last, -1)
    if moved.shape[-1] >= width and moved.strides[-1] == moved.itemsize:
        return moved
    lines = np.empty((*moved.shape[:-1], max(width, moved.shape[-1])), dtype=padded.dtype)
    lines[..., : moved.shape[-1]] = moved
    lines[..., moved.shape[-1] :] = 0
    return lines


Shape = tuple[int, int, int, int]  # block, step, spread, window


def _by_rows(
    windows: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    shape: Shape,
    total: npt.NDArray[np.floating],
) -> None:
    """Add each kernel row's product over the input rows it reads (a dense kernel)."""
    last = geometry.spatial_ndim - 1
    rows = geometry.output_shape[:last]
    product, written = None, False
    for tap in itertools.product(*(range(k) for k in geometry.kernel_shape[:last])):
        weights = kernel[tap]
        if not weights.any():
            continue
        # The rows this kernel row reads: every stride-th, from its offset, one per output row.
        chosen = tuple(
            slice(j * d, j * d + (m - 1) * s + 1, s)
            for j, m, s, d in zip(tap, rows, geometry.stride, geometry.dilation, strict=False)
        )
        toeplitz = _toeplitz(weights.tobytes(), weights.dtype.str, *shape)
        if not written:  # the first row writes the total (no zero-filling pass)
            _product(windows[chosen], toeplitz, total)
            written = True
            continue
        product = np.empty_like(total) if product is None else product
        _product(windows[chosen], toeplitz, product)
        total += product
    if not written:
        total.fill(0)


def _low_rank(
    windows: npt.NDArray[np.floating],
    terms: Terms,
    geometry: Geometry,
    shape: Shape,
    total: npt.NDArray[np.floating],
) -> None:
    """Add each term: its row's product over every input row, then its column's shifted adds."""
    count, step, spread = geometry.output_shape[0], geometry.stride[0], geometry.dilation[0]
    dtype = windows.dtype
    scratch = np.empty_like(total)
    total.fill(0)
    for column, row in terms:
        weights = row.astype(dtype)
        rows = np.empty((*windows.shape[:-1], shape[0]), dtype=dtype)
        _product(windows, _toeplitz(weights.tobytes(), weights.dtype.str, *shape), rows)
        for a, weight in enumerate(column.astype(dtype)):
            if weight:
                chosen = rows[a * spread : a * spread + (count - 1) * step + 1 : step]
                total += np.multiply(chosen, weight, out=scratch)


CALL = 256  # windows per matrix product: every product has this one shape


def _product(
    windows: npt.NDArray[np.floating],
    toeplitz: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
) -> None:
    """Multiply every window by the matrix into ``out``, in products of one shape.

    BLAS chooses how to sum by the shape of a product; with one shape, a
    window's sums are the same wherever it lies (a band, a tile, the whole
    array), so the results do not depend on how the array was cut.
    """
    flat = windows.reshape(-1, windows.shape[-1])  # the windows side by side (a copy)
    results = out.reshape(-1, out.shape[-1])
    whole = flat.shape[0] - flat.shape[0] % CALL
    for start in range(0, whole, CALL):
        np.matmul(flat[start : start + CALL], toeplitz, out=results[start : start + CALL])
    if whole < flat.shape[0]:  # the rest, padded with zeros to the one shape
        rest = np.zeros((CALL, flat.shape[1]), dtype=flat.dtype)
        rest[: flat.shape[0] - whole] = flat[whole:]
        results[whole:] = np.matmul(rest, toeplitz)[: flat.shape[0] - whole]


@functools.lru_cache(maxsize=64)
def _toeplitz(
    data: bytes, dtype: str, block: int, step: int, spread: int, window: int
) -> npt.NDArray[np.floating]:
    """Return the (window, block) matrix whose column j holds the row's taps from j * step."""
    taps = np.frombuffer(data, dtype=dtype)
    matrix = np.zeros((window, block), dtype=dtype)
    for j in range(block):
        matrix[j * step + spread * np.arange(taps.size), j] = taps
    matrix.flags.writeable = False
    return matrix
