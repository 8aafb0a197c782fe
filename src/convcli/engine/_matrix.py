"""The matrix method: the kernel as stacked banded Toeplitz matrices, applied by matrix products.

Along the last spatial axis, ``block`` consecutive outputs are one row of a
matrix product: the input samples they read from each of the kernel's rows
(a window of ``(block - 1) * stride + span`` samples per row, side by side)
times the kernel rows' Toeplitz matrices stacked, which hold the taps on
their diagonals, stride and dilation included. One product sums every tap
of an output: no pass per kernel row. The matrix is the same for every
window, so the windows of a band, gathered about 1 MiB at a time, go
through products of one shape (:func:`_product`), which makes every
output's sum the same wherever it lies: a tile equals the whole array bit
for bit. A low-rank kernel, where that is less work (:func:`matrix_work`),
takes each term's row once over every input row, then its column by
products down the rows, ``COLUMN_BLOCK`` output rows at a time. BLAS does
the arithmetic; it multiplies the Toeplitz matrices' zeros too, which costs
less than the direct method's one pass over memory per tap, for mid-size
kernels (benchmarks/matrix.py). Input with NaN or infinity goes to the
direct method, as with FFT: a zero of the matrix times NaN would spread it
along the window.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from convcli.engine._direct import correlate_direct
from convcli.engine._geometry import Geometry
from convcli.engine._separable import Terms, factor

# Outputs per window: 16, whatever the kernel's span (the fastest of 8 to 32 at
# dense 3 to 31 and spans of 2 to 32 with dilation or stride, 2048^2 float32, one
# thread; with products cut at LONGEST samples, 32, once taken for spans over 16,
# took 1.04x to 1.45x the time of 16 on dense kernels, 0.96x to 1.08x on Gaussians).
BLOCK = 16
# Windows per matrix product: 256, or as many more (a power of two) as make about
# 256 KiB of short windows. Fewer, longer products hand the GIL to and fro less in
# threads: a Gaussian of 9 on 2048x2048 float32 took 19 ms on two threads, 26 in
# products of 256 short windows; longer products were slower on one thread.
CALL, PRODUCT_BYTES = 256, 1 << 18
# Windows gathered at a time: about 1 MiB of them, in whole products (the fastest
# of 256 to 2048 windows at dense 5 to 31, 2048^2 float32, one thread).
GATHERED_BYTES = 1 << 20
# Samples a product sums for an output at most (a window's, or a column's rows): a
# longer kernel is cut into pieces whose products are added in order. BLAS sums a
# longer product in parts split at fixed places (past 400 samples here, 256 on some
# CPUs), which fall among an output's taps where its band or tile starts: the last
# bits would depend on how the array was cut (a dense 21 did, at 4096).
LONGEST = 256
# A low-rank kernel's column products: output rows per product, and values of a row
# (the fastest of 8 to 32 rows and 128 to 2048 values at Gaussians of 5 to 31, 2048^2
# float32, one thread: 3 to 6 ms for a whole image, where shifted adds took 15 to 45).
COLUMN_BLOCK, COLUMN_WIDTH = 16, 1024


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
    last, count = n - 1, geometry.output_shape[n - 1]
    shape = window_shape(geometry)
    block, step, _, window = shape
    blocks = -(-count // block)
    lines = _lines(padded, last, (blocks - 1) * block * step + window)
    # Written in place when the output's rows are whole blocks; else gathered, then copied.
    total_shape = (*geometry.output_shape[:last], *geometry.channel_shape, blocks, block)
    in_place = not geometry.channel_shape and blocks * block == count and out.flags.c_contiguous
    total = out.reshape(total_shape) if in_place else np.empty(total_shape, dtype=padded.dtype)
    terms, _ = matrix_work(kernel, geometry)
    if terms:  # low rank: each term's row once, then its column's products
        _low_rank(lines, terms, geometry, shape, total)
    else:
        _fused(lines, kernel, geometry, shape, total)
    if not in_place:
        flat = total.reshape(*total.shape[:-2], blocks * block)[..., :count]
        out[...] = np.moveaxis(flat, -1, last)
    return out


Shape = tuple[int, int, int, int]  # block, step, spread, window


def window_shape(geometry: Geometry) -> Shape:
    """Return the outputs per window, the last axis's stride and dilation, and the window."""
    last = geometry.spatial_ndim - 1
    step, spread = geometry.stride[last], geometry.dilation[last]
    span = spread * (geometry.kernel_shape[last] - 1)
    return BLOCK, step, spread, (BLOCK - 1) * step + span + 1


# The work of the matrix method beside its products' samples, in the same
# units, from benchmarks/calibrate.py's measurements (see NS_PER_UNIT in
# engine/_methods.py; SHORT, DOWN and PIECE set by hand to the low-rank and
# pieces' timings of benchmarks/README.md): a fixed 2 per output (the band's
# copies, writing the output), 3 more when the channels are moved aside and
# back; a low-rank kernel's row products, one input row at a time, cost SHORT
# times a fused one's per sample (they are short: one row's window), its
# column products DOWN times per sample; each piece of a kernel cut for
# LONGEST adds PIECE.
FIXED, MOVED, SHORT, DOWN, PIECE = 2.0, 3.0, 1.5, 1.0, 2.0


def matrix_work(kernel: npt.NDArray[np.floating], geometry: Geometry) -> tuple[Terms, float]:
    """Return the low-rank terms to take (none: all rows fused) and the work per output.

    Fused, an output's product reads a window from each kernel row; a
    low-rank kernel's terms read one from every input row each (the stride's
    rows per output), then the column's product reads a window of rows:
    whichever is less work.
    It depends on the kernel, stride and dilation only, never on the size of
    the array, so every band and tile takes the same path.
    """
    block, _, _, window = window_shape(geometry)
    per_row = window / block  # the samples an output's product reads from one row
    fixed = FIXED + (MOVED if geometry.channel_shape else 0.0)
    rows, _, cut = _fused_rows(geometry, window)
    fused = fixed + rows * per_row + (cut - 1) * PIECE
    terms = factor(kernel) if geometry.spatial_ndim == 2 else ()
    pieces, read = _column_reads(geometry)
    if not terms or not pieces:
        return (), fused
    column = read * DOWN + (len(pieces) - 1) * PIECE
    low_rank = fixed + len(terms) * (geometry.stride[0] * per_row * SHORT + column)
    return (terms, low_rank) if low_rank < fused else ((), fused)


def narrow_work(terms: Terms, geometry: Geometry) -> float:
    """Return the column products' work per output on values past a row's (none on long rows).

    A row of fewer than ``COLUMN_WIDTH`` values (a narrow image) is padded
    to that many in every product. Not counted by :func:`matrix_work`, whose
    choice must not depend on the array's size; ``auto``'s choice of method may.
    """
    if not terms:
        return 0.0
    block = window_shape(geometry)[0]
    last = geometry.spatial_ndim - 1
    values = int(np.prod(geometry.channel_shape)) * -(-geometry.output_shape[last] // block) * block
    padded = -(-values // COLUMN_WIDTH) * COLUMN_WIDTH
    return len(terms) * _column_reads(geometry)[1] * DOWN * (padded / values - 1)


def _column_reads(geometry: Geometry) -> tuple[list[tuple[int, int, int]], float]:
    """Return the column's pieces (:func:`column_pieces`) and the rows they read per output."""
    pieces = column_pieces(geometry.kernel_shape[0], geometry.stride[0], geometry.dilation[0])
    return pieces, sum(reach for _, _, reach in pieces) / COLUMN_BLOCK


def column_pieces(taps: int, step: int, spread: int) -> list[tuple[int, int, int]]:
    """Cut a column of ``taps`` into pieces whose products read ``LONGEST`` rows at most.

    Returns each piece's first and last tap (exclusive) and the rows its
    products read; none where even one tap's product reads more rows.

    Examples
    --------
    >>> column_pieces(7, 1, 1)
    [(0, 7, 22)]
    >>> column_pieces(501, 1, 1)
    [(0, 241, 256), (241, 482, 256), (482, 501, 34)]
    """
    most = (LONGEST - (COLUMN_BLOCK - 1) * step - 1) // spread + 1  # taps a piece holds
    if most < 1:
        return []
    return [(first, min(first + most, taps),
             (COLUMN_BLOCK - 1) * step + spread * (min(first + most, taps) - 1 - first) + 1)
            for first in range(0, taps, most)]  # fmt: skip


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


def _fused(
    lines: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    shape: Shape,
    total: npt.NDArray[np.floating],
) -> None:
    """Sum every kernel row at once: each window's rows side by side, times the stacked matrices.

    A kernel whose windows would be longer than ``LONGEST`` is cut along its
    first axis into pieces that short, and the pieces' products are added.
    """
    last = geometry.spatial_ndim - 1
    first = geometry.kernel_shape[0] if last else 1
    _, per, _ = _fused_rows(geometry, shape[3])
    product = None
    for start in range(0, first, per):
        piece = kernel[start : start + per] if last else kernel
        base = lines[start * geometry.dilation[0] :] if last else lines
        positions = list(zip(geometry.output_shape[:last], geometry.stride, strict=False))
        taps = list(zip(piece.shape[:last], geometry.dilation, strict=False))
        windows = _windows(base, positions, taps, shape, total.shape[-2])
        toeplitz = _toeplitz(piece.tobytes(), piece.dtype.str, piece.shape, *shape)
        if start == 0:  # the first piece writes the total (no zero-filling pass)
            _product(windows, toeplitz, total)
            continue
        product = np.empty_like(total) if product is None else product
        _product(windows, toeplitz, product)
        total += product


def _fused_rows(geometry: Geometry, window: int) -> tuple[float, int, int]:
    """Return the rows (the kernel's windows) an output's products read, rows a piece, pieces.

    Pieces are cut along the kernel's first axis (of a 2-D or 3-D kernel).
    """
    last = geometry.spatial_ndim - 1
    inner = int(np.prod(geometry.kernel_shape[1:last], dtype=np.int64)) * window
    first, per = (geometry.kernel_shape[0] if last else 1), max(1, LONGEST // inner)
    return float(np.prod(geometry.kernel_shape[:last])), per, -(-first // per)


def _low_rank(
    lines: npt.NDArray[np.floating],
    terms: Terms,
    geometry: Geometry,
    shape: Shape,
    total: npt.NDArray[np.floating],
) -> None:
    """Add each term: its row's product over every input row, then its column's product."""
    count, step, spread = geometry.output_shape[0], geometry.stride[0], geometry.dilation[0]
    dtype = lines.dtype
    windows = _windows(lines, [(lines.shape[0], 1)], [], shape, total.shape[-2])
    pieces = column_pieces(geometry.kernel_shape[0], step, spread)
    last = pieces[-1]  # the rows the last column product reads, from its first tap's row
    needed = (-(-count // COLUMN_BLOCK) - 1) * COLUMN_BLOCK * step + last[0] * spread + last[2]
    rows = np.empty((max(needed, lines.shape[0]), *windows.shape[1:-1], shape[0]), dtype=dtype)
    rows[lines.shape[0] :] = 0  # read by the last column products, for outputs they drop
    flat = rows.reshape(rows.shape[0], -1)
    sums = total.reshape(count, -1)
    scratch = np.empty_like(sums) if len(terms) * len(pieces) > 1 else sums
    for number, (column, row) in enumerate(terms):
        weights = row.astype(dtype)
        toeplitz = _toeplitz(weights.tobytes(), weights.dtype.str, weights.shape, *shape)
        _product(windows, toeplitz, rows[: lines.shape[0]])
        for first, stop, reach in pieces:  # added in order: the same sums in every band
            taps = column[first:stop].astype(dtype)
            down = _toeplitz(
                taps.tobytes(), taps.dtype.str, taps.shape, COLUMN_BLOCK, step, spread, reach
            ).T  # the column's matrix
            target = sums if number == first == 0 else scratch
            _column_products(down, flat[first * spread :], step, target)
            if target is scratch and scratch is not sums:
                sums += scratch


def _column_products(
    toeplitz: npt.NDArray[np.floating],
    rows: npt.NDArray[np.floating],
    step: int,
    out: npt.NDArray[np.floating],
) -> None:
    """Sum down the columns: ``COLUMN_BLOCK`` output rows at a time, ``toeplitz`` times their rows.

    Every product has one shape, ``(COLUMN_BLOCK, reach) @ (reach, COLUMN_WIDTH)``,
    as the row products have: the last rows and columns are computed in
    copies of that shape, so a tile's sums equal the whole's.
    """
    block, reach = toeplitz.shape
    count, width = out.shape
    padded = np.zeros((reach, COLUMN_WIDTH), dtype=out.dtype)
    result = np.empty((block, COLUMN_WIDTH), dtype=out.dtype)
    for first in range(0, count, block):
        read = rows[first * step : first * step + reach]
        kept = min(block, count - first)
        for left in range(0, width, COLUMN_WIDTH):
            kept_columns = min(COLUMN_WIDTH, width - left)
            if kept == block and kept_columns == COLUMN_WIDTH:
                np.matmul(
                    toeplitz,
                    read[:, left : left + COLUMN_WIDTH],
                    out=out[first : first + block, left : left + COLUMN_WIDTH],
                )
                continue
            padded[:, :kept_columns] = read[:, left : left + kept_columns]  # the rest: dropped
            np.matmul(toeplitz, padded, out=result)
            out[first : first + kept, left : left + kept_columns] = result[:kept, :kept_columns]


Axes = list[tuple[int, int]]  # per leading spatial axis: how many, and the rows between them


def _windows(
    lines: npt.NDArray[np.floating], positions: Axes, taps: Axes, shape: Shape, blocks: int
) -> npt.NDArray[np.floating]:
    """View the windows: (*positions, *channels, blocks, *taps, window), nothing copied.

    ``positions`` are the leading axes' outputs (every stride-th row),
    ``taps`` the kernel rows each of them reads (every dilation-th).
    """
    block, step, _, window = shape
    lead, strides = len(positions), lines.strides
    return as_strided(
        lines,
        shape=(
            *(n for n, _ in positions),
            *lines.shape[lead:-1],
            blocks,
            *(n for n, _ in taps),
            window,
        ),
        strides=(
            *(every * strides[a] for a, (_, every) in enumerate(positions)),
            *strides[lead:-1],
            block * step * lines.itemsize,
            *(every * strides[a] for a, (_, every) in enumerate(taps)),
            lines.itemsize,
        ),
        writeable=False,
    )


def _product(
    windows: npt.NDArray[np.floating],
    toeplitz: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
) -> None:
    """Multiply every window by the matrix into ``out``, in products of one shape.

    The windows are gathered (copied side by side, as BLAS wants them) about
    ``GATHERED_BYTES`` at a time, along the first axis. BLAS chooses how to
    sum by the shape of a product; with one shape, a window's sums are the
    same wherever it lies (a band, a tile, the whole array), so the results
    do not depend on how the array was cut. The shape depends on the
    window's length and type alone (``CALL``), for fused and low-rank kernels.
    """
    results = out.reshape(-1, out.shape[-1])
    each = results.shape[0] // out.shape[0]  # windows per index of the first axis
    window_bytes = toeplitz.shape[0] * toeplitz.itemsize
    call = max(CALL, 1 << max(PRODUCT_BYTES // window_bytes, 1).bit_length() - 1)
    calls = max(1, GATHERED_BYTES // (call * window_bytes))
    indices = min(out.shape[0], max(1, calls * call // each))
    gathered = np.empty((-(-indices * each // call) * call, toeplitz.shape[0]), windows.dtype)
    for first in range(0, out.shape[0], indices):
        part = windows[first : first + indices]
        count = part.shape[0] * each
        gathered[:count].reshape(part.shape)[...] = part
        gathered[count : -(-count // call) * call] = 0  # the last product's rest
        done = results[first * each : first * each + count]
        for start in range(0, count, call):
            if start + call <= count:
                np.matmul(gathered[start : start + call], toeplitz, out=done[start : start + call])
            else:
                done[start:] = np.matmul(gathered[start : start + call], toeplitz)[: count - start]


@functools.lru_cache(maxsize=64)
def _toeplitz(
    data: bytes, dtype: str, shape: tuple[int, ...], block: int, step: int, spread: int, window: int
) -> npt.NDArray[np.floating]:
    """Return each kernel row's (window, block) matrix, stacked; column j holds taps from j*step."""
    taps = np.frombuffer(data, dtype=dtype).reshape(-1, shape[-1])
    matrix = np.zeros((taps.shape[0], window, block), dtype=dtype)
    for j in range(block):
        matrix[:, j * step + spread * np.arange(shape[-1]), j] = taps
    matrix.flags.writeable = False
    return matrix.reshape(-1, block)
