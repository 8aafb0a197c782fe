"""One stage's filtering of an array, in bands of rows, and the mapping of its result.

A kernel's components are combined band by band (magnitude, maximum, Frei
and Chen's share) and its bias added; the last stage maps each band straight
to the output's samples, so no full-size float copy is made (except for
``rescale``). Exact integer sums (the engine's integer path) are mapped
through a table of every sum they can be: the float path's bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from convcli.catalog.kernel import FREI_CHEN, FREI_CHEN_EDGES, MAGNITUDE, MAXIMUM
from convcli.choices import Depth, Range
from convcli.engine import ConvolutionPlan, band_rows, convolve_bands, mapped_sums
from convcli.ranges import Bounds, finite_bounds, levels, map_bounds, map_range
from convcli.run.model import InputPlan, Stage
from convcli.run.prepare import written_maps
from convcli.run.streaming import Rows

if TYPE_CHECKING:
    from convcli.heat import HeatReducer

# Exact sums are mapped through a table of every sum they can be, up to this many (or
# a 16th of the output's samples, if more): a table took 20 to 80 ns a sum to make,
# mapping a float 5 (tables of 2^16 and 2^19 sums; 4096x4096 RGB in 0.24 s).
TABLE_SUMS = 1 << 16
BandT = TypeVar("BandT")


def map_whole(
    x: npt.NDArray[np.floating], planned: InputPlan, white: float, heat: HeatReducer | None
) -> tuple[npt.NDArray[np.generic], float]:
    """Map a layer's (or a step's) whole result to the output; return it and the clipped share."""
    if x.ndim == 3 and len(written_maps(planned.stages, planned.format)) == 2:
        x = x[..., 0]  # one feature map: grey
    if heat is not None:
        heat.add(x)
    bounds: Bounds | None = None
    if planned.range == Range.RESCALE:  # a layer's maps: each from its own extremes
        bounds = map_bounds([x]) if planned.format.maps and x.ndim == 3 else finite_bounds(x)
    mapped = map_range(x, planned.range, white=white, depth=planned.depth, bounds=bounds)
    return mapped.values, mapped.clipped


def stage_bands(
    x: npt.NDArray[np.generic], stage: Stage, threads: int | None
) -> Iterator[tuple[int, npt.NDArray[np.floating]]]:
    """Yield the stage's response in bands of rows: components combined, bias added."""
    # One band layout for every component (each method would size its own): combined band by band.
    rows = min(band_rows(p.geometry, p.method, p.taps.dtype.itemsize) for p in stage.plans)
    streams = [convolve_bands(plan, x, rows=rows, threads=threads) for plan in stage.plans]
    for parts in zip(*streams, strict=True):
        yield (
            parts[0][0],
            combined([band for _, band in parts], stage.kernel.bias, stage.kernel.combine),
        )


def combined(
    parts: list[npt.NDArray[np.floating]], bias: float, how: str | None = MAGNITUDE
) -> npt.NDArray[np.floating]:
    """Combine a kernel's component responses (``how``: magnitude, max, frei-chen); add its bias."""
    band = parts[0]
    if len(parts) > 1 and how == MAXIMUM:  # a rotation set: the largest response
        for part in parts[1:]:
            np.maximum(band, part, out=band)
    elif len(parts) > 1 and how == FREI_CHEN:
        band = _share(parts, FREI_CHEN_EDGES)
    elif len(parts) > 1:
        np.square(band, out=band)
        for part in parts[1:]:
            band += np.square(part, out=part)
        np.sqrt(band, out=band)
    if bias:
        band += np.float32(bias)
    return band


def _share(parts: list[npt.NDArray[np.floating]], first: int) -> npt.NDArray[np.floating]:
    """Return sqrt(sum of the first responses^2 / sum of all^2), 0 where all are 0, in place."""
    for part in parts:
        np.square(part, out=part)
    band = parts[0]
    for part in parts[1:first]:
        band += part
    whole = band.copy()
    for part in parts[first:]:
        whole += part
    np.divide(band, whole, out=band, where=whole > 0)
    np.sqrt(band, out=band)
    return band


def filter_stage(
    x: npt.NDArray[np.generic], stage: Stage, threads: int | None
) -> npt.NDArray[np.floating]:
    """Return the stage's whole response (float32): a stage before the last."""
    out = np.empty(stage.geometry.output_shape, dtype=np.float32)
    for start, band in stage_bands(x, stage, threads):
        out[start : start + len(band)] = band
    return out


def filter_and_map(
    x: npt.NDArray[np.generic],
    stage: Stage,
    planned: InputPlan,
    white: float,
    threads: int | None,
    heat: HeatReducer | None = None,
    rows: Rows | None = None,
) -> tuple[npt.NDArray[np.generic], float]:
    """Filter and map to the output range band by band; return the values and the clipped share.

    ``heat`` takes each band of the response as it is, before it is mapped; ``rows``,
    where given, holds the values and is told as each band of them is final.
    """
    plan = None if heat is not None else _summing(x, stage, planned)
    if plan is not None:
        return _sum_and_map(x, plan, stage, planned, white, threads, rows)
    bounds: Bounds | None = None
    maps = planned.format.maps and len(stage.geometry.output_shape) == 3  # one map: (H, W)
    if planned.range == Range.RESCALE and maps:  # each map its own extremes
        bounds = map_bounds(band for _, band in stage_bands(x, stage, threads))
    elif planned.range == Range.RESCALE:
        # The minimum and maximum of the whole response come first. Filtering twice,
        # keeping nothing the first time, stays banded; holding the float response
        # would not (benchmarks/README.md).
        bands = stage_bands(x, stage, threads)
        found = [edges for _, band in bands if (edges := finite_bounds(band))]
        bounds = (min(low for low, _ in found), max(high for _, high in found)) if found else None
    bands = stage_bands(x, stage, threads)
    values = _values(stage, planned, rows)
    clipped = 0.0
    for start, band in bands:
        if heat is not None:
            heat.add(band)
        mapped = map_range(band, planned.range, white=white, depth=planned.depth, bounds=bounds)
        values[start : start + len(band)] = mapped.values
        clipped += mapped.clipped * band.size
        if rows is not None:
            rows.finish(start + len(band))
    return values, clipped / max(values.size, 1)


def _values(stage: Stage, planned: InputPlan, rows: Rows | None) -> npt.NDArray[np.generic]:
    """Return the array the last stage maps into: the writer's, where one takes its rows."""
    return np.empty(stage.geometry.output_shape, planned.depth) if rows is None else rows.values


def _summing(
    x: npt.NDArray[np.generic], stage: Stage, planned: InputPlan
) -> ConvolutionPlan | None:
    """Return the stage's one plan where it sums ``x`` in integers and a table can map the sums.

    The engine's integer path (integer samples, integer weights times one factor); one
    component and no bias, to an integer depth; sums few enough to tabulate.
    """
    plan = stage.plans[0]
    simple = len(stage.plans) == 1 and not stage.kernel.bias and planned.range != Range.RAW
    simple = simple and not (planned.format.maps and planned.range == Range.RESCALE)  # per map
    if not simple or planned.depth == Depth.FLOAT32 or plan.sum_type(x.dtype) is None:
        return None
    lowest, highest = plan.sum_range(x.dtype)
    size = math.prod(stage.geometry.output_shape)
    return plan if highest - lowest < max(TABLE_SUMS, size // 16) else None


def _sum_and_map(
    x: npt.NDArray[np.generic],
    plan: ConvolutionPlan,
    stage: Stage,
    planned: InputPlan,
    white: float,
    threads: int | None,
    rows: Rows | None = None,
) -> tuple[npt.NDArray[np.generic], float]:
    """Map the exact integer sums band by band through a table: the bytes of the float path.

    The table is :func:`convcli.ranges.map_range` on each sum's float, as the
    engine would give it; ``rescale``'s bounds are the sums' least and greatest.
    """
    assert plan.integer is not None, "summed only where the plan has integer weights"
    lowest, highest = plan.sum_range(x.dtype)
    bounds = None
    if planned.range == Range.RESCALE:
        ends = [ends for _, ends in _mapped_sums(plan, x, _least_and_greatest, threads)]
        lowest, highest = min(low for low, _ in ends), max(high for _, high in ends)
        scaled = np.multiply([lowest, highest], np.float32(plan.integer.factor), dtype=np.float32)
        bounds = (float(scaled[0]), float(scaled[1]))
    table = levels(lowest, highest, plan.integer.factor, planned.range, white=white,
                   depth=planned.depth, bounds=bounds)  # fmt: skip
    values = _values(stage, planned, rows)

    def mapped(start: int, sums: npt.NDArray[np.integer]) -> tuple[int, int]:
        """Map a band's sums into its rows of ``values`` (in the band's thread): clipped, rows."""
        return table.map(sums, values[start : start + len(sums)]), len(sums)

    clipped = 0
    for start, (count, band_length) in _mapped_sums(plan, x, mapped, threads):
        clipped += count
        if rows is not None:
            rows.finish(start + band_length)
    return values, clipped / max(values.size, 1)


def _least_and_greatest(_start: int, sums: npt.NDArray[np.integer]) -> tuple[int, int]:
    return int(sums.min()), int(sums.max())


def _mapped_sums(
    plan: ConvolutionPlan,
    x: npt.NDArray[np.generic],
    each: Callable[[int, npt.NDArray[np.integer]], BandT],
    threads: int | None,
) -> Iterator[tuple[int, BandT]]:
    bands = mapped_sums(plan, x, each, threads=threads)
    assert bands is not None, "the plan sums inputs of this type in integers"
    return bands
