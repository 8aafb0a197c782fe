"""Exact sums mapped without their table where a few NumPy passes give the table's values."""

from __future__ import annotations

import numpy as np
import pytest

from convcli.choices import Range
from convcli.ranges import levels, map_range

RNG = np.random.default_rng(20261207)


def mapped_as_floats(sums: np.ndarray, mode: str, white: int, depth: str) -> tuple[list, float]:
    """What map_range makes of the sums as the engine gives them (floats, a factor of 1)."""
    expected = map_range(sums.astype(np.float32), mode, white=white, depth=depth)
    return expected.values.tolist(), expected.clipped


@pytest.mark.parametrize(("white", "depth", "dtype"), [(255, "uint8", np.int16),
                                                       (65535, "uint16", np.int32)])  # fmt: skip
def test_magnitudes_clipped_are_mapped_as_map_range_maps_them(white, depth, dtype):
    table = levels(-4 * white, 4 * white, 1.0, Range.ABS, white=white, depth=depth)
    assert table.magnitudes_only
    assert not table.clipped_only
    sums = RNG.integers(-4 * white, 4 * white + 1, size=3000).astype(dtype)
    sums[:6] = -4 * white, 4 * white, -white - 1, -white, white, white + 1  # both ends, both edges
    out = np.empty(sums.shape, depth)
    expected, share = mapped_as_floats(sums, "abs", white, depth)
    clipped = table.map(sums.copy(), out)
    assert out.tolist() == expected
    assert clipped == np.count_nonzero(np.abs(sums.astype(np.int64)) > white)
    assert clipped / sums.size == share


def test_the_least_int16_has_no_magnitude_and_goes_through_the_table():
    # -(-32768) is -32768 in int16: abs in place would map it to 0, not to white.
    table = levels(-32768, 32767, 1.0, Range.ABS, white=255, depth="uint8")
    assert table.magnitudes_only
    sums = np.array([-32768, -32767, -256, -255, 0, 255, 256, 32767], np.int16)
    out = np.empty(sums.shape, np.uint8)
    expected, _ = mapped_as_floats(sums, "abs", 255, "uint8")
    assert table.map(sums.copy(), out) == 5
    assert out.tolist() == expected == [255, 255, 255, 255, 0, 255, 255, 255]


@pytest.mark.parametrize("mode", [Range.ABS, Range.OFFSET, Range.CLIP])
def test_only_tables_that_are_clipped_sums_or_magnitudes_skip_the_table(mode):
    table = levels(-1020, 1020, 1 / 4, mode, white=255, depth="uint8")  # a factor: not so
    assert not table.magnitudes_only
    assert not table.clipped_only
    sums = np.arange(-1020, 1021).astype(np.int16)
    response = sums.astype(np.float32) * np.float32(1 / 4)
    out = np.empty(sums.shape, np.uint8)
    expected = map_range(response, mode, white=255, depth="uint8")
    assert table.map(sums.copy(), out) / sums.size == expected.clipped
    np.testing.assert_array_equal(out, expected.values)
