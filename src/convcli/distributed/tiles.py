"""Arrays larger than memory: a Dask array filtered tile by tile, exactly as the whole.

Each output tile is computed from exactly the input window it needs. Which
input sample a padded position reads comes from the engine's own border
mapping (:func:`convcli.engine.source_index`), so a tile at the border sees
what the whole-array engine sees, for every border mode and for padding wider
than the array. The method is chosen once, for the whole array, and pinned:
direct and separable tiles are then equal to the whole-array result bit for
bit (FFT tiles to float rounding, as FFT bands are). A layer
(``channels="sum"``) is tiled over its rows and columns alone: each tile
reads every input channel of its window and computes all the layer's maps.

Dask's own ``map_overlap`` is not used: its ``reflect`` is NumPy's
``symmetric``, a halo larger than the array raises, and it has no stride.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.distributed import need
from convcli.engine import (
    Convolution,
    ConvolutionPlan,
    LayerPlan,
    as_real_array,
    convolve_bands,
    convolve_layer,
    layer_asked,
    plan_layer,
    source_index,
)

if TYPE_CHECKING:
    import dask.array as da

Reads: TypeAlias = npt.NDArray[np.intp]  # per padded position, the window index it reads


def convolve(x: da.Array | npt.ArrayLike, kernel: npt.ArrayLike, *, chunks: Any = None,
             channels: str = "each", bias: npt.ArrayLike | None = None, groups: int = 1,
             **keywords: Any) -> da.Array:  # fmt: skip
    """Filter a Dask array lazily; the result equals :func:`convcli.convolve` on the whole.

    Takes the keywords of :func:`convcli.convolve` but ``threads`` (those of
    :class:`convcli.engine.Convolution`, and ``channels``, ``bias`` and
    ``groups``), and ``chunks``: the output's chunks, in any form
    :func:`dask.array.core.normalize_chunks` accepts (by default, the
    input's chunks divided by the stride). Channel axes (after the
    kernel's) keep the input's chunks; with ``channels="sum"`` (a layer) a
    tile reads every input channel at once and its ``C_out`` feature maps
    are one chunk. Nothing is computed until the result is.

    Examples
    --------
    >>> import dask.array as da
    >>> import convcli
    >>> x = da.from_array(np.arange(64.0).reshape(8, 8), chunks=5)
    >>> y = convolve(x, np.ones((3, 3)), stride=2)
    >>> y.shape, y.chunks
    ((4, 4), ((3, 1), (3, 1)))
    >>> whole = convcli.convolve(x.compute(), np.ones((3, 3)), stride=2)
    >>> bool((y.compute() == whole).all())
    True

    A layer of 4 filters over 3 channels, chunked across them too:

    >>> rgb = da.from_array(np.arange(192.0).reshape(8, 8, 3), chunks=(5, 5, 2))
    >>> maps = convolve(rgb, np.ones((4, 3, 3, 3)), channels="sum", bias=[0, 1, 2, 3])
    >>> maps.chunks
    ((5, 3), (5, 3), (4,))
    >>> whole = convcli.convolve(rgb.compute(), np.ones((4, 3, 3, 3)), channels="sum",
    ...                          bias=[0, 1, 2, 3])
    >>> bool((maps.compute() == whole).all())
    True
    """
    array: da.Array = need("dask.array").asarray(x)
    asked = Convolution(kernel, **keywords)
    if layer_asked(channels, bias, groups):
        return convolve_layer_tiles(plan_layer(asked, array.shape, bias, groups), array, chunks)
    return convolve_tiles(asked.plan(array.shape), array, chunks=chunks)


def convolve_tiles(plan: ConvolutionPlan, x: da.Array, *, chunks: Any = None) -> da.Array:
    """Filter a Dask array lazily by a plan made for its shape (see :func:`convolve`)."""
    array: da.Array = need("dask.array").asarray(x)
    plan.check_input(array.shape, array.dtype)
    return _tiled(array, plan, _output_chunks(array, plan, chunks), _compute_tile)


def convolve_layer_tiles(plan: LayerPlan, x: da.Array, chunks: Any = None) -> da.Array:
    """Apply a layer planned for a Dask array's shape lazily (see :func:`convolve`).

    Only the spatial axes are chunked: a tile reads every input channel of
    its window, and writes all of the layer's maps.
    """
    array: da.Array = need("dask.array").asarray(x)
    as_real_array("input", np.empty(0, dtype=array.dtype))
    maps = () if plan.single else ((plan.taps.shape[0],),)
    out_chunks = (*_output_chunks(array, plan, chunks)[:2], *maps)
    return _tiled(array, plan, out_chunks, _compute_layer_tile)


def _tiled(
    array: da.Array,
    plan: ConvolutionPlan | LayerPlan,
    out_chunks: tuple[tuple[int, ...], ...],
    compute: Callable[..., npt.NDArray[np.floating]],
) -> da.Array:
    """Build the graph: one task per output tile, ``compute`` given the input chunks it reads."""
    arrays, graphs, base = need("dask.array"), need("dask.highlevelgraph"), need("dask.base")
    name = "convcli-convolve-" + base.tokenize(array, plan, out_chunks)
    layer = {}
    starts = [np.cumsum((0, *sizes[:-1])) for sizes in out_chunks]
    for index in np.ndindex(*(len(sizes) for sizes in out_chunks)):
        ranges = [(int(starts[axis][i]), int(starts[axis][i] + out_chunks[axis][i]))
                  for axis, i in enumerate(index)]  # fmt: skip
        if isinstance(plan, LayerPlan):  # every input channel, whichever maps the tile writes
            ranges = ranges[:2] + [(0, n) for n in array.shape[2:]]
        layer[(name, *index)] = (compute, *_tile_inputs(array, plan, ranges), plan)
    graph = graphs.HighLevelGraph.from_collections(name, layer, dependencies=[array])
    result: da.Array = arrays.Array(graph, name, out_chunks, dtype=plan.taps.dtype)
    return result


def _output_chunks(
    x: da.Array, plan: ConvolutionPlan | LayerPlan, chunks: Any
) -> tuple[tuple[int, ...], ...]:
    """Return the output's chunks: ``chunks`` on the spatial axes, the input's on the others.

    By default a spatial axis takes the input's chunk size divided by the stride.
    """
    g = plan.geometry
    if chunks is None:
        sizes = zip(x.chunksize, g.stride, strict=False)
        chunks = [max(1, -(-size // step)) for size, step in sizes]
    elif not isinstance(chunks, tuple | list):
        chunks = [chunks] * g.spatial_ndim
    spatial = need("dask.array").core.normalize_chunks(
        tuple(chunks), g.output_shape[: g.spatial_ndim], dtype=plan.taps.dtype
    )
    return (*spatial, *x.chunks[g.spatial_ndim :])


def _tile_inputs(
    x: da.Array, plan: ConvolutionPlan | LayerPlan, ranges: list[tuple[int, int]]
) -> tuple[list[tuple[Any, ...]], list[tuple[int, ...]], list[tuple[int, int]]]:
    """Find the input chunks the output tile covering ``ranges`` reads: keys and first indices.

    What goes into the graph is only this (and the ranges): the task works
    out its window again from them, so a graph of many tiles stays small.
    """
    needed, _ = _window(plan, ranges)
    starts = [np.cumsum((0, *sizes)) for sizes in x.chunks]
    owners = [
        np.unique(np.searchsorted(bounds, indices, side="right") - 1)
        for bounds, indices in zip(starts, needed, strict=True)
    ]
    keys, firsts = [], []
    for index in itertools.product(*owners):
        keys.append((x.name, *(int(i) for i in index)))
        firsts.append(tuple(int(starts[axis][i]) for axis, i in enumerate(index)))
    return keys, firsts, ranges


def _window(
    plan: ConvolutionPlan | LayerPlan, ranges: list[tuple[int, int]]
) -> tuple[list[npt.NDArray[np.intp]], list[Reads]]:
    """Work out the window of the output tile covering ``ranges`` (output indices, per axis).

    The window holds, per axis, only the input indices the tile reads, in
    order (a wrapped or mirrored corner reads both ends of an axis, not what
    lies between). Returns those indices and, per spatial axis, the window
    index each padded position reads (-1: the zero mode's fill).
    """
    g = plan.geometry
    needed: list[npt.NDArray[np.intp]] = []
    reads: list[Reads] = []
    for axis in range(g.spatial_ndim):
        (start, stop), step = ranges[axis], g.stride[axis]
        span = g.dilation[axis] * (g.kernel_shape[axis] - 1)
        positions = np.arange(start * step, (stop - 1) * step + span + 1)
        sources = source_index(positions, g.input_shape[axis], g.padding[axis][0], plan.pad_mode)
        indices = np.unique(sources[sources >= 0])
        if not indices.size:  # all fill: any one sample stands in, never read
            indices = np.zeros(1, dtype=np.intp)
        needed.append(indices)
        reads.append(np.where(sources >= 0, np.searchsorted(indices, sources), -1))
    needed += [np.arange(start, stop) for start, stop in ranges[g.spatial_ndim :]]  # channels
    return needed, reads


def _compute_tile(
    chunks: list[npt.NDArray[np.generic]],
    firsts: list[tuple[int, ...]],
    ranges: list[tuple[int, int]],
    plan: ConvolutionPlan,
) -> npt.NDArray[np.floating]:
    """Gather the padded input a tile reads (in the compute dtype) and filter it, unpadded."""
    g = plan.geometry
    exact = sums_exactly(plan, chunks[0].dtype)  # the integer path, where the whole array takes it
    gathered = _gathered(chunks, firsts, ranges, plan, None if exact else plan.taps.dtype)
    tile = Convolution(plan.taps, padding=0, pad_mode=plan.pad_mode, pad_value=plan.pad_value,
                       stride=g.stride, dilation=g.dilation, method=plan.method,
                       dtype=plan.taps.dtype, integer=False).plan(gathered.shape)  # fmt: skip
    tile = dataclasses.replace(tile, integer=plan.integer) if exact else tile
    return np.concatenate([band for _, band in convolve_bands(tile, gathered, threads=1)])


def _compute_layer_tile(
    chunks: list[npt.NDArray[np.generic]],
    firsts: list[tuple[int, ...]],
    ranges: list[tuple[int, int]],
    plan: LayerPlan,
) -> npt.NDArray[np.floating]:
    """Gather the padded input a layer's tile reads, every channel, and apply the layer to it."""
    g = plan.geometry
    gathered = _gathered(chunks, firsts, ranges, plan, plan.taps.dtype)
    # The taps are flipped already, if asked.
    tile = Convolution(plan.taps, padding=0, pad_mode=plan.pad_mode, pad_value=plan.pad_value,
                       stride=g.stride, dilation=g.dilation, method=plan.method,
                       dtype=plan.taps.dtype)  # fmt: skip
    maps = convolve_layer(gathered, tile, plan.bias, plan.groups, threads=1)
    return maps[..., 0] if plan.single else maps


def _gathered(
    chunks: list[npt.NDArray[np.generic]],
    firsts: list[tuple[int, ...]],
    ranges: list[tuple[int, int]],
    plan: ConvolutionPlan | LayerPlan,
    dtype: np.dtype[Any] | None,
) -> npt.NDArray[Any]:
    """Return the padded input the tile covering ``ranges`` reads, in ``dtype`` (None: the input's).

    The padding is in place: read through the engine's border mapping, and
    the zero mode's fill set to ``pad_value``.
    """
    needed, reads = _window(plan, ranges)
    window = np.empty([len(indices) for indices in needed], dtype=chunks[0].dtype)
    for chunk, first in zip(chunks, firsts, strict=True):
        inner, outer = [], []
        for indices, start, size in zip(needed, first, chunk.shape, strict=True):
            (places,) = np.nonzero((indices >= start) & (indices < start + size))
            inner.append(indices[places] - start)
            outer.append(places)
        window[np.ix_(*outer)] = chunk[np.ix_(*inner)]
    gathered = window[np.ix_(*(np.maximum(read, 0) for read in reads))]
    gathered = gathered if dtype is None else gathered.astype(dtype)
    for axis, read in enumerate(reads):
        if (read < 0).any():  # the zero mode's fill
            gathered[(slice(None),) * axis + (read < 0,)] = plan.pad_value
    return gathered


def sums_exactly(plan: ConvolutionPlan, dtype: np.dtype[Any]) -> bool:
    """Say whether the plan sums samples of ``dtype`` in integers, its fill one of them."""
    if plan.sum_type(dtype) is None:
        return False
    info = np.iinfo(dtype)
    return bool(info.min <= plan.sum_fill <= info.max)
