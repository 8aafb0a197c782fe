"""Properties every convolution must have, checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from convcli import ConvcliError, convolve, output_shape
from convcli.choices import Method, PadMode
from helpers.reference import brute_force_size

METHODS, PAD_MODES = list(Method), list(PadMode)

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
modes = st.sampled_from(PAD_MODES)


def images(min_side: int = 1, max_side: int = 9) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side))
    return arrays(np.float64, shapes, elements=finite)


def kernels(max_side: int = 4) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(1, max_side), st.integers(1, max_side))
    return arrays(np.float64, shapes, elements=finite)


def close(a: np.ndarray, b: np.ndarray, scale: float) -> None:
    # Sums of products of values up to 100: absolute tolerance scaled to their size.
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(scale, 1.0))


@given(images(), images(), kernels(), finite, finite, modes)
def test_linear_in_the_input(x, y, kernel, a, b, mode):
    y = np.resize(y, x.shape)
    combined = convolve(a * x + b * y, kernel, pad_mode=mode, dtype=np.float64)
    separate = a * convolve(x, kernel, pad_mode=mode, dtype=np.float64) + b * convolve(
        y, kernel, pad_mode=mode, dtype=np.float64
    )
    close(combined, separate, 1e6 * kernel.size)


@given(images(), kernels(), kernels(), finite, finite, modes)
def test_linear_in_the_kernel(x, k1, k2, a, b, mode):
    k2 = np.resize(k2, k1.shape)
    combined = convolve(x, a * k1 + b * k2, pad_mode=mode, dtype=np.float64)
    separate = a * convolve(x, k1, pad_mode=mode, dtype=np.float64) + b * convolve(
        x, k2, pad_mode=mode, dtype=np.float64
    )
    close(combined, separate, 1e6 * k1.size)


@given(images(), st.integers(1, 5), st.integers(1, 5), modes, st.integers(1, 3))
def test_identity_kernel_returns_the_input(x, rows, cols, mode, stride):
    identity = np.zeros((rows, cols))
    identity[(rows - 1) // 2, (cols - 1) // 2] = 1.0  # the anchor, also for even sizes
    got = convolve(x, identity, padding="same", pad_mode=mode, stride=stride, dtype=np.float64)
    np.testing.assert_array_equal(got, x[::stride, ::stride])


@given(images(), st.integers(-2, 2), st.integers(-2, 2))
def test_shifted_impulse_shifts_the_image(x, dr, dc):
    impulse = np.zeros((5, 5))
    impulse[2 + dr, 2 + dc] = 1.0
    got = convolve(x, impulse, padding="same", pad_mode="wrap", dtype=np.float64)
    # Correlation reads x[i + dr, j + dc]: the picture moves by (-dr, -dc).
    np.testing.assert_array_equal(got, np.roll(x, (-dr, -dc), axis=(0, 1)))


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 9),
    before=st.integers(0, 12),
    after=st.integers(0, 12),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 4),
)
def test_output_shape_is_the_formula_and_the_brute_force_count(
    n, k, before, after, stride, dilation
):
    counted = brute_force_size(n, before, after, k, stride, dilation)
    formula = (n + before + after - dilation * (k - 1) - 1) // stride + 1
    args = dict(padding=((before, after),), stride=stride, dilation=dilation)
    if counted == 0:
        assert formula <= 0
        with pytest.raises(ConvcliError, match="output would be empty along axis 0"):
            output_shape((n,), (k,), **args)
        return
    assert formula == counted
    assert output_shape((n,), (k,), **args) == (counted,)
    assert convolve(np.ones(n), np.ones(k), **args).shape == (counted,)


@given(images(), kernels(), modes, st.sampled_from(["same", "valid", "full", 1]))
def test_flip_is_correlation_with_the_reversed_kernel(x, kernel, mode, padding):
    try:
        flipped = convolve(x, kernel, padding=padding, pad_mode=mode, flip=True)
    except ConvcliError:  # a kernel larger than a 'valid' input: no output either way
        with pytest.raises(ConvcliError):
            convolve(x, kernel[::-1, ::-1], padding=padding, pad_mode=mode)
        return
    reversed_kernel = convolve(x, kernel[::-1, ::-1], padding=padding, pad_mode=mode)
    np.testing.assert_array_equal(flipped, reversed_kernel)


@given(images(), kernels(), modes, st.integers(1, 4), st.integers(1, 4))
def test_strided_same_is_the_unstrided_result_subsampled(x, kernel, mode, s0, s1):
    full = convolve(x, kernel, pad_mode=mode, dtype=np.float64)
    strided = convolve(x, kernel, pad_mode=mode, stride=(s0, s1), dtype=np.float64)
    # auto may pick another algorithm for the strided shape: equal up to rounding.
    close(strided, full[::s0, ::s1], 1e4 * kernel.size)


@given(
    arrays(np.float64, st.integers(1, 30), elements=finite),
    arrays(np.float64, st.integers(1, 30), elements=finite),
)
def test_1d_true_convolution_is_numpy_convolve_and_commutes(f, g):
    fg = convolve(f, g, padding="full", pad_mode="zero", flip=True, dtype=np.float64)
    gf = convolve(g, f, padding="full", pad_mode="zero", flip=True, dtype=np.float64)
    close(fg, np.convolve(f, g, mode="full"), 1e4 * max(f.size, g.size))
    close(fg, gf, 1e4 * max(f.size, g.size))


@given(images(), kernels(), modes)
def test_every_method_agrees(x, kernel, mode):
    results = [convolve(x, kernel, pad_mode=mode, method=m, dtype=np.float64) for m in METHODS]
    for result in results[1:]:
        close(result, results[0], 1e4 * kernel.size)


SAMPLES_AND_SPECIALS = st.floats(-1e6, 1e6, width=32) | st.sampled_from(
    [np.nan, np.inf, -np.inf, -0.0]
)


def _mapped_plainly(values, mode, white, depth, bounds):
    """map_range written out from its definition, one new array a step (the reference)."""
    values = values.astype(np.float32)
    if mode == "rescale":
        low, high = bounds or (0.0, 0.0)  # the finite values' extremes
        if high > low:
            unit = (values - np.float32(low)) / np.float32(high - low)
        else:
            unit = np.zeros_like(values)
    else:
        unit = values / np.float32(white)
        unit = (
            np.abs(unit) if mode == "abs" else unit + np.float32(0.5) if mode == "offset" else unit
        )
    unit = np.clip(np.nan_to_num(unit, nan=0.0), 0.0, 1.0)
    full = {"uint8": 255, "uint16": 65535}.get(depth)
    if full is None:
        return (unit * np.float32(white)).astype(np.float32)
    return np.rint(unit * np.float32(full)).astype(depth)


@given(
    arrays(np.float32, st.integers(2, 60), elements=SAMPLES_AND_SPECIALS),
    st.sampled_from(["clip", "abs", "offset", "rescale"]),
    st.sampled_from([("uint8", 255.0), ("uint16", 65535.0), ("float32", 1.0)]),
)
def test_range_mapping_in_place_equals_its_definition(values, mode, depth_white):
    from convcli.ranges import map_range

    depth, white = depth_white
    finite = values[np.isfinite(values)]
    bounds = (float(finite.min()), float(finite.max())) if finite.size else None
    got = map_range(values.copy(), mode, white=white, depth=depth).values
    expected = _mapped_plainly(values, mode, white, depth, bounds if mode == "rescale" else None)
    assert got.dtype == expected.dtype
    # The same values; a float output's -0.0 may come out as 0.0 (fmax, which skips NaN).
    assert np.array_equal(got, expected)
    if depth != "float32":
        assert got.tobytes() == expected.tobytes()
