"""One input larger than memory, filtered tile by tile: ``apply BIG.tif -k K --tile N``.

The input (``.npy``, TIFF or a Zarr array) is read a region at a time by
whoever computes a tile (a thread here, or a worker of the cluster given
with ``--scheduler``), every kernel of the pipeline is
:func:`convcli.distributed.tiles.convolve` (a layer's with its bias), every
activation and pool the engine's on each tile (a pool's tiles are whole
windows: see :func:`convcli.run.tiling.stage_tiles`), and the output is written tile
by tile into a temporary file or folder beside the target (a ``.npy`` or a
Zarr array by the tiles' own tasks, a TIFF streamed in order by this
process), renamed into place once whole. The values are those of the
whole-image path: the same stages, methods, component combination, bias and
range mapping.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from convcli._version import __version__
from convcli.choices import Depth, FileFormat, Range, Status
from convcli.distributed import need
from convcli.distributed.tiles import convolve_layer_tiles, convolve_tiles, sums_exactly
from convcli.engine import plan_layer
from convcli.errors import InputError, cannot_write
from convcli.io.arrays import NpyRegions, TiffRegions, ZarrRegions, write_tiled_tiff
from convcli.io.atomic import replaced_atomically
from convcli.io.picture import Header
from convcli.io.reading import probe_image
from convcli.io.storage import written_or_removed
from convcli.ranges import Bounds, clipped_share, finite_bounds, map_bounds, map_range
from convcli.report import Report, StageReport
from convcli.run.filtering import combined
from convcli.run.layer import layer_convolution, run_step
from convcli.run.model import (
    InputPlan,
    Job,
    LayerStage,
    Planned,
    RunOptions,
    Settings,
    Stage,
    StepStage,
)
from convcli.run.output import provenance, strides
from convcli.run.pipeline import stage_report, tell_clipped
from convcli.run.prepare import prepare_input
from convcli.run.tiling import TILED, stage_tiles

if TYPE_CHECKING:
    import dask.array as da
    from distributed import Client

    from convcli.io.storage import Location


def run_tiled(job: Job, settings: Settings, options: RunOptions, client: Client | None) -> Report:
    """Run a job marked tiled: its header read, its plan made, then :func:`process_tiled`."""
    assert job.source is not None
    assert job.target is not None
    assert job.tile is not None
    header = probe_image(job.source, job.label, TILED)
    planned = prepare_input(header, settings, job.format, TILED)
    return process_tiled(job.source, job.target, header, planned, settings, tile=job.tile,
                         label=job.label, dry_run=options.dry_run, scheduler=client,
                         workers=options.workers)  # fmt: skip


def process_tiled(
    source: Location,
    target: Location,
    header: Header,
    planned: InputPlan,
    settings: Settings,
    *,
    tile: int,
    label: str,
    dry_run: bool = False,
    scheduler: Client | None = None,
    workers: int = 1,
) -> Report:
    """Filter an input in tiles of ``tile`` output samples a side into ``target``.

    Runs on the Dask cluster of ``scheduler``, a client, if given, else in
    ``workers`` threads here.

    Raises
    ------
    InputError
        The output cannot be written.
    """
    started = time.perf_counter()
    report = Report(label, str(target), settings.kernel_name, settings.pad_mode)
    report.input_shape, report.output_shape = planned.input_shape, planned.output_shape
    report.range = planned.range
    regions = _regions(source, header)
    report.stages = _stage_reports(planned, regions.dtype)
    if dry_run:
        report.status = Status.PLANNED
        report.seconds = time.perf_counter() - started
        return report
    sides = stage_tiles(planned.stages, tile)
    chunks = _input_chunks(planned, sides[0], regions.shape)
    x = need("dask.array").from_array(regions, chunks=chunks, asarray=False,
                                      lock=False, fancy=False)  # fmt: skip
    for stage, side in zip(planned.stages, sides, strict=True):
        x = _stage(x, stage, side, settings)
    here = {"scheduler": "threads", "num_workers": workers}
    with need("dask").config.set(here if scheduler is None else {"scheduler": scheduler}):
        values = _mapped(x, planned, header.white)  # rescale computes the extremes here
        # Counted with the writing, in the same computations: the response is made once.
        clipped = need("dask.array").map_blocks(
            _clipped_block, x, planned.range, header.white, planned.depth,
            chunks=(1,) * x.ndim, dtype=np.float64,
        )  # fmt: skip
        if planned.format.name == FileFormat.TIF:
            carried: dict[str, Any] = {}
            if isinstance(source, Path) and header.format == FileFormat.TIF and not settings.strip:
                carried, exif = TiffRegions.carried(source, strides(planned))
                if exif:
                    report.notes.append(f"{label}: its EXIF is not carried in tiles")
            outside = _write_tiff(values, clipped, _file(target), settings, planned, carried, tile)
        elif planned.format.name == FileFormat.ZARR:
            outside = _write_zarr(values, clipped, target, settings, planned)
        else:
            outside = _write_npy(values, clipped, _file(target))
    advised = () if planned.layered else settings.convolutions  # as the whole-image path
    tell_clipped(report, outside / max(1, values.size), planned.range, advised)
    report.seconds = time.perf_counter() - started
    return report


def _stage_reports(planned: InputPlan, dtype: np.dtype[Any]) -> list[StageReport]:
    """Report each stage, named as its tiles are filtered: the input's samples, then floats."""
    reports = []
    for stage in planned.stages:
        if isinstance(stage, Stage):
            exact = any(sums_exactly(plan, dtype) for plan in stage.plans)
            method = stage.method_for(dtype) if exact else str(stage.method)
        else:
            method = stage.method_for(dtype)
        reports.append(stage_report(stage, method, None))
        dtype = np.dtype(np.float32)  # what every stage yields
    return reports


def _regions(source: Location, header: Header) -> NpyRegions | TiffRegions | ZarrRegions:
    """Open the input to be read a region at a time (by absolute path: workers are elsewhere)."""
    if header.format == FileFormat.ZARR:
        store = _store(source)
        array = need("zarr").open_array(store=store, mode="r")
        return ZarrRegions(store, array.shape, array.dtype)
    where = _file(source).absolute()
    if header.format == FileFormat.NPY:
        mapped: npt.NDArray[np.generic] = np.load(where, mmap_mode="r", allow_pickle=False)
        return NpyRegions(where, mapped.shape, mapped.dtype)
    shape, dtype = TiffRegions.layout(where)
    if shape != header.shape:
        raise InputError(f"{source}: its first image is laid out as {shape}, unlike its header")
    return TiffRegions(where, shape, dtype)


def _input_chunks(planned: InputPlan, side: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Input chunks that make output tiles of ``side`` samples a side in the first stage.

    Every channel of a chunk is read with it (a layer's tile reads them all).
    """
    g = planned.stages[0].geometry
    spatial = tuple(side * step for step in g.stride[: g.spatial_ndim])
    return (*spatial, *shape[len(spatial) :])


def _stage(x: da.Array, stage: Planned, side: int, settings: Settings) -> da.Array:
    """Run one stage of the pipeline lazily, into output tiles of ``side`` samples a side."""
    if isinstance(stage, LayerStage):
        kernel = stage.kernel
        plan = plan_layer(layer_convolution(stage, settings), x.shape, kernel.filter_bias,
                          kernel.groups)  # fmt: skip
        return convolve_layer_tiles(plan, x, side)
    if isinstance(stage, StepStage):
        return _step(x, stage)
    parts = [convolve_tiles(plan, x, chunks=side) for plan in stage.plans]
    if len(parts) == 1 and not stage.kernel.bias:
        return parts[0]
    combined: da.Array = need("dask.array").map_blocks(_combine, *parts, stage.kernel.bias,
                                                        stage.kernel.combine,
                                                        dtype=np.float32)  # fmt: skip
    return combined


def _step(x: da.Array, stage: StepStage) -> da.Array:
    """Run an activation on each tile, or a pool on each (its stride its window: check_tile).

    A pool drops the rows and columns past its last whole window first, as
    the whole does, so every tile holds whole windows.
    """
    arrays = need("dask.array")
    kind = run_step(np.zeros(stage.geometry.kernel_shape, x.dtype), stage).dtype  # the engine's
    if not stage.step.pool:
        stepped: da.Array = arrays.map_blocks(run_step, x, stage, dtype=kind)
        return stepped
    k = stage.step.size
    rows, columns = stage.output_shape[:2]
    whole = x[: rows * k, : columns * k]
    spatial = tuple(tuple(size // k for size in sizes) for sizes in whole.chunks[:2])
    pooled: da.Array = arrays.map_blocks(run_step, whole, stage, dtype=kind,
                                         chunks=(*spatial, *whole.chunks[2:]))  # fmt: skip
    return pooled


def _combine(*parts_bias_and_how: Any) -> npt.NDArray[np.floating]:
    *parts, bias, how = parts_bias_and_how
    return combined([np.array(part, dtype=np.float32) for part in parts], bias, how)  # copies


def _mapped(x: da.Array, planned: InputPlan, white: float) -> da.Array:
    """Map the response to the output's samples, tile by tile (rescale: bounds first).

    ``rescale`` maps a layer's feature maps each from its own extremes, as
    the whole-image path does (run/filtering.py, ``map_whole``).
    """
    if planned.range == Range.RAW and planned.depth == Depth.FLOAT32:
        return x
    bounds, arrays = None, need("dask.array")
    if planned.range == Range.RESCALE and planned.format.maps and x.ndim == 3:
        bounds = _map_bounds(x)
    elif planned.range == Range.RESCALE:  # the whole response's extremes first, as locally
        edges = arrays.map_blocks(_block_bounds, x, chunks=(2,) + (1,) * (x.ndim - 1),
                                  dtype=np.float64)  # fmt: skip
        lows, highs = need("dask").compute(edges[0::2], edges[1::2])
        lows, highs = lows[np.isfinite(lows)], highs[np.isfinite(highs)]
        bounds = (float(lows.min()), float(highs.max())) if lows.size else None
    mapped: da.Array = arrays.map_blocks(_map_block, x, planned.range, white, planned.depth,
                                         bounds, dtype=planned.depth)  # fmt: skip
    return mapped


def _block_bounds(block: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    found = finite_bounds(block) or (np.nan, np.nan)
    return np.array(found, dtype=np.float64).reshape((2,) + (1,) * (block.ndim - 1))


def _map_bounds(x: da.Array) -> Bounds:
    """Return each map's finite extremes (the last axis) from every tile's, as map_bounds does."""
    # A layer's tile makes every map in one chunk, and the stages after it keep them so.
    assert len(x.chunks[-1]) == 1, "a tile's maps are one chunk"
    count = x.shape[-1]
    edges = need("dask.array").map_blocks(_block_map_bounds, x, dtype=np.float64,
                                          chunks=(2, 1, count))  # fmt: skip
    lows, highs = need("dask").compute(edges[0::2], edges[1::2])
    # NaN (a tile's map without one finite value) is passed over; NaN if every tile's is.
    low = np.fmin.reduce(lows.reshape(-1, count), axis=0)
    high = np.fmax.reduce(highs.reshape(-1, count), axis=0)
    return low, high


def _block_map_bounds(block: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    found = map_bounds([block])
    assert found is not None, "one block, one pair"
    return np.stack(found).astype(np.float64).reshape(2, 1, block.shape[-1])


def _map_block(
    block: npt.NDArray[np.floating],
    mode: Range,
    white: float,
    depth: Depth,
    bounds: tuple[float, float] | None,
) -> npt.NDArray[np.generic]:
    with np.errstate(all="ignore"):
        return map_range(block, mode, white=white, depth=depth, bounds=bounds).values


def _clipped_block(
    block: npt.NDArray[np.floating], mode: Range, white: float, depth: Depth
) -> npt.NDArray[np.float64]:
    """Count the values of a tile that the range mapping clips."""
    with np.errstate(all="ignore"):
        share = clipped_share(block, mode, white=white, depth=depth)
    return np.full((1,) * block.ndim, share * block.size)


def _write_npy(values: da.Array, clipped: da.Array, target: Path) -> float:
    """Write ``values`` into a ``.npy``: each tile's task writes its own region.

    Returns how many values were clipped (``clipped``, computed alongside).
    """
    with _atomically(target) as temporary:
        out = NpyRegions.create(temporary, values.shape, values.dtype)
        stored = need("dask.array").store(values, out, lock=False, compute=False)
        _, outside = need("dask").compute(stored, need("dask.array").sum(clipped))
    return float(outside)


def _write_zarr(
    values: da.Array, clipped: da.Array, target: Location, settings: Settings, planned: InputPlan
) -> float:
    """Write ``values`` into a Zarr array: each tile's task writes its own chunk, at once.

    The chunks are the tiles, so no two tasks write one chunk. The array's
    attributes carry convcli's provenance. A folder is written beside the
    target and renamed into place; in a store, which has no rename, the
    objects are written in place and removed if the writing fails. Returns
    how many values were clipped.
    """
    made_by = {"software": f"convcli {__version__}",
               "description": provenance(settings, planned.range)}  # fmt: skip
    tiles = tuple(int(side) for side in values.chunksize)
    with contextlib.ExitStack() as stack:
        if isinstance(target, Path):
            store = str(stack.enter_context(_atomically(target, folder=True)))
        else:
            stack.enter_context(written_or_removed(target))
            store = str(target)
        out = ZarrRegions.create(store, values.shape, values.dtype, tiles, made_by)
        stored = need("dask.array").store(values, out, lock=False, compute=False)
        _, outside = need("dask").compute(stored, need("dask.array").sum(clipped))
    return float(outside)


def _store(where: Location) -> str:
    """Return a Zarr store's path (absolute: workers are elsewhere) or its URL."""
    return str(where.absolute()) if isinstance(where, Path) else str(where)


def _file(where: Location) -> Path:
    assert isinstance(where, Path), "planning refuses .npy and TIFF in a store, tiled"
    return where


def _write_tiff(
    values: da.Array,
    clipped: da.Array,
    target: Path,
    settings: Settings,
    planned: InputPlan,
    carried: dict[str, Any],
    tile: int,
) -> float:
    """Write ``values`` into a tiled TIFF, a row of tiles at a time, in order.

    Returns how many values were clipped (``clipped``, computed row by row alongside).
    """
    outside = [0.0]

    def rows() -> Iterator[npt.NDArray[np.generic]]:
        for index in range(values.numblocks[0]):
            row, count = need("dask").compute(
                values.blocks[index], need("dask.array").sum(clipped.blocks[index])
            )
            outside[0] += float(count)
            yield np.asarray(row)

    colour = values.ndim == 3 and values.shape[2] == 3
    options = {"photometric": "rgb" if colour else "minisblack", "metadata": None,
               "software": f"convcli {__version__}",
               "description": provenance(settings, planned.range), **carried}  # fmt: skip
    with _atomically(target) as temporary:
        write_tiled_tiff(temporary, rows(), values.shape, values.dtype, tile, options)
    return outside[0]


@contextlib.contextmanager
def _atomically(target: Path, *, folder: bool = False) -> Iterator[Path]:
    """Yield a temporary file (or ``folder``) beside ``target``, renamed over it once written.

    Absolute, as a cluster's workers may write it; what the system refuses
    (a full disk, a locked folder) fails this input alone.
    """
    try:
        with replaced_atomically(target.absolute(), folder=folder) as temporary:
            yield temporary
    except OSError as error:
        raise cannot_write(target, error) from None
