"""The exact integer path summed in runs of consecutive values (strides of 1), exactly."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from convcli.choices import PadMode
from convcli.engine import (
    Convolution,
    ConvolutionPlan,
    convolve_bands,
    integer_bands,
    mapped_sums,
)
from convcli.engine._bands import HUGE_PAGE, _fill_padding, output_array, spare
from convcli.engine._integer import runs
from helpers.reference import border_index, correlate_reference

RNG = np.random.default_rng(20261207)


def forced(plan: ConvolutionPlan) -> ConvolutionPlan:
    """The plan, taking the integer path wherever the sums fit, whatever the cost model says."""
    assert plan.integer is not None
    return dataclasses.replace(plan, integer=dataclasses.replace(plan.integer, float_cost=math.inf))


def both_ways(plan: ConvolutionPlan, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The result in bands of floats (summed in runs) and the sums in bands (in windows)."""
    floats = convolve_bands(plan, x, rows=4, threads=1)  # several bands, the last one short
    sums = integer_bands(plan, x, threads=1)
    assert sums is not None
    return (np.concatenate([band for _, band in floats]),
            np.concatenate([band for _, band in sums]))  # fmt: skip


def test_only_floats_are_summed_in_runs():
    x = RNG.integers(0, 256, size=(9, 7), dtype=np.uint8)
    plan = forced(Convolution(np.outer([1, 2, 1], [-1, 0, 1])).plan(x.shape))
    for summed in (integer_bands(plan, x), mapped_sums(plan, x, lambda _, sums: sums.copy())):
        assert summed is not None
        assert all(band.flags.c_contiguous for _, band in summed)  # not views of wider arrays
    assert next(iter(convolve_bands(plan, x)))[1].flags.c_contiguous


def test_runs_are_taken_only_where_every_stride_is_1():
    band = np.zeros((5, 8, 3), np.int16)  # 8 columns of 3 channels: a row is 24 values
    assert runs(band, (3, 6), (1, 1)) == ((24, 3), 2 * 24 + 5 * 3 + 3)  # to the last output
    assert runs(band, (2, 6), (2, 1)) is None
    assert runs(band, (3, 3), (1, 2)) is None
    assert runs(band[:, ::2], (3, 2), (1, 1)) is None  # not one block of memory


@pytest.mark.parametrize("mode", list(PadMode))
@pytest.mark.parametrize("dilation", [1, 2, (2, 1, 3)], ids=str)
def test_volumes_with_channels_are_the_plain_loop_reference_exactly(mode, dilation):
    # Every tap a different offset into the runs: three axes, two of them padded, channels.
    volume = RNG.integers(0, 256, size=(7, 6, 9, 2), dtype=np.uint8)
    cube = RNG.integers(-4, 5, size=(3, 2, 3))
    plan = forced(
        Convolution(cube, pad_mode=mode, pad_value=9, dilation=dilation).plan(volume.shape)
    )
    g = plan.geometry
    expected = correlate_reference(volume, cube, list(g.padding), mode, 9.0, g.stride, g.dilation)
    for result in both_ways(plan, volume):
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("mode", list(PadMode))
@pytest.mark.parametrize(
    "weights",
    [np.array([1, 4, 6, 4, 1]), np.outer([1, 2, 1], [-1, 0, 1]), np.outer([1, 1, 1], [1, 1])],
    ids=["binomial-1d", "sobel-x", "box-3x2"],
)
@pytest.mark.parametrize("dilation", [1, 3])
def test_chains_in_runs_are_the_plain_loop_reference_exactly(mode, weights, dilation):
    # 1-D passes, each as wide as the band: a row pass leaves columns beyond the outputs.
    shape = (40, 3) if weights.ndim == 1 else (23, 11, 3)
    x = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    plan = forced(Convolution(weights, pad_mode=mode, dilation=dilation).plan(x.shape))
    assert plan.integer is not None
    assert plan.integer.chain is not None
    g = plan.geometry
    expected = correlate_reference(x, weights, list(g.padding), mode, 0.0, g.stride, g.dilation)
    for result in both_ways(plan, x):
        np.testing.assert_array_equal(result, expected)


def test_a_band_kept_is_not_overwritten_by_the_next():
    x = RNG.integers(0, 256, size=(3000, 200), dtype=np.uint8)  # several bands
    plan = forced(Convolution(np.outer([1, 2, 1], [-1, 0, 1]), pad_mode="zero").plan(x.shape))
    bands = integer_bands(plan, x, threads=1)
    assert bands is not None
    kept = list(bands)  # every band summed before any is read
    assert len(kept) > 2
    expected = correlate_reference(x[:40], plan.taps, [(1, 1), (1, 1)], "zero")[:-1]
    np.testing.assert_array_equal(kept[0][1][:39], expected)


@pytest.mark.parametrize(("shape", "aligned"), [((2048, 2048), True), ((100, 100), False)])
def test_a_large_result_starts_on_a_2_mib_boundary(shape, aligned):
    out = output_array(shape, np.dtype(np.float32))
    assert out.shape == shape
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    if aligned:  # smaller arrays are NumPy's own, wherever they start
        assert out.__array_interface__["data"][0] % HUGE_PAGE == 0
    out[...] = 1.0  # all of it writable, within its memory
    assert out.sum() == math.prod(shape)


def test_a_spare_array_is_one_view_per_shape_and_never_another_name_s():
    int16 = np.dtype(np.int16)
    first = spare("test-a", (3, 4), int16)
    assert spare("test-a", (3, 4), int16) is first  # made once per shape
    other = spare("test-b", (3, 4), int16)
    assert not np.shares_memory(first, other)
    larger = spare("test-a", (30, 40), int16)  # new memory: the old views are given up
    again = spare("test-a", (3, 4), int16)
    assert again is not first
    assert np.shares_memory(again, larger)
    assert not np.shares_memory(again, other)


@pytest.mark.parametrize("mode", [m for m in PadMode if m != "zero"])
@pytest.mark.parametrize(("size", "before", "after"), [(9, 1, 1), (9, 3, 2), (12, 5, 6)])
def test_the_padding_s_copies_read_what_the_border_mode_reads(mode, size, before, after):
    # Written and read as slices where consecutive (a reflection reads backwards), else lists.
    interior = size - before - after
    expected = np.array([border_index(i - before, interior, mode) for i in range(size)])
    got = np.arange(size) - before  # each position's interior index, the padding's filled below
    got[:before] = got[size - after :] = -1
    band = got.reshape(1, -1).copy()
    _fill_padding(band, ((0, 0), (before, after)), mode, 0.0)
    np.testing.assert_array_equal(band[0], expected)
