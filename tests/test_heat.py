"""A response reduced to a contact sheet's heat-map tile band by band, where the job runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convcli.choices import FileFormat
from convcli.heat import HeatReducer
from convcli.io.formats import output_format
from convcli.library.apply import checked_settings
from convcli.limits import MONTAGE_TILE
from convcli.report import RECORD_KEYS
from convcli.run.job import run_job
from convcli.run.model import Job, RunOptions


def strongest_by_hand(values: np.ndarray, factor: int) -> np.ndarray:
    """Each factor x factor block's value of largest magnitude, NaN the strongest, zeros past the edge."""
    rows, cols = (math.ceil(side / factor) for side in values.shape)
    out = np.zeros((rows, cols), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            block = values[r * factor : (r + 1) * factor, c * factor : (c + 1) * factor]
            nan = np.isnan(block)
            out[r, c] = np.nan if nan.any() else block.flat[np.abs(block).argmax()]
    return out


@pytest.mark.parametrize("bands", [[301], [1, 7, 100, 193], [2, 2, 2, 295]])
def test_bands_of_any_height_reduce_to_each_blocks_strongest_value_and_the_peak(bands):
    values = np.random.default_rng(4).normal(0, 50, size=(301, 530)).astype(np.float32)
    values[5, 9], values[200, 3], values[100, 100] = np.nan, np.inf, -1e4  # inf is no peak
    reducer = HeatReducer(values.shape)
    start = 0
    for height in bands:
        band = values[start : start + height].copy()
        reducer.add(band)
        band[:] = 0  # the pipeline reuses its bands: what the reducer keeps is its own
        start += height
    tile = reducer.tile()
    factor = math.ceil(530 / MONTAGE_TILE)  # 3: the longest side to 256 px or under
    assert (tile.shape, tile.factor, tile.peak) == ((301, 530), factor, 1e4)
    np.testing.assert_array_equal(tile.values, strongest_by_hand(values, factor))


def test_a_small_response_is_kept_as_it_is():
    values = np.arange(12, dtype=np.float64).reshape(3, 4) - 6  # float64 bands: kept as float32
    reducer = HeatReducer(values.shape)
    reducer.add(values[:2])
    reducer.add(values[2:])
    tile = reducer.tile()
    assert (tile.factor, tile.peak, tile.values.dtype) == (1, 6.0, np.float32)
    np.testing.assert_array_equal(tile.values, values)


def test_a_jobs_report_carries_its_tile_only_when_asked_and_never_in_its_record(tmp_path):
    source = tmp_path / "g.npy"
    values = np.random.default_rng(2).normal(size=(40, 30)).astype(np.float32)
    np.save(source, values)
    settings = checked_settings(["[[-2]]"], colormap="viridis", range="rescale")
    job = Job("g.npy", source, tmp_path / "g.png", output_format(FileFormat.PNG))
    plain = run_job(job, settings, RunOptions())
    asked = run_job(job, settings, RunOptions(heat_tiles=True))
    assert plain.heat_tile is None
    assert asked.heat_tile is not None
    np.testing.assert_array_equal(asked.heat_tile.values, -2 * values)  # the raw response
    assert asked.heat_tile.peak == pytest.approx(2 * np.abs(values).max())
    assert tuple(asked.record()) == RECORD_KEYS
