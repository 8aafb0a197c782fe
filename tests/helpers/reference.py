"""A plain-loop reference, written from the definition and nothing else.

    out[i] = sum over kernel indices j of  x~[i*stride + j*dilation - before] * kernel[j]

where ``x~`` is the input extended beyond its edges by the border mode. It
shares no code with convcli: it maps every out-of-range index itself (no
numpy.pad), finds the output size by brute force (no formula), and loops in
Python over every output element and every tap. Only for small arrays.
"""

from __future__ import annotations

import itertools

import numpy as np


def border_index(i: int, n: int, mode: str) -> int | None:
    """Index into an axis of length ``n`` that position ``i`` reads; None for the fill."""
    if 0 <= i < n:
        return i
    if mode == "zero":
        return None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":  # mirror about the edge pixels: period 2(n-1)
        if n == 1:
            return 0
        i %= 2 * (n - 1)
        return i if i < n else 2 * (n - 1) - i
    if mode == "symmetric":  # mirror about the edges between pixels: period 2n
        i %= 2 * n
        return i if i < n else 2 * n - 1 - i
    raise ValueError(mode)


def brute_force_size(n: int, before: int, after: int, k: int, stride: int, dilation: int) -> int:
    """How many window positions fit in the padded axis, found by trying them."""
    count = 0
    while count * stride + dilation * (k - 1) <= n + before + after - 1:
        count += 1
    return count


def correlate_reference(
    x: np.ndarray,
    kernel: np.ndarray,
    padding: list[tuple[int, int]],
    mode: str = "zero",
    value: float = 0.0,
    stride: tuple[int, ...] | None = None,
    dilation: tuple[int, ...] | None = None,
    flip: bool = False,
) -> np.ndarray:
    """Cross-correlation (or convolution, with ``flip``) by the definition, in float64."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    ndim = kernel.ndim
    stride = stride or (1,) * ndim
    dilation = dilation or (1,) * ndim
    spatial, channels = x.shape[:ndim], x.shape[ndim:]
    sizes = [
        brute_force_size(n, b, a, k, s, d)
        for n, (b, a), k, s, d in zip(spatial, padding, kernel.shape, stride, dilation)
    ]
    out = np.zeros(tuple(sizes) + channels)
    for i in itertools.product(*map(range, sizes)):
        for j in itertools.product(*map(range, kernel.shape)):
            # true convolution: tap j of the window meets the reversed kernel
            weight = (
                kernel[tuple(k - 1 - t for k, t in zip(kernel.shape, j))] if flip else kernel[j]
            )
            source = [
                border_index(o * s + t * d - b, n, mode)
                for o, s, t, d, (b, _), n in zip(i, stride, j, dilation, padding, spatial)
            ]
            sample = np.full(channels, value) if None in source else x[tuple(source)]
            out[i] += weight * sample
    return out
