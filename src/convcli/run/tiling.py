"""Which jobs are filtered in tiles, and the checks a tiled input and its output must pass.

An input is tiled when asked (``tile``), or when it is an ``.npy`` too large
to hold whole; only ``.npy``, TIFF and Zarr are read and written by region.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from convcli import extras
from convcli.choices import FORMAT_ALIASES, FileFormat
from convcli.errors import ConvcliError, Message, ParameterError
from convcli.io.checks import too_many
from convcli.io.formats import output_format
from convcli.io.picture import Header
from convcli.io.storage import exists, is_remote, is_zarr_store
from convcli.limits import MAX_PIXELS_LIMIT
from convcli.run.model import InputPlan, Job, Planned, Settings, StepStage
from convcli.run.prepare import prepare_input

if TYPE_CHECKING:
    from convcli.io.storage import Location


TILED = MAX_PIXELS_LIMIT  # the pixel limit of an input filtered in tiles: each tile is held


TILEABLE = (FileFormat.NPY, FileFormat.TIF, FileFormat.ZARR)  # by region (io/arrays.py)


def tileable(path: Location) -> bool:
    """Whether a file's name says it can be read a region at a time."""
    suffix = path.suffix.lower().lstrip(".")
    return FORMAT_ALIASES.get(suffix, suffix) in TILEABLE or is_zarr_store(path)


def mark_tiled(
    jobs: list[Job],
    headers: dict[Location | None, Header | None],
    settings: Settings,
    tile: int | None,
    max_pixels: int,
) -> list[Job]:
    """Mark the jobs to filter in tiles, refusing what cannot be.

    With --tile, every job; without, an .npy over --max-pixels, whose header
    cannot claim more values than the file holds (a compressed TIFF or Zarr
    array can, as a decompression bomb does: they are tiled only when asked).
    """
    if tile is not None:
        if settings.gray or settings.colormap:
            raise _refused("{tile} does not take {gray} or {colormap}")
        return [_as_tiled(job, headers.get(job.source), tile) for job in jobs]
    for job in jobs:
        _refuse_whole_zarr(job, headers.get(job.source))
    return [
        _over_the_limit(job, headers.get(job.source), job.settings_for(settings), max_pixels)
        for job in jobs
    ]


AUTO_TILE = 4096  # the tile of an .npy over --max-pixels, halved until its window fits


def _over_the_limit(job: Job, header: Header | None, settings: Settings, max_pixels: int) -> Job:
    """Tile an .npy too large to hold whole, when its output can be written in tiles.

    Otherwise (no distributed extra, an image output) it fails alone, saying --tile.
    """
    fmt = job.format
    if header is None or header.format != FileFormat.NPY or not too_many(header.shape, max_pixels):
        return job
    if fmt is None or fmt.name not in TILEABLE or settings.gray or settings.colormap:
        return job
    if job.skip is not None or job.failure is not None or not extras.has("dask"):
        return job
    try:
        planned = prepare_input(header, settings, fmt, TILED)
    except ConvcliError:
        return job  # check_jobs says why
    if _not_tiled(planned) is not None:
        return job  # check_jobs says the input is over the limit
    tile = AUTO_TILE
    while tile > 16 and _over_the_limit_in(planned, tile, max_pixels) is not None:
        tile //= 2
    return _as_tiled(job, header, tile)


def _as_tiled(job: Job, header: Header | None, tile: int) -> Job:
    """Mark a job to be filtered in tiles; refuse what cannot be (exit 2)."""
    if job.skip is not None or job.failure is not None:
        return job
    if is_remote(job.source) and (header is None or header.format != FileFormat.ZARR):
        raise ParameterError("tile reads Zarr arrays from a store; a .npy or TIFF must be a file",
                             parameter="tile", context=f"{job.label}: ")  # fmt: skip
    if header is None:
        return job
    if header.format not in TILEABLE or job.content is not None:
        raise ParameterError(f"tile filters .npy, TIFF and Zarr; this is a {header.format}",
                             parameter="tile", context=f"{job.label}: ")  # fmt: skip
    if header.alpha or header.is_cmyk or header.frames > 1:
        what = "alpha" if header.alpha else "CMYK" if header.is_cmyk else f"{header.frames} pages"
        raise ParameterError(f"tile takes one grey or colour image, not {what}",
                             parameter="tile", context=f"{job.label}: ")  # fmt: skip
    fmt = job.format or (output_format(job.target.suffix) if job.target else None)
    if fmt is None or fmt.name not in TILEABLE:
        raise _refused("{tile} writes .npy, TIFF or Zarr outputs: give {output} NAME.npy, "
                       "NAME.tif or NAME.zarr, a folder, or {format}")  # fmt: skip
    if is_remote(job.target) and fmt.name != FileFormat.ZARR:
        raise ParameterError("tile writes Zarr arrays to a store; a .npy or TIFF output must "
                             "be a file", parameter="tile")  # fmt: skip
    if fmt.name == FileFormat.TIF and tile % 16:
        raise ParameterError(f"tile {tile}: a TIFF's tiles are a multiple of 16 samples a side",
                             parameter="tile")  # fmt: skip
    if fmt.name == FileFormat.ZARR and job.target is not None and exists(job.target):
        raise ParameterError(Message("{target} exists: a Zarr array is never written over "
                                     "another; remove it, or give another {output} or "
                                     "{skip_existing}", target=job.target),
                             parameter="output")  # fmt: skip
    return replace(job, tile=tile)


def _refuse_whole_zarr(job: Job, header: Header | None) -> None:
    """Refuse a Zarr array in or out without --tile: it is read and written a tile at a time."""
    if job.skip is None and FileFormat.ZARR in (
        header and header.format,
        job.format and job.format.name,
    ):
        raise _refused("{label}: a Zarr array is read and written in tiles: give {tile} N",
                       label=job.label)  # fmt: skip


def check_tile(planned: InputPlan, tile: int, max_pixels: int) -> None:
    """Refuse what is not filtered tile by tile, and a tile whose window would pass the limit.

    A pool must pool each tile on its own, and a layer's maps are not
    written as TIFF pages in tiles; a tile may read (or a layer's tile
    hold) at most 8 x --max-pixels values.
    """
    why = _not_tiled(planned) or _over_the_limit_in(planned, tile, max_pixels)
    if why is not None:
        raise why


def _over_the_limit_in(planned: InputPlan, tile: int, max_pixels: int) -> ParameterError | None:
    """Say which stage's tile would read (or, a layer's, make) over 8 x --max-pixels values."""
    for stage, side in zip(planned.stages, stage_tiles(planned.stages, tile), strict=True):
        for verb, values in (("reads", tile_window(stage, side)), ("makes", _made(stage, side))):
            if values > 8 * max_pixels:
                return _refused(
                    "{tile} {side}: a tile of {kernel} {verb} {values} values, over the limit "
                    "of {limit} (8 x {max_pixels}); choose a smaller tile",
                    side=tile, kernel=stage.name, verb=verb, values=values,
                    limit=8 * max_pixels,
                )  # fmt: skip
    return None


def _not_tiled(planned: InputPlan) -> ParameterError | None:
    """Say why a plan cannot be tiled: a pool whose windows cross tiles, or a TIFF of maps."""
    for stage in planned.stages:
        if isinstance(stage, StepStage) and stage.step.pool:
            step = stage.step
            if step.padding or step.stride != step.size:
                return _refused(
                    "{tile} pools each tile on its own: {kernel} needs its stride equal to its "
                    "window and no padding ({kind}:{size}); leave out {tile}",
                    kernel=step.name, kind=step.kind, size=step.size,
                )  # fmt: skip
    if planned.format.paged and len(planned.output_shape) == 3:
        return _refused("{tile} writes a layer's maps to .npy or Zarr, not as TIFF pages: "
                        "give {output} NAME.npy or NAME.zarr")  # fmt: skip
    return None


def stage_tiles(stages: list[Planned], tile: int) -> list[int]:
    """Return each stage's output tiles' side: ``tile`` for the last.

    Before a pool (stride = window k) the side is k times the pool's, so
    that each tile pools on its own, exactly as the whole.
    """
    sides, side = [], tile
    for stage in reversed(stages):
        sides.append(side)
        if isinstance(stage, StepStage) and stage.step.pool:
            side *= stage.step.size
    return sides[::-1]


def _refused(template: str, **values: object) -> ParameterError:
    """Refuse a tiled run (``--tile``): ``template`` and ``values`` make a :class:`Message`."""
    return ParameterError(Message(template, **values), parameter="tile")


def tile_window(stage: Planned, tile: int) -> int:
    """Count the input values one tile of ``tile`` output samples a side reads in ``stage``.

    A tile is clipped to the output: past it there is nothing to compute or read.
    """
    g = stage.geometry
    sides = zip(g.output_shape[: g.spatial_ndim], g.stride, g.dilation, g.kernel_shape, strict=True)
    return math.prod((min(tile, n) - 1) * s + d * (k - 1) + 1 for n, s, d, k in sides) * math.prod(
        g.channel_shape
    )


def _made(stage: Planned, tile: int) -> int:
    """Count the values one tile of ``stage`` gives: a layer's, every map of its tile."""
    shape, spatial = stage.output_shape, stage.geometry.spatial_ndim
    return math.prod(min(tile, n) for n in shape[:spatial]) * math.prod(shape[spatial:])
