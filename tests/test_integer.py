"""The exact integer path (README, "Engine semantics"): integer sums, exactly, and their mapping."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy import ndimage

from convcli import convolve, kernel
from convcli.choices import PadMode, Range
from convcli.engine import Convolution, ConvolutionPlan, convolve_bands, integer_bands, mapped_sums
from convcli.engine._integer import Chain, chain, integer_taps
from convcli.ranges import _outside, levels, map_range
from helpers import run
from helpers.reference import correlate_reference

RNG = np.random.default_rng(20261207)
DTYPES = [np.uint8, np.uint16, np.int16]
PADDINGS = ["valid", "same", "full", 2, (1, 3), ((0, 2), (3, 1)), ((9, 0), (1, 13))]
STRIDE_DILATION = [(1, 1), (2, 1), (1, 2), ((3, 2), (2, 3))]
CHANNELS = [(), (2,), (2, 3)]  # grey, colour, two channel axes
KERNELS = [
    np.array([[1, -2, 3], [0, 4, -1], [2, 0, -3]]),  # integers, of both signs
    np.array([[1, 3, 3, 1], [-1, -3, -3, -1]]) / 4,  # even sides, a factor of 1/4
    -np.outer([1, -2, 1], [1, 2, 1]),  # a chain of (1 - z) and (1 + z) passes, times -1
]


def samples(dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """Random samples over the whole of ``dtype``'s range, its extremes among them."""
    info = np.iinfo(dtype)
    x = RNG.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    x.flat[:2] = info.min, info.max
    return x


def forced(plan: ConvolutionPlan) -> ConvolutionPlan:
    """The plan, taking the integer path wherever the sums fit, whatever the cost model says."""
    assert plan.integer is not None
    return dataclasses.replace(plan, integer=dataclasses.replace(plan.integer, float_cost=math.inf))


def exact(x: np.ndarray, weights: np.ndarray, plan: ConvolutionPlan) -> np.ndarray:
    """The plan's result on ``x`` through the integer path, in float64 (exact here)."""
    summed = plan.sum_type(x.dtype)
    assert summed is not None, (x.dtype, weights)
    bands = list(convolve_bands(plan, x, rows=3))  # several bands, the last one short
    return np.concatenate([band for _, band in bands])


@pytest.mark.parametrize("mode", list(PadMode))
@pytest.mark.parametrize("padding", PADDINGS, ids=str)
@pytest.mark.parametrize(("stride", "dilation"), STRIDE_DILATION, ids=str)
def test_the_integer_path_is_the_plain_loop_reference_exactly(mode, padding, stride, dilation):
    for channels in CHANNELS:
        for dtype in DTYPES:
            x = samples(dtype, (6, 7, *channels))
            for weights in KERNELS:
                options = dict(padding=padding, pad_mode=mode, pad_value=7, stride=stride,
                               dilation=dilation, dtype=np.float64)  # fmt: skip
                try:
                    plan = forced(Convolution(weights, **options).plan(x.shape))
                except ValueError:
                    continue  # no output: test_engine pins the message
                g = plan.geometry
                pads = list(g.padding)
                expected = correlate_reference(x, weights, pads, mode, 7.0, g.stride, g.dilation)
                got = exact(x, weights, plan)
                assert got.dtype == np.float64
                np.testing.assert_array_equal(got, expected, err_msg=f"{dtype} {channels}")


def test_flip_and_1d_and_3d_kernels_are_exact():
    signal = samples(np.uint8, (11,))
    weights = np.array([1, 2, -5])
    plan = forced(Convolution(weights, flip=True, pad_mode="wrap", dtype=np.float64).plan((11,)))
    expected = correlate_reference(signal, weights, [(1, 1)], "wrap", flip=True)
    np.testing.assert_array_equal(exact(signal, weights, plan), expected)
    volume = samples(np.int16, (5, 4, 6))
    cube = RNG.integers(-3, 4, size=(3, 2, 3))
    plan = forced(Convolution(cube, pad_mode="symmetric", dtype=np.float64).plan(volume.shape))
    expected = correlate_reference(volume, cube, list(plan.geometry.padding), "symmetric")
    np.testing.assert_array_equal(exact(volume, cube, plan), expected)


@pytest.mark.parametrize(("total", "summed"), [(128, np.int16), (129, np.int32)])
def test_int16_holds_255_times_the_weights_up_to_32767_and_int32_takes_over(total, summed):
    # 255 * 128 = 32640 fits int16; 255 * 129 = 32895 does not. An all-white image
    # reaches the bound exactly, where a wrong width would wrap around.
    weights = np.zeros((3, 3))
    weights.flat[:] = [total - 8, 1, 1, 1, 1, 1, 1, 1, 1]
    x = np.full((9, 8), 255, dtype=np.uint8)
    x[4:, :3] = samples(np.uint8, (5, 3))
    plan = forced(Convolution(weights, pad_mode="replicate", dtype=np.float64).plan(x.shape))
    assert plan.sum_type(x.dtype) == np.dtype(summed)
    assert plan.sum_range(x.dtype) == (0, 255 * total)
    expected = correlate_reference(x, weights, [(1, 1), (1, 1)], "replicate")
    got = exact(x, weights, plan)
    assert got.max() == 255 * total
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("dtype", "weights", "fill", "span", "summed"),
    [
        (np.uint8, [[3, -5]], 600, (-3000, 1800), np.int16),  # a fill beyond the samples
        (np.int16, [[1, -1]], 0, (-65535, 65535), np.int32),  # signed samples: both ends
        (np.int8, [[1, -1]], 0, (-255, 255), np.int16),
    ],
)  # fmt: skip
def test_the_sums_span_each_sign_of_weight_times_each_end_of_the_samples(
    dtype, weights, fill, span, summed
):
    weights = np.array(weights)
    plan = forced(Convolution(weights, pad_mode="zero", pad_value=fill).plan((4, 5)))
    assert plan.sum_range(np.dtype(dtype)) == span
    assert plan.sum_type(np.dtype(dtype)) == np.dtype(summed)
    x = samples(dtype, (4, 5))  # its least and greatest side by side: the widest difference
    expected = correlate_reference(x, weights, [(0, 0), (0, 1)], "zero", float(fill))
    got = exact(x, weights, plan)
    np.testing.assert_array_equal(got, expected)
    assert span[0] <= got.min()
    assert got.max() <= span[1]


def test_32_bit_samples_are_summed_in_int64():
    x = samples(np.uint32, (5, 6))
    weights = np.array([[1, -3], [2, 1]])
    plan = forced(Convolution(weights, dtype=np.float64).plan(x.shape))
    assert plan.sum_type(x.dtype) == np.dtype(np.int64)
    expected = correlate_reference(x, weights, [(0, 1), (0, 1)], "reflect")
    np.testing.assert_array_equal(exact(x, weights, plan), expected)  # below 2**53: exact


@pytest.mark.parametrize(
    ("spec", "factor"),
    [("box:3", 1 / 9), ("box:5", 1 / 25), ("[[1,2,1],[2,4,2],[1,2,1]]/16", 1 / 16),
     ("binomial5", 1 / 256)],
)  # fmt: skip
def test_common_factor_kernels_are_exact_sums_times_the_factor(spec, factor):
    if spec == "binomial5":
        weights = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    elif spec.startswith("["):
        weights = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    else:
        weights = kernel(spec).matrix
    taps = integer_taps(weights, 0.0)
    assert taps is not None
    assert taps.factor == factor
    np.testing.assert_array_equal(taps.weights * factor, weights)  # exactly the kernel
    x = samples(np.uint8, (12, 10, 3))
    for dtype in (np.float64, np.float32):
        plan = forced(Convolution(weights, pad_mode="zero", dtype=dtype).plan(x.shape))
        sums = correlate_reference(x, taps.weights, list(plan.geometry.padding))
        # The README's definition: the sums (exact in the type) times the factor, in the type.
        expected = sums.astype(dtype) * dtype(factor)
        np.testing.assert_array_equal(exact(x, weights, plan), expected)


@pytest.mark.parametrize("name", ["sobel-x", "laplacian", "sharpen", "emboss"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_auto_takes_the_integer_path_and_gives_the_float_path_s_values_bit_for_bit(name, dtype):
    weights = kernel(name).matrix
    x = samples(dtype, (40, 33, 3))
    plan = Convolution(weights).plan(x.shape)
    if dtype == np.uint8:
        assert plan.sum_type(x.dtype) == np.int16
    float_path = convolve(x, weights, integer=False)
    np.testing.assert_array_equal(convolve(x, weights), float_path)
    np.testing.assert_array_equal(convolve(x, weights, pad_mode="zero", pad_value=3), convolve(
        x, weights, pad_mode="zero", pad_value=3, integer=False))  # fmt: skip


def test_the_integer_path_is_chosen_only_where_it_applies():
    sobel = kernel("sobel-x").matrix
    u8 = np.dtype(np.uint8)
    assert Convolution(sobel).plan((64, 64)).sum_type(u8) == np.int16
    assert Convolution(sobel).plan((64, 64)).sum_type(np.dtype(np.float32)) is None
    assert Convolution(sobel, method="direct").plan((64, 64)).integer is None  # as asked
    assert Convolution(sobel, integer=False).plan((64, 64)).integer is None
    assert Convolution(sobel, method="direct", integer=True).plan((64, 64)).sum_type(u8)
    assert Convolution(sobel, pad_mode="zero", pad_value=0.5).plan((64, 64)).sum_type(u8) is None
    assert Convolution(kernel("gaussian").matrix).plan((64, 64)).integer is None
    assert integer_taps(np.array([0.1, 0.2]), 0.0).weights.tolist() == [1, 2]  # 0.2 is 2 * 0.1
    assert integer_taps(np.array([0.1, 0.3]), 0.0) is None  # 0.3 / 0.1 is 2.9999999999999996
    assert Convolution(np.ones((15, 15))).plan((256, 256)).sum_type(u8) is None  # float is cheaper


@pytest.mark.parametrize("name", ["laplacian", "sharpen"])
def test_int32_sums_are_taken_where_the_float_path_is_direct(name):
    # README: int32 passes cost what float32 ones cost (int16 less), so where the float
    # path is shift-and-add, 16-bit samples (int32 sums) take the integer path too.
    plan = Convolution(kernel(name).matrix).plan((2048, 2048))
    assert plan.method == "direct"
    assert plan.sum_type(np.dtype(np.uint16)) == np.int32


def test_integer_bands_are_the_sums_and_none_for_float_inputs():
    weights = kernel("laplacian").matrix
    x = samples(np.uint8, (30, 20))
    plan = Convolution(weights).plan(x.shape)
    bands = integer_bands(plan, x)
    assert bands is not None
    sums = np.concatenate([band for _, band in bands])
    assert sums.dtype == np.int16
    np.testing.assert_array_equal(
        sums, correlate_reference(x, weights, [(1, 1), (1, 1)], "reflect")
    )
    assert integer_bands(plan, x.astype(np.float32)) is None


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_bands_mapped_in_their_threads_are_the_bands_mapped_after(threads):
    # 8 MiB of int16 sums: several bands, even the taller ones of threads.
    x = samples(np.uint8, (2000, 700, 3))
    weights = kernel("sobel-x").matrix
    plan = Convolution(weights).plan(x.shape)
    lowest, highest = plan.sum_range(x.dtype)
    table = levels(lowest, highest, 1.0, Range.ABS, white=255, depth="uint8")
    after = np.empty(x.shape, np.uint8)
    bands = integer_bands(plan, x, threads=threads)
    assert bands is not None
    clipped = sum(table.map(band, after[start : start + len(band)]) for start, band in bands)
    beside = np.empty(x.shape, np.uint8)

    def mapped(start: int, sums: np.ndarray) -> tuple[int, int, int]:
        return start, len(sums), table.map(sums, beside[start : start + len(sums)])

    done = mapped_sums(plan, x, mapped, threads=threads)
    assert done is not None
    results = [result for _, result in done]
    assert [start for start, _, _ in results] == list(
        np.cumsum([0] + [rows for _, rows, _ in results[:-1]])
    )  # every row once, in order
    assert sum(rows for _, rows, _ in results) == len(x)
    np.testing.assert_array_equal(beside, after)
    assert sum(count for *_, count in results) == clipped
    # The magnitudes of SciPy's sums, clipped to 255 (mirror is NumPy's reflect).
    sums = np.stack([ndimage.correlate(x[..., c].astype(np.int32), weights.astype(np.int32),
                                       mode="mirror") for c in range(3)], axis=-1)  # fmt: skip
    np.testing.assert_array_equal(beside, np.minimum(np.abs(sums), 255))
    assert clipped == np.count_nonzero(np.abs(sums) > 255)


def test_mapped_sums_are_none_for_float_inputs():
    plan = Convolution(kernel("laplacian").matrix).plan((5, 5))
    assert mapped_sums(plan, np.zeros((5, 5), np.float32), lambda start, sums: 0) is None


def test_clipped_int16_sums_are_counted_on_both_sides():
    table = levels(-1020, 1020, 1.0, Range.CLIP, white=255, depth="uint8")
    sums = np.array([-1020, -1, 0, 255, 256, 1020, 7], dtype=np.int16)
    out = np.empty(sums.shape, np.uint8)
    assert table.clipped_only
    assert table.map(sums, out) == 4  # below 0 and above 255
    assert out.tolist() == [0, 0, 0, 255, 255, 255, 7]


@pytest.mark.parametrize("range_", ["clip", "abs", "rescale"])
def test_apply_writes_the_same_jpeg_whatever_the_threads(tmp_path, monkeypatch, range_):
    # One thread per CPU: one, two and three CPUs, the bands summed and mapped in threads.
    rgb = samples(np.uint8, (2000, 800, 3))
    Image.fromarray(rgb).save(tmp_path / "in.jpg", quality=90)
    written = []
    for cpus in (1, 2, 3):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        target = tmp_path / f"out{cpus}.jpg"
        result = run("apply", str(tmp_path / "in.jpg"), "-k", "sobel-x", "--range", range_,
                     "-q", "-o", str(target))  # fmt: skip
        assert result.exit_code == 0, result.output
        written.append(target.read_bytes())
    assert written[1] == written[0]
    assert written[2] == written[0]


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.int16, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=9)),
    weights=hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=4),
                       elements=st.integers(-40, 40)),
    mode=st.sampled_from(list(PadMode)),
    stride=st.integers(1, 3),
)  # fmt: skip
def test_the_integer_path_equals_float64_arithmetic(x, weights, mode, stride):
    # Sums of int16 times these weights are below 2**53: float64 shift-and-add is exact.
    options = dict(pad_mode=mode, stride=stride, dtype=np.float64, padding="full")
    plan = forced(Convolution(weights, **options).plan(x.shape))
    shift_and_add = convolve(x.astype(np.float64), weights, method="direct", **options)
    np.testing.assert_array_equal(exact(x, weights, plan), shift_and_add)


@pytest.mark.parametrize("mode", [Range.CLIP, Range.ABS, Range.OFFSET, Range.RESCALE])
@pytest.mark.parametrize(("white", "depth"), [(255, "uint8"), (65535, "uint16"), (65535, "uint8")])
@pytest.mark.parametrize("factor", [1.0, 1 / 9, 1 / 16])
def test_a_table_of_levels_maps_as_map_range_does(mode, white, depth, factor):
    sums = RNG.integers(-3 * white, 3 * white, size=5000).astype(np.int32)
    sums[:2] = -3 * white, 3 * white - 1
    response = sums.astype(np.float32) * np.float32(factor)  # the engine's scaled sums
    bounds = (float(response.min()), float(response.max())) if mode == Range.RESCALE else None
    expected = map_range(response, mode, white=white, depth=depth, bounds=bounds)
    table = levels(-3 * white, 3 * white, factor, mode, white=white, depth=depth, bounds=bounds)
    out = np.empty(sums.shape, dtype=depth)
    clipped = table.map(sums.copy(), out)
    np.testing.assert_array_equal(out, expected.values)
    assert clipped / sums.size == expected.clipped


def test_int16_sums_index_a_table_wider_than_32767():
    table = levels(-32768, 32767, 1.0, Range.OFFSET, white=65535, depth="uint16")
    sums = np.array([-32768, -1, 0, 32767], dtype=np.int16)
    out = np.empty(4, np.uint16)
    assert table.map(sums, out) == 0
    response = np.array([-32768, -1, 0, 32767], dtype=np.float32)
    np.testing.assert_array_equal(
        out, map_range(response, "offset", white=65535, depth="uint16").values
    )
    assert _outside(response / 65535 + 0.5, "uint16") == 0.0


@pytest.mark.parametrize("spec", ["sobel-x", "laplacian", "sharpen", "box:3", "emboss"])
@pytest.mark.parametrize("range_", ["clip", "abs", "offset", "rescale"])
def test_apply_writes_the_float_path_s_pixels_through_the_integer_path(tmp_path, spec, range_):
    # --method direct is the float path as asked; auto takes the integer path and its tables.
    rgb = samples(np.uint8, (37, 41, 3))
    Image.fromarray(rgb).save(tmp_path / "in.png")
    outputs = []
    for method in ("auto", "direct"):
        target = tmp_path / f"{method}.png"
        result = run("apply", str(tmp_path / "in.png"), "-k", spec, "--range", range_,
                     "--method", method, "-o", str(target), "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs.append(np.asarray(Image.open(target)))
        report = result.stdout.split('"clipped":')[1].split(",")[0]
        outputs.append(report)
    differ = outputs[0] != outputs[2]
    if spec == "box:3" and range_ in ("offset", "rescale"):
        # 1/9 is not exact in float32: the float path's sums miss an exact tie (offset:
        # a sum of 9k is k + 127.5 levels; rescale: where 255 (S - least) / (greatest -
        # least) is k + 1/2) by a rounding, either way. Only there may the pixels differ.
        sums = correlate_reference(rgb, np.ones((3, 3)), [(1, 1), (1, 1)], "reflect")
        span = sums.max() - sums.min()
        tie = (
            sums % 9 == 0 if range_ == "offset" else 510 * (sums - sums.min()) % (2 * span) == span
        )
        assert not (differ & ~tie).any()
        return
    assert not differ.any()
    assert outputs[1] == outputs[3]  # the share clipped, as reported


def test_a_rank_1_kernel_goes_column_then_row_only_where_every_pass_fits():
    # [1, -1] by [64, 63] on u8: the sums span +-255 * 127 = 32385 (int16); a split is
    # taken where the largest sample times the weights' magnitudes fits, 255 * 254 = 64770
    # here: the one-kernel path (a column pass's sums are not bounded as the kernel's are).
    tall = np.outer([1, -1], [64, 63])
    plan = forced(Convolution(tall, pad_mode="replicate", dtype=np.float64).plan((6, 5)))
    assert plan.integer.chain is not None
    assert plan.sum_type(np.dtype(np.uint8)) == np.int16
    assert not plan.integer.chain_holds(np.dtype(np.uint8), 0, np.dtype(np.int16))
    x = np.zeros((6, 5), np.uint8)
    x[::2] = 255  # rows of white and black: every sum at an end of the span
    expected = correlate_reference(x, tall, list(plan.geometry.padding), "replicate")
    assert np.abs(expected).max() == 32385
    np.testing.assert_array_equal(exact(x, tall, plan), expected)
    sobel = Convolution(kernel("sobel-x").matrix).plan((6, 5)).integer.chain
    assert sobel == Chain(((0, (1, 1)), (0, (1, 1)), (1, (-1, 0, 1))), 1)


FLOAT_METHODS = {"direct", "separable", "fft", "matrix"}


def _reported(tmp_path, name, pixels, *options):
    """Run apply on ``pixels`` saved as ``name``; return its JSON record and its table."""
    source = tmp_path / name
    np.save(source, pixels) if name.endswith(".npy") else Image.fromarray(pixels).save(source)
    target = tmp_path / ("out.npy" if name.endswith(".npy") else "out.png")
    args = ("apply", str(source), "-o", str(target), *options)
    record, table = run(*args, "--json"), run(*args)
    assert record.exit_code == 0, record.output
    assert table.exit_code == 0, table.output
    return json.loads(record.stdout), table.stdout


def test_the_report_names_the_integer_path_and_its_sums_type(tmp_path):
    # sobel-x's and the laplacian's |weights| sum to 8: 255 * 8 fits int16, 65535 * 8 does
    # not but fits int32. The laplacian is not separable: its float method is direct, which
    # int32 sums cost as much as.
    cases = [(np.uint8, "sobel-x", "int16"), (np.uint8, "laplacian", "int16"),
             (np.uint16, "laplacian", "int32")]  # fmt: skip
    for dtype, spec, summed in cases:
        pixels = samples(dtype, (20, 30))
        record, table = _reported(tmp_path, "in.png", pixels, "-k", spec)
        assert record["method"] == f"integer-{summed}"
        assert f"│ method   │ exact integer sums ({summed})" in table


def test_the_report_names_the_float_method_where_the_float_path_ran(tmp_path):
    floats = samples(np.uint8, (20, 30)).astype(np.float32)
    record, table = _reported(tmp_path, "in.npy", floats, "-k", "sobel-x")
    assert record["method"] in FLOAT_METHODS
    assert f"│ method   │ {record['method']} " in table
    # An explicit --method is the float path as asked, on integer samples too.
    record, table = _reported(tmp_path, "in.png", samples(np.uint8, (20, 30)),
                              "-k", "sobel-x", "--method", "direct")  # fmt: skip
    assert record["method"] == "direct"
    assert "│ method   │ direct " in table


def test_a_pipeline_s_later_stage_filters_floats_and_a_dry_run_says_what_the_run_does(tmp_path):
    pixels = samples(np.uint8, (20, 30))
    ran, _ = _reported(tmp_path, "in.png", pixels, "-k", "box:3", "-k", "sobel-x")
    planned, _ = _reported(tmp_path, "in.png", pixels, "-k", "box:3", "-k", "sobel-x", "--dry-run")
    first, second = ran["method"].split("+")
    assert first == "integer-int16"  # 255 * 9 fits int16; the box's 1/9 is the factor
    assert second in FLOAT_METHODS  # the box's float response is the second's input
    assert planned["status"] == "planned"
    assert planned["method"] == ran["method"]


def test_a_kernel_summed_partly_in_integers_is_named_both_ways(tmp_path):
    # Frei-Chen's edge masks hold 1/2 and 1/(2 sqrt 2), whose ratio no common factor makes
    # whole; its line masks are integers times 1/2, 1/6 or 1/3 (|weights| at most 16 of them).
    record, table = _reported(tmp_path, "in.png", samples(np.uint8, (20, 30)), "-k", "freichen")
    floating, integer = record["method"].split("/")
    assert floating in FLOAT_METHODS
    assert integer == "integer-int16"
    assert f"│ method   │ {floating}, exact integer sums (int16)" in table


def test_a_tiled_run_reports_the_path_its_tiles_took(tmp_path):
    # Tiles gather the input's samples in their own type, the border's fill among them:
    # -1 is no uint8 sample, so those tiles take the float path; the whole array, summed
    # with its fill in int16, does not need to hold it.
    pixels = samples(np.uint8, (150, 100))
    record, _ = _reported(tmp_path, "in.npy", pixels, "-k", "sobel-x", "--tile", "64")
    assert record["method"] == "integer-int16"
    planned, _ = _reported(tmp_path, "in.npy", pixels, "-k", "sobel-x", "--tile", "64",
                           "--dry-run")  # fmt: skip
    assert planned["method"] == "integer-int16"
    fill = ("--pad-mode", "zero", "--pad-value", "-1")
    tiled, _ = _reported(tmp_path, "in.npy", pixels, "-k", "sobel-x", "--tile", "64", *fill)
    assert tiled["method"] in FLOAT_METHODS
    whole, _ = _reported(tmp_path, "in.npy", pixels, "-k", "sobel-x", *fill)
    assert whole["method"] == "integer-int16"


@pytest.mark.parametrize(
    ("weights", "passes", "times"),
    [
        ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], [(0, (1, 1)), (0, (1, 1)), (1, (-1, 0, 1))], 1),
        ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], [(0, (1, 1))] * 2 + [(1, (1, 1))] * 2, 1),
        ([[1, 1, 1]] * 3, [(0, (1, 1, 1)), (1, (1, 1, 1))], 1),  # no (1 +- z) divides it
        ([[1, -2, 1]], [(0, (1,)), (1, (1, -1)), (1, (1, -1))], 1),  # (1 - z) squared
        ([[-3, -6, -3]], [(0, (1,)), (1, (1, 1)), (1, (-1, -1))], 3),  # the sign, in the last
        ([1, 4, 6, 4, 1], [(0, (1, 1))] * 4, 1),  # 4 passes where the taps take 6
        ([6, 3], [(0, (2, 1))], 3),  # nothing to divide out: the weights over their gcd
    ],
)  # fmt: skip
def test_a_rank_1_kernel_is_a_chain_of_the_fewest_1d_passes(weights, passes, times):
    weights = np.array(weights)
    found = chain(weights)
    assert found == Chain(tuple(passes), times)
    product = np.ones((1,) * weights.ndim, dtype=np.int64)
    for axis, vector in found.passes:  # correlating in turn: the polynomials' product
        shape = [1] * weights.ndim
        shape[axis] = len(vector)
        product = _polynomial_product(product, np.reshape(vector, shape))
    np.testing.assert_array_equal(product * times, weights)


def _polynomial_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full convolution of two small integer arrays, by the definition."""
    out = np.zeros([m + n - 1 for m, n in zip(a.shape, b.shape, strict=True)], dtype=np.int64)
    for i in np.ndindex(a.shape):
        for j in np.ndindex(b.shape):
            out[tuple(p + q for p, q in zip(i, j, strict=True))] += a[i] * b[j]
    return out


def test_kernels_of_rank_above_1_or_3_axes_have_no_chain():
    assert chain(np.array([[1, 2], [3, 5]])) is None
    assert chain(np.ones((2, 2, 2), dtype=np.int64)) is None
    assert chain(np.zeros((3, 3), dtype=np.int64)) is None


@pytest.mark.parametrize(
    "weights",
    [
        [[-1, -1], [-3, 0]],  # a product first (-3), then the weights of -1 in place
        [[-1, 0], [-1, -1]],  # weights of -1 only: their sum, times -1
        [[0, 5, 0], [-1, 0, -1], [0, -2, 0]],  # two products, one of them in a scratch
        [-1, 4, 6, 4, -1],  # a 1-D kernel, no (1 +- z) in it
        [1, 4, 6, 4, 1],  # a 1-D chain of (1 + z) four times
    ],
)  # fmt: skip
@pytest.mark.parametrize(("stride", "dilation"), [(1, 1), (2, 1), (3, 2)], ids=str)
@pytest.mark.parametrize("mode", ["zero", "reflect", "wrap"])
def test_every_sign_and_order_of_the_taps_is_exact(weights, stride, dilation, mode):
    weights = np.array(weights)
    shape = (13,) if weights.ndim == 1 else (9, 8)
    x = samples(np.uint8, shape)
    options = dict(pad_mode=mode, pad_value=5, stride=stride, dilation=dilation)
    plan = forced(Convolution(weights, dtype=np.float64, **options).plan(x.shape))
    g = plan.geometry
    expected = correlate_reference(x, weights, list(g.padding), mode, 5.0, g.stride, g.dilation)
    np.testing.assert_array_equal(exact(x, weights, plan), expected)
