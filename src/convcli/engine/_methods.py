"""The algorithms, and how ``auto`` chooses among them."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from convcli.choices import Method, choose
from convcli.engine._direct import correlate_direct
from convcli.engine._fft import correlate_fft
from convcli.engine._geometry import Geometry
from convcli.engine._matrix import correlate_matrix, matrix_work, narrow_work
from convcli.engine._separable import correlate_separable, factor


class Algorithm(Protocol):
    """Correlate a padded input with a kernel, optionally into ``out``."""

    def __call__(
        self,
        padded: npt.NDArray[np.floating],
        kernel: npt.NDArray[np.floating],
        geometry: Geometry,
        out: npt.NDArray[np.floating] | None = None,
    ) -> npt.NDArray[np.floating]:
        """Return the correlation (``out`` itself when given)."""


ALGORITHMS: dict[Method, Algorithm] = {
    Method.DIRECT: correlate_direct,
    Method.SEPARABLE: correlate_separable,
    Method.FFT: correlate_fft,
    Method.MATRIX: correlate_matrix,
}


def choose_method(
    method: Method | str, kernel: npt.NDArray[np.floating], geometry: Geometry
) -> Method:
    """Return the algorithm ``method`` stands for; ``auto`` picks the cheapest by the cost model.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> image = resolve_geometry((512, 512), (3, 3))
    >>> choose_method("auto", np.ones((3, 3)), image)  # rank 1: two passes of 3 taps
    <Method.SEPARABLE: 'separable'>
    >>> dense = np.array([[1.0, 2, 3], [3, 1, 2], [2, 3, 1]])
    >>> choose_method("auto", dense, image)
    <Method.MATRIX: 'matrix'>
    >>> colour = resolve_geometry((512, 512, 3), (3, 3))  # the channels moved aside cost more
    >>> choose_method("auto", dense, colour)
    <Method.DIRECT: 'direct'>
    >>> choose_method("fft", np.ones((3, 3)), image)
    <Method.FFT: 'fft'>
    """
    method = choose(Method, method, "method")
    if method != Method.AUTO:
        return method
    costs = estimate_costs(kernel, geometry)
    return min(costs, key=costs.__getitem__)


def estimate_costs(kernel: npt.NDArray[np.floating], geometry: Geometry) -> dict[Method, float]:
    """Estimated nanoseconds per output value of each algorithm that applies."""
    methods = [Method.DIRECT, Method.FFT, Method.MATRIX]
    if geometry.spatial_ndim > 1 and factor(kernel):
        methods.insert(1, Method.SEPARABLE)
    return {m: NS_PER_UNIT[m] * work(m, kernel, geometry) for m in methods}


def work(method: str, kernel: npt.NDArray[np.floating], geometry: Geometry) -> float:
    """Measure an algorithm's work per output value, as the cost model counts it.

    direct: the non-zero taps. separable: for each term, the taps of the
    first 1-D pass (run over every padded column, so widened by the second
    axis's stride and padding) plus those of the later passes. fft: log2 of
    the transform size, times the padded positions per output (a stride or
    a band's overlap computes positions that are thrown away). matrix: the
    samples an output's product gathers from each kernel row, times the
    rows, or for a low-rank kernel whose terms cost less, the terms' (see
    :func:`convcli.engine._matrix.matrix_work`), and on a narrow image its
    column products' padding (:func:`convcli.engine._matrix.narrow_work`).
    """
    ndim = geometry.spatial_ndim
    outputs = float(np.prod(geometry.output_shape[:ndim]))
    sizes = [n + b + a for n, (b, a) in zip(geometry.input_shape, geometry.padding, strict=False)]
    if method == "direct":
        return float(np.count_nonzero(kernel))
    if method == "matrix":
        terms, fused_or_terms = matrix_work(kernel, geometry)
        return fused_or_terms + narrow_work(terms, geometry)
    if method == "separable":
        terms = factor(kernel)
        widen = float(np.prod(sizes[1:ndim])) / float(np.prod(geometry.output_shape[1:ndim]))
        first = [float(np.count_nonzero(term[0])) * widen for term in terms]
        later = [sum(float(np.count_nonzero(v)) for v in term[1:]) for term in terms]
        return sum(first) + sum(later)
    span = geometry.dilation[0] * (geometry.kernel_shape[0] - 1)
    overlap = 1 + 1 / FFT_BAND_SPANS if span else 1.0
    padded = float(np.prod(sizes[:ndim]))
    return padded / outputs * overlap * float(np.log2(max(padded, 2.0)))


# Nanoseconds per output value per unit of work, from CPU times measured by
# benchmarks/calibrate.py (BLAS on one thread, as the command line sets it;
# bands on one thread and on two) on 2048x2048 and 1024x1024x3 float32
# images, dense and Gaussian kernels of 3 to 31, on this project's second
# machine (Intel Xeon, 2 cores, shared; 2026-12-07, a low-rank kernel's column
# sums by matrix products). One thread, two runs: direct 0.32-0.53 (median
# 0.39), separable 0.28-0.59 (0.36), fft 1.10-1.50 (1.34), matrix 0.58-1.26
# (0.74). Every constant within direct 0.42-0.48, separable 0.34-0.45, fft
# 1.2-1.4, matrix 0.58-0.67 (one at a time) picked the fastest in 20 of 20
# cases on one thread and on two, by CPU time, in each run; by wall time, 20
# and 20 on one thread, 19 and 20 on two (the miss: a Gaussian of 5 on grey,
# 1.05x). The first machine's (AMD EPYC) for the first three were 0.36, 0.32,
# 0.93 (shifted adds for the low-rank columns then): each CPU is faster at some
# methods, and the constants are relative. They are the same for any number of
# threads on purpose: the method, and so the last bits of a float result,
# never depend on the threads.
NS_PER_UNIT = {Method.DIRECT: 0.44, Method.SEPARABLE: 0.40, Method.FFT: 1.30, Method.MATRIX: 0.62}
FFT_BAND_SPANS = 8  # rows of an FFT band, in kernel spans: the overlap costs 1/8 more
