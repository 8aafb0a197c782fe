"""Convolution a band of output rows at a time, so that no full-size float copy is made."""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from convcli.choices import PadMode
from convcli.engine._borders import source_index
from convcli.engine._geometry import Geometry
from convcli.engine._integer import Chain, correlate_chain, correlate_integer, scaled
from convcli.engine._methods import ALGORITHMS, FFT_BAND_SPANS
from convcli.engine._plan import ConvolutionPlan, as_real_array

if TYPE_CHECKING:
    from concurrent.futures import Future

# Bands of 1 to 2 MiB of input ran fastest for the matrix method; 256 KiB for
# shift-and-add (direct, separable, the exact integer path), whose few arrays
# of a band then stay in the core's cache from pass to pass (benchmarks/README.md,
# "Measurements behind choices in the code").
TILE_BYTES = 1 << 20
SHIFT_ADD_BAND_BYTES = 1 << 18
FFT_BAND_BYTES = 8 << 20
# Shift-and-add bands in threads are this many times taller (1 MiB of float32): with
# 256 KiB, their many short NumPy calls handed the GIL to and fro, and two threads took
# twice the wall time of one (a Gaussian of 7 on 2048x2048 float32: 34 ms against 17;
# 18 ms in taller bands). The exact integer path's sums, mapped in their threads, in
# bands of 2 MiB of int16: the 6000x4000 JPEG's whole program took 0.31 s against 0.34
# with 1 MiB; a 4096x4096 PNG's peak grew by 17 to 19 MiB (4 MiB: 38; benchmarks/README.md).
THREADED_BANDS = 4
THREADED_SUM_BANDS = 8
BandT = TypeVar("BandT")
SHIFT_AND_ADD = ("direct", "separable")
SPARE_BYTES = 4 * TILE_BYTES  # the largest array a thread keeps for its next band
SPARE_VIEWS = 64  # shaped views of them a thread keeps, at most
# NumPy asks Linux to back arrays of 4 MiB and more with 2 MiB pages, which only whole,
# aligned 2 MiB of an array get: a new 16 MiB result took 500 to 1000 page faults, as
# long as its sums, where one aligned takes 8 (benchmarks/README.md).
HUGE_PAGE = 1 << 21
_SPARES = threading.local()


def convolve_bands(
    plan: ConvolutionPlan,
    x: npt.ArrayLike,
    *,
    rows: int | None = None,
    threads: int | None = None,
) -> Iterator[tuple[int, npt.NDArray[np.floating]]]:
    """Yield the result of a planned convolution of ``x`` in bands of output rows.

    The plan (:meth:`Convolution.plan`) was checked once, for ``x``'s shape:
    here only the input is checked, and each band does only its own work,
    so one plan serves every frame of that shape. ``rows`` is how many
    output rows a band holds (by default, as many as keep the band's input
    cache-sized for shift-and-add, several kernel spans tall for FFT);
    ``threads`` is :func:`convcli.convolve`'s. Only the input rows a band
    needs are converted (to float, or to the integer type of the exact path:
    :meth:`ConvolutionPlan.sum_type`), so memory stays at the size of one
    band, whatever the image.

    Yields
    ------
    start : int
        Index of the band's first output row.
    band : ndarray, shape (rows, M1, ...[, C...])
        Those output rows.

    Raises
    ------
    ParameterError
        If ``x`` is not an array of real numbers of the plan's input shape.

    Examples
    --------
    >>> from convcli.engine import Convolution
    >>> x = np.arange(20.0).reshape(5, 4)
    >>> plan = Convolution(np.ones((3, 1)), pad_mode="zero").plan(x.shape)
    >>> bands = list(convolve_bands(plan, x, rows=2))
    >>> [start for start, _ in bands]
    [0, 2, 4]
    >>> np.concatenate([band for _, band in bands]).tolist()[0]
    [4.0, 6.0, 8.0, 10.0]
    """
    signal = as_real_array("input", x)
    plan.check_input(signal.shape, signal.dtype)
    return plan_bands(plan, signal, rows, threads)


def plan_bands(
    plan: ConvolutionPlan,
    signal: npt.NDArray[np.generic],
    rows: int | None = None,
    threads: int | None = 1,
    out: npt.NDArray[np.floating] | None = None,
) -> Iterator[tuple[int, npt.NDArray[np.floating]]]:
    """Yield a plan's result on its checked input in bands of rows (see :func:`convolve_bands`).

    With ``threads`` > 1 (None: one per CPU), bands are computed in threads,
    at most two per thread ahead of the one yielded: NumPy releases the GIL
    in its loops, so the cores share the work and memory stays banded. With
    ``out``, each band is written into its rows of ``out`` (and yielded as them).
    An input the plan sums in integers (:meth:`ConvolutionPlan.sum_type`) takes
    the exact path: shift-and-add in integers, the factor applied to each band.
    """
    summed = plan.sum_type(signal.dtype)
    if summed is None:
        work = functools.partial(_band, plan, signal, out=out)
        if rows is None:
            rows = band_rows(plan.geometry, plan.method, plan.taps.itemsize)
            rows = _in_threads(rows, threads) if plan.method in SHIFT_AND_ADD else rows
        return in_bands(plan.geometry, work, rows, threads)
    sums = _summing(plan, signal, summed, kept=False, wide=True)  # scaled to floats at once
    work = functools.partial(_scaled_band, plan, sums, out=out)
    rows = rows or band_rows(plan.geometry, "direct", summed.itemsize)
    return in_bands(plan.geometry, work, rows, threads)


def integer_bands(
    plan: ConvolutionPlan,
    x: npt.ArrayLike,
    *,
    threads: int | None = None,
) -> Iterator[tuple[int, npt.NDArray[np.integer]]] | None:
    """Yield the exact integer sums of a planned convolution in bands, or None: the float path.

    Where the plan sums ``x``'s samples in integers (see :meth:`ConvolutionPlan.sum_type`),
    its result is these sums times ``plan.integer.factor``, as :func:`convolve_bands`
    yields them; the sums can be mapped to an output's samples without a float copy.

    Examples
    --------
    >>> from convcli.engine import Convolution
    >>> plan = Convolution(np.full((1, 3), 1 / 3), pad_mode="zero").plan((1, 4))
    >>> [(start, band.tolist()) for start, band in integer_bands(plan, np.uint8([[3, 6, 9, 12]]))]
    [(0, [[9, 18, 27, 21]])]
    >>> plan.integer.factor == 1 / 3
    True
    """
    return _sums_in_bands(plan, x, threads, kept=True)


def mapped_sums(
    plan: ConvolutionPlan,
    x: npt.ArrayLike,
    each: Callable[[int, npt.NDArray[np.integer]], BandT],
    *,
    threads: int | None = None,
) -> Iterator[tuple[int, BandT]] | None:
    """Yield ``(start, each(start, sums))`` for each band of :func:`integer_bands`, or None.

    None: the plan does not sum ``x`` in integers (the float path). ``each``
    runs in the thread that summed the band, as soon as it is summed: mapping
    the sums there, rather than where the bands are yielded, spares the
    threads waiting on each other. In threads, the bands are taller
    (``THREADED_SUM_BANDS``). The sums are that thread's spare array, overwritten
    by its next band: ``each`` may write into them, and keeps nothing of them.

    Examples
    --------
    >>> from convcli.engine import Convolution
    >>> plan = Convolution(np.ones((1, 2)), pad_mode="zero").plan((2, 3))
    >>> x = np.uint8([[1, 2, 3], [4, 5, 6]])
    >>> list(mapped_sums(plan, x, lambda start, sums: sums.sum(axis=1).tolist()))
    [(0, [11, 26])]
    """
    return _sums_in_bands(plan, x, threads, kept=False, each=each)


def _sums_in_bands(
    plan: ConvolutionPlan,
    x: npt.ArrayLike,
    threads: int | None,
    kept: bool,
    each: Callable[[int, npt.NDArray[np.integer]], Any] | None = None,
) -> Iterator[tuple[int, Any]] | None:
    """Yield each band's exact sums (kept: in arrays of their own), or ``each`` of them; or None."""
    signal = as_real_array("input", x)
    plan.check_input(signal.shape, signal.dtype)
    summed = plan.sum_type(signal.dtype)
    if summed is None:
        return None
    work = _summing(plan, signal, summed, kept=kept)
    rows = band_rows(plan.geometry, "direct", summed.itemsize)
    if each is None:
        return in_bands(plan.geometry, work, rows, threads)
    taller = _in_threads(rows, threads, THREADED_SUM_BANDS)
    return in_bands(plan.geometry, functools.partial(_then, work, each), taller, threads)


def _in_threads(rows: int, threads: int | None, times: int = THREADED_BANDS) -> int:
    """Return a shift-and-add band's rows: ``times`` more in threads."""
    return rows * times if (threads or os.cpu_count() or 1) > 1 else rows


def _then(
    work: Callable[[int, int], npt.NDArray[np.integer]],
    each: Callable[[int, npt.NDArray[np.integer]], BandT],
    start: int,
    rows: int,
) -> BandT:
    """Return ``each(start, work(start, rows))``: a band's sums, passed on in the same thread."""
    return each(start, work(start, rows))


def in_bands(
    g: Geometry, work: Callable[[int, int], BandT], rows: int, threads: int | None
) -> Iterator[tuple[int, BandT]]:
    """Yield ``work(start, rows)`` for each band of ``rows`` output rows, in threads where asked.

    In threads, at most two bands per thread are computed ahead of the one yielded;
    those not started when the iterator is closed are not.
    """
    starts = range(0, g.output_shape[0], rows)
    workers = min(threads or os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for start in starts:
            yield start, work(start, rows)
        return
    from concurrent.futures import ThreadPoolExecutor  # more than one band at a time only

    with ThreadPoolExecutor(workers) as pool:
        ahead: deque[tuple[int, Future[BandT]]] = deque()
        pending = iter(starts)
        try:
            for start in itertools.islice(pending, 2 * workers):
                ahead.append((start, pool.submit(work, start, rows)))
            while ahead:
                start, future = ahead.popleft()
                yield start, future.result()
                for following in itertools.islice(pending, 1):
                    ahead.append((following, pool.submit(work, following, rows)))
        finally:  # stopped early (the consumer failed): the bands not yet started are not wanted
            for _, future in ahead:
                future.cancel()


def _band(
    plan: ConvolutionPlan,
    signal: npt.NDArray[np.generic],
    start: int,
    rows: int,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Compute output rows ``start`` to ``start + rows`` of a plan on its (checked) input."""
    band, local = padded_band(plan, signal, start, rows, plan.taps.dtype)
    target = None if out is None else out[start : start + local.output_shape[0]]
    return ALGORITHMS[plan.method](band, plan.taps, local, target)


def _summing(
    plan: ConvolutionPlan,
    signal: npt.NDArray[np.generic],
    summed: np.dtype[Any],
    kept: bool,
    wide: bool = False,
) -> Callable[[int, int], npt.NDArray[np.integer]]:
    """Return the work of a band of the exact path: ``(start, rows)`` to its integer sums.

    Not ``kept``: in this thread's spare array, overwritten by its next band.
    ``wide``: summed in runs where the strides are 1 (:func:`runs`), the sums
    a view of a wider array; twice as fast on rows of 2048 values, no faster
    on rows of 6000 or more, where the strided views then slowed the mapping
    of the sums by as much (benchmarks/README.md): taken for floats only.
    """
    assert plan.integer is not None, "summed only where the plan has integer weights"
    chain = plan.integer.chain
    if chain is None or not plan.integer.chain_holds(signal.dtype, int(plan.sum_fill), summed):
        chain = None
    return functools.partial(_summed_band, plan, signal, summed, chain, kept, wide)


def _summed_band(
    plan: ConvolutionPlan, signal: npt.NDArray[np.generic], summed: np.dtype[Any],
    chain: Chain | None, kept: bool, wide: bool, start: int, rows: int,
) -> npt.NDArray[np.integer]:  # fmt: skip
    """Return the exact integer sums of output rows ``start`` to ``start + rows``, in ``summed``.

    In 1-D passes where ``chain`` is given, else tap by tap (``wide``: see :func:`_summing`).
    """
    band, local = padded_band(plan, signal, start, rows, summed, spare)
    make = None if kept else spare  # kept: a new array
    if chain is not None:
        return correlate_chain(band, chain, local, make, spare, wide)
    weights = plan.integer.weights  # type: ignore[union-attr]
    return correlate_integer(band, weights, local, make, spare, wide)


def _scaled_band(
    plan: ConvolutionPlan,
    sums: Callable[[int, int], npt.NDArray[np.integer]],
    start: int,
    rows: int,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Output rows ``start`` to ``start + rows`` by the exact path: the sums times the factor."""
    assert plan.integer is not None, "scaled only where the plan has integer weights"
    band = sums(start, rows)
    target = (
        np.empty(band.shape, plan.taps.dtype) if out is None else out[start : start + len(band)]
    )
    return scaled(band, plan.integer.factor, target)


def output_array(shape: tuple[int, ...], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Return a new array for a result; one of 4 MiB or more starts on a 2 MiB boundary.

    Examples
    --------
    >>> out = output_array((1024, 1024), np.dtype(np.float32))
    >>> out.shape, out.dtype, out.__array_interface__["data"][0] % HUGE_PAGE
    ((1024, 1024), dtype('float32'), 0)
    """
    size = math.prod(shape) * dtype.itemsize
    if size < 2 * HUGE_PAGE:
        return np.empty(shape, dtype)
    memory = np.empty(size + HUGE_PAGE, np.uint8)
    start = -memory.__array_interface__["data"][0] % HUGE_PAGE
    return memory[start : start + size].view(dtype).reshape(shape)


def spare(name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Return this thread's spare array ``name``, made anew only when a larger one is needed.

    Reused from band to band, and by the last, shorter band and the next
    call's first: writing to fresh pages (the kernel maps and zeroes each)
    took longer than the integer sums themselves (benchmarks/integer.py).
    Arrays over SPARE_BYTES are not kept. Each shape of one is kept too, a
    view made once, not for every band (2.6 us a call, 4 or 5 calls a band).
    """
    memories: dict[str, npt.NDArray[np.uint8]] = _SPARES.__dict__.setdefault("memories", {})
    views: dict[tuple[Any, ...], npt.NDArray[Any]] = _SPARES.__dict__.setdefault("views", {})
    shaped = views.get((name, shape, dtype))
    if shaped is not None:
        return shaped
    size = math.prod(shape) * dtype.itemsize
    memory = memories.get(name)
    if memory is None or memory.size < size:
        memory = np.empty(size, np.uint8)
        if size > SPARE_BYTES:
            return memory.view(dtype).reshape(shape)
        memories[name] = memory
        for key in [key for key in views if key[0] == name]:
            del views[key]  # views of the memory given up
    if len(views) >= SPARE_VIEWS:
        views.clear()
    shaped = views[(name, shape, dtype)] = memory[:size].view(dtype).reshape(shape)
    return shaped


class Bordered(Protocol):
    """What padding a band reads of a plan: a convolution's (ConvolutionPlan) or a layer's."""

    @property
    def geometry(self) -> Geometry: ...
    @property
    def pad_mode(self) -> PadMode: ...
    @property
    def pad_value(self) -> float: ...


def padded_band(
    plan: Bordered, signal: npt.NDArray[np.generic], start: int, rows: int,
    dtype: np.dtype[Any], empty: Callable[[str, tuple[int, ...], np.dtype[Any]], Any] | None = None,
) -> tuple[npt.NDArray[Any], Geometry]:  # fmt: skip
    """Return the padded input rows that output rows ``start`` to ``start + rows`` read.

    Returned with the geometry of the band alone (its rows padded already).
    The rows are read, converted and padded in one copy: a slice where they
    are consecutive, the padding filled in place as :func:`pad` fills it.
    ``empty`` makes the array (:func:`spare`, where nothing keeps the band).
    """
    g = plan.geometry
    step, span = g.stride[0], g.dilation[0] * (g.kernel_shape[0] - 1)
    stop = min(start + rows, g.output_shape[0])
    first = start * step - g.padding[0][0]  # the input row the band's first padded row is
    count = (stop - 1 - start) * step + span + 1
    shape, inner, local = _band_layout(g, count)
    band = np.empty(shape, dtype) if empty is None else empty("band", shape, dtype)
    if first >= 0 and first + count <= g.input_shape[0]:  # no padded row: one slice
        band[inner] = signal[first : first + count]
    else:
        padded_rows = np.arange(start * step, start * step + count)
        wanted = source_index(padded_rows, g.input_shape[0], g.padding[0][0], plan.pad_mode)
        band[inner] = signal[np.maximum(wanted, 0)]
        if plan.pad_mode == "zero":
            band[wanted < 0] = plan.pad_value
    _fill_padding(band, local.padding, plan.pad_mode, plan.pad_value)
    return band, local


@functools.lru_cache(maxsize=64)
def _band_layout(whole: Geometry, rows: int) -> tuple[tuple[int, ...], tuple[slice, ...], Geometry]:
    """Lay out a band of ``rows`` padded rows of ``whole``: its shape, its input's place, geometry.

    The same for every band but the last, worked out once.
    """
    rest = ((0, 0), *whole.padding[1:])
    spatial = (rows, *whole.input_shape[1 : whole.spatial_ndim])
    shape = (*(n + sum(p) for n, p in zip(spatial, rest, strict=True)), *whole.channel_shape)
    inner = tuple(slice(before, before + n) for n, (before, _) in zip(spatial, rest, strict=True))
    local = Geometry((rows, *whole.input_shape[1:]), whole.kernel_shape, rest, whole.stride,
                     whole.dilation)  # fmt: skip
    return shape, inner, local


def _fill_padding(
    band: npt.NDArray[Any], padding: tuple[tuple[int, int], ...], mode: str, value: float
) -> None:
    """Fill the padding around ``band``'s interior in place, axis by axis, as :func:`pad` does."""
    for axis, (before, after) in enumerate(padding):
        if not before and not after:
            continue
        size = band.shape[axis]
        if mode == "zero":  # two slices: cheaper than indexing by a list, band after band
            band[(slice(None),) * axis + (slice(0, before),)] = value
            band[(slice(None),) * axis + (slice(size - after, size),)] = value
            continue
        lead = (slice(None),) * axis
        for written, read in _padding_copies(size, before, after, mode):
            band[(*lead, written)] = (
                band[(*lead, read)] if isinstance(read, slice) else np.take(band, read, axis=axis)
            )


@functools.lru_cache(maxsize=64)
def _padding_copies(
    size: int, before: int, after: int, mode: str
) -> tuple[tuple[slice | npt.NDArray[np.intp], slice | npt.NDArray[np.intp]], ...]:
    """Return where each side's padding is written and read, as slices where they can be.

    Worked out once per band shape: a reflected column is a slice read
    backwards, 1 us a band where indexing by lists took 11.
    """
    copies = []
    for written in (np.arange(before), np.arange(size - after, size)):
        if written.size:
            read = source_index(written, size - before - after, before, mode) + before
            copies.append((_as_slice(written), _as_slice(read)))
    return tuple(copies)


def _as_slice(indices: npt.NDArray[np.intp]) -> slice | npt.NDArray[np.intp]:
    """Return increasing or decreasing consecutive indices as a slice; others as they are."""
    step = int(indices[1] - indices[0]) if indices.size > 1 else 1
    if abs(step) != 1 or not np.array_equal(np.diff(indices), np.full(indices.size - 1, step)):
        return indices
    stop = int(indices[-1]) + step
    return slice(int(indices[0]), stop if stop >= 0 else None, step)


def band_rows(geometry: Geometry, method: str, itemsize: int) -> int:
    """Output rows per band: cache-sized for shift-and-add, several kernel spans for FFT.

    Sized by the padded row, which is what a band holds. A band reads at least
    one kernel span of new rows, so no input row is read more than twice.
    """
    step, span = geometry.stride[0], geometry.dilation[0] * (geometry.kernel_shape[0] - 1)
    row_bytes = max(1, _padded_row_values(geometry) * itemsize)
    least = -(-(span + 1) // step)
    if method == "fft":  # the span is computed again in every band: make it a small share
        return max(FFT_BAND_SPANS * least, FFT_BAND_BYTES // (row_bytes * step))
    budget = SHIFT_ADD_BAND_BYTES if method in SHIFT_AND_ADD else TILE_BYTES
    return max(least, budget // (row_bytes * step))


def padded_reads(geometry: Geometry, method: str, itemsize: int = 4) -> tuple[int, int]:
    """How many padded values the bands read in all, and the most one band holds.

    What the engine allocates and touches, known before it runs: bounds on
    its working memory (a few arrays of one band per thread; FFT lengths
    round up by a few percent) and its time.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> g = resolve_geometry((100, 50, 3), (3, 3), padding=100_000, stride=100_000)
    >>> g.output_shape  # each output row reads 3 padded rows of 200050 x 3 values
    (3, 3, 3)
    >>> padded_reads(g, "direct")
    (5401350, 1800450)
    """
    out_rows, step = geometry.output_shape[0], geometry.stride[0]
    rows = min(band_rows(geometry, method, itemsize), out_rows)
    span = geometry.dilation[0] * (geometry.kernel_shape[0] - 1)
    band = ((rows - 1) * step + span + 1) * _padded_row_values(geometry)
    return -(-out_rows // rows) * band, band


def _padded_row_values(geometry: Geometry) -> int:
    """Values in one padded row: every axis after the first, padded, times the channels."""
    ndim = geometry.spatial_ndim
    padded = [n + sum(geometry.padding[axis]) for axis, n in enumerate(geometry.input_shape[:ndim])]
    return int(np.prod([*padded[1:], *geometry.channel_shape], dtype=np.int64))
