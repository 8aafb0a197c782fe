"""`convcli explain`, heat maps and matched filters: what a learner is shown is what is computed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from convcli.choices import Colormap
from convcli.cli import app
from convcli.colormaps import lookup_table
from convcli.engine import convolve, resolve_geometry
from convcli.errors import UsageError
from convcli.explanation import worked_out
from helpers import SAMPLES, runner
from helpers.reference import border_index, brute_force_size, correlate_reference

MODES = ["zero", "reflect", "symmetric", "replicate", "wrap"]


def explain_json(*args: str) -> dict:
    result = runner.invoke(app, ["explain", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@st.composite
def cases(draw: st.DrawFn, ndim: int):
    sides = [draw(st.integers(1, 6)) for _ in range(ndim)]
    ksides = [draw(st.integers(1, 3)) for _ in range(ndim)]
    values = st.integers(-9, 9)
    size, ksize = int(np.prod(sides)), int(np.prod(ksides))
    x = np.array(draw(st.lists(values, min_size=size, max_size=size)))
    k = np.array(draw(st.lists(values, min_size=ksize, max_size=ksize)))
    pads = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(ndim)]
    strides = [draw(st.integers(1, 3)) for _ in range(ndim)]
    dilations = [draw(st.integers(1, 2)) for _ in range(ndim)]
    return (x.reshape(sides), k.reshape(ksides), pads, strides, dilations,
            draw(st.sampled_from(MODES)), draw(st.booleans()))  # fmt: skip


def check_against_the_definition(x, k, pads, strides, dilations, mode, flip):
    sizes = [brute_force_size(n, b, a, m, s, d) for n, (b, a), m, s, d in
             zip(x.shape, pads, k.shape, strides, dilations, strict=True)]  # fmt: skip
    assume(min(sizes) >= 1)  # an empty output is a usage error, tested elsewhere
    record = explain_json(
        "-k", json.dumps(k.tolist()), "--input", json.dumps(x.tolist()),
        "-p", ",".join(str(v) for pair in pads for v in pair), "--pad-mode", mode,
        "-s", ",".join(map(str, strides)), "-d", ",".join(map(str, dilations)),
        *(["--flip"] if flip else []), "--steps", "10000",
    )  # fmt: skip
    applied = np.flip(k) if flip else k
    output = np.array(record["output"])
    np.testing.assert_allclose(
        output, correlate_reference(x, applied, pads, mode, 0.0, strides, dilations)
    )
    assert record["output_shape"] == sizes
    assert len(record["steps"]) == output.size  # every position, in reading order
    for step, index in zip(record["steps"], np.ndindex(*sizes), strict=True):
        assert tuple(step["output_index"]) == index
        window = np.array(step["window"])
        for taps in np.ndindex(*k.shape):  # each window cell is the input cell the definition reads
            where = [border_index(i * s + t * d - b, n, mode) for i, t, s, d, (b, _), n in
                     zip(index, taps, strides, dilations, pads, x.shape, strict=True)]  # fmt: skip
            expected = 0 if None in where else x[tuple(where)]
            assert window[taps] == expected
        assert step["sum"] == pytest.approx(float((window * applied).sum()))
        assert step["sum"] == pytest.approx(output[index])


@settings(max_examples=40, deadline=None)
@given(cases(2))
def test_every_step_of_a_2d_explanation_is_the_definition_and_the_engine_agrees(case):
    check_against_the_definition(*case)


@settings(max_examples=40, deadline=None)
@given(cases(1))
def test_every_lag_of_a_1d_explanation_is_the_definition_and_the_engine_agrees(case):
    check_against_the_definition(*case)


def test_the_formula_strings_carry_the_numbers():
    record = explain_json("-k", "box:3", "-p", "1", "-s", "2")
    assert record["formula"] == ["⌊(5 + 1 + 1 - 1·(3 - 1) - 1) / 2⌋ + 1 = 3"] * 2
    record = explain_json("-k", "[1, 2]", "--input", "[1,2,3,4,5,6,7,8,9]", "-p", "0,3", "-d", "4")
    assert record["formula"] == ["⌊(9 + 0 + 3 - 4·(2 - 1) - 1) / 1⌋ + 1 = 8"]
    assert record["output_shape"] == [8]


def test_the_1d_flip_of_the_seed_is_numpy_convolve():
    # The reference texts: true convolution reverses the kernel; numpy.convolve does.
    x, w = [0, 0, 1, 1, 1, 0, 0], [1, 0, -1]
    record = explain_json("-k", json.dumps(w), "--input", json.dumps(x), "-p", "valid", "--flip")
    assert record["kernel"] == [-1, 0, 1]
    assert record["output"] == np.convolve(x, w, mode="valid").tolist()


def test_the_page_shows_padding_formula_steps_and_output():
    result = runner.invoke(app, ["explain", "-k", "sobel-x", "-p", "1", "-s", "2", "--steps", "2"])
    assert result.exit_code == 0
    page = result.stdout
    assert "(7)" in page  # a padding cell, marked: reflect of the 5x5 ramp
    assert "rows: ⌊(5 + 1 + 1 - 1·(3 - 1) - 1) / 2⌋ + 1 = 3" in page
    assert "sliding window (first 2 of 9 positions)" in page
    assert "(7·-1) + (6·0) + (7·1) + (2·-2) + (1·0) + (2·2) + (7·-1) + (6·0) + (7·1) = 0" in page
    assert "output (feature map) 3x3" in page


def test_an_image_crop_is_explained_as_luminance(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    record = explain_json("-k", "identity", "--input", str(tmp_path / "p.png"), "--crop", "3,4,5,6")
    grey = rgb[3:8, 4:10].astype(np.float64) @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(record["output"], grey, rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "sobel"], r"sobel combines sobel-x and sobel-y; explain one of them"),
        (["-k", "kirsch"], r"kirsch combines 8 kernels, kirsch:angle=0 to kirsch:angle=315; explain one of them"),
        (["-k", "box", "--input", str(SAMPLES / "camera.png")], r"explain shows at most 32 per side: choose a part with --crop"),
        (["-k", "box", "--input", "[[1,2],[3,4]]", "--crop", "0,0,3,3"], r"--crop reaches 3 along axis 0, past the input's 2"),
        (["-k", "box", "--input", "[[1,2],[3,4]]", "--crop", "0,1,1,2"], r"--crop reaches 3 along axis 1"),
        (["-k", "box", "--crop", "1,1,0,2"], r"--crop must start at 0 or more and be 1 or more long, got 1 and 0 along axis 0"),
        (["-k", "box", "--crop", "1,2,3"], r"--crop takes ROW,COL,HEIGHT,WIDTH for a 2-D input, got 3 numbers"),
        (["-k", "[1,2]", "--crop", "1,2,3"], r"--crop takes START,LENGTH for a 1-D input, got 3 numbers"),
        (["-k", "box", "--crop", "-1,0,2,2"], r"--crop must be >= 0, got '-1,0,2,2'"),
        (["-k", "box", "--crop", ""], r"--crop must be ROW,COL,HEIGHT,WIDTH \(integers\), got ''"),
        (["-k", "[1,2]", "--crop", "one,2"], r"--crop must be START,LENGTH \(integers\)"),
        (["-k", "box", "--input", str(SAMPLES / "camera.png"), "--crop", "0,0,40,6"], r"the crop is 40x6; explain shows at most 32 per side"),
        (["-k", "box", "--input", str(SAMPLES / "camera.png"), "--crop", "0,0,30,30", "-d", "20"], r"the crop with the cells its windows read would be 70x70; explain shows at most 64 per side"),
        # Same padding, stride 3: outputs are at cells 0, 3; none at 1..2.
        (["-k", "box", "--crop", "1,1,2,2", "-s", "3"], r"the crop has no output along axis 0: outputs are at input cells 0 to 3, every 3, and none is in 1..2"),
        (["-k", "box", "--crop", "0,2,1,1", "-p", "valid"], r"the crop has no output along axis 0: outputs are at input cells 1 to 3, and none is in 0..0"),
        (["-k", "[1,2]", "--input", "[[1,2],[3,4]]"], r"a 1-D kernel and a 2-D input"),
        (["-k", "box", "--input", "[[1,2],[3"], r"--input: not a matrix of numbers"),
        (["-k", "box", "--input", ""], r"--input is empty: give a matrix, a .npy or an image"),
        (["-k", "box", "--input", "missing.png"], r"--input missing.png: no such file"),
        (["-k", "box", "--pad-mode", "mirror"], r"--pad-mode must be one of zero, reflect"),
        (["-k", "box:9", "-p", "valid"], r"output would be empty along axis 0"),
        (["-k", "box", "-p", "1000000"], r"the padded input would be 2000005x2000005; explain shows at most 64"),
        (["-k", "box:33"], r"the kernel is 33x33; explain shows at most 32 per side"),
        (["-k", "box", "-d", "1000000"], r"the padded input would be"),
    ],
)  # fmt: skip
def test_bad_explain_requests_exit_2_with_one_line(args, message):
    result = runner.invoke(app, ["explain", *args])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert re.search(message, line), line


# --- heat maps ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(Colormap))
def test_a_colormap_makes_rgb_of_the_input_size_from_end_to_end_of_the_map(tmp_path, name):
    ramp = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (7, 1))  # 7 x 100, one channel
    Image.fromarray(np.dstack([ramp] * 3)).save(tmp_path / "ramp.png")  # colour in: implies --gray
    out = tmp_path / "heat.png"
    result = runner.invoke(app, ["apply", str(tmp_path / "ramp.png"), "-k", "identity",
                                 "--colormap", name, "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert image.mode == "RGB"
        heat = np.asarray(image)
    assert heat.shape == (7, 100, 3)
    table = lookup_table(name)
    # identity's range is clip: each value picks its own colour, 0..198 of the map.
    assert heat[0].tolist() == table[ramp[0]].tolist()
    stretched = runner.invoke(app, ["apply", str(tmp_path / "ramp.png"), "-k", "identity",
                                    "--colormap", name, "--range", "rescale", "-o", str(out)])  # fmt: skip
    assert stretched.exit_code == 0, stretched.stderr
    with Image.open(out) as image:
        heat = np.asarray(image)
    assert heat[0, 0].tolist() == table[0].tolist()  # the minimum: the first colour
    assert heat[0, -1].tolist() == table[-1].tolist()  # the maximum: the last


def test_a_colormap_keeps_the_kernels_range(tmp_path):
    # sobel-x's range is abs: a flat region (response 0) is the map's first colour, not its middle.
    flat = np.full((20, 40), 100, np.uint8)
    flat[:, 20:] = 200  # one vertical edge
    Image.fromarray(flat).save(tmp_path / "edge.png")
    out = tmp_path / "heat.png"
    result = runner.invoke(app, ["apply", str(tmp_path / "edge.png"), "-k", "sobel-x",
                                 "--colormap", "viridis", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        heat = np.asarray(image)
    table = lookup_table("viridis")
    assert heat[10, 5].tolist() == table[0].tolist()
    # |sobel-x| across the edge: 4 x 100 = 400, clipped to 255: the last colour.
    assert heat[10, 20].tolist() == table[255].tolist()


def test_colour_tables_run_from_their_published_ends():
    # The first and last colours of matplotlib's maps, as published.
    assert lookup_table("viridis")[[0, -1]].tolist() == [[68, 1, 84], [253, 231, 37]]
    assert lookup_table("magma")[[0, -1]].tolist() == [[0, 0, 4], [252, 253, 191]]
    assert lookup_table("coolwarm")[[0, -1]].tolist() == [[59, 76, 192], [180, 4, 38]]
    assert lookup_table("gray")[:, 0].tolist() == list(range(256))


@pytest.mark.parametrize(("args", "message"), [
    (["--colormap", "jet"], r"--colormap must be one of viridis, magma, inferno, coolwarm, gray, got 'jet'"),
    (["--colormap", "gray", "-o", "x.npy"], r"--colormap makes an 8-bit RGB picture"),
    (["--colormap", "gray", "--range", "raw", "-o", "x.tif"], r"--colormap makes an 8-bit RGB picture"),
])  # fmt: skip
def test_colormap_misuse_exits_2(args, message):
    result = runner.invoke(app, ["apply", str(SAMPLES / "shapes.png"), "-k", "box", *args])
    assert result.exit_code == 2
    assert re.search(message, result.stderr), result.stderr


# --- matched filters ---------------------------------------------------------------


def test_the_matched_filter_peaks_where_the_template_was_pasted(tmp_path):
    rng = np.random.default_rng(5)
    template = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(template).save(tmp_path / "t.png")
    scene = rng.integers(0, 256, (80, 90), dtype=np.uint8)
    top, left = 37, 52
    scene[top : top + 9, left : left + 11] = template
    Image.fromarray(scene).save(tmp_path / "scene.png")
    out = tmp_path / "r.npy"
    result = runner.invoke(app, ["apply", str(tmp_path / "scene.png"), "-k", f"template:{tmp_path / 't.png'}",
                                 "--pad-mode", "zero", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    response = np.load(out)
    peak = np.unravel_index(np.argmax(response), response.shape)
    centre = (top + 9 // 2, left + 11 // 2)  # "same" output is anchored at the kernel's centre
    assert abs(peak[0] - centre[0]) <= 1
    assert abs(peak[1] - centre[1]) <= 1


def test_the_circle_template_finds_the_circles_of_shapes_png(tmp_path):
    out = tmp_path / "r.npy"
    result = runner.invoke(app, ["apply", str(SAMPLES / "shapes.png"),
                                 "-k", f"template:{SAMPLES / 'circle.png'}", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0
    response = np.load(out)
    circles = [(48, 48), (128, 200), (208, 96)]  # where make_synthetic.py draws them
    peaks = [np.unravel_index(i, response.shape) for i in np.argsort(response, axis=None)[::-1][:3]]
    assert sorted(map(tuple, np.array(peaks).tolist())) == sorted(circles)


def test_a_template_is_zero_mean_unit_norm_and_a_flat_one_is_refused(tmp_path):
    Image.fromarray(np.full((5, 5), 128, np.uint8)).save(tmp_path / "flat.png")
    result = runner.invoke(app, ["kernels", "show", f"template:{tmp_path / 'flat.png'}"])
    assert result.exit_code == 2
    assert "is flat; a matched filter needs a shape" in result.stderr
    record = json.loads(
        runner.invoke(
            app, ["kernels", "show", f"template:{SAMPLES / 'circle.png'}", "--json"]
        ).stdout
    )
    matrix = np.array(record["matrix"])
    assert abs(matrix.sum()) < 1e-9
    assert (matrix**2).sum() == pytest.approx(1.0)


def test_a_template_names_its_outputs_by_the_file_stem(tmp_path):
    result = runner.invoke(app, ["apply", str(SAMPLES / "shapes.png"), "-k", f"template:{SAMPLES / 'circle.png'}",
                                 "-o", str(tmp_path), "--json"])  # fmt: skip
    record = json.loads(result.stdout)
    assert record["kernel"] == "template:circle"
    assert record["output"].endswith("shapes_template-circle.png")


# --- a crop in context ---------------------------------------------------------------
# With --crop, explain shows the outputs of the whole input at the crop's cells: output n is at
# input cell n·stride - before + dilation·(k - 1)//2 (with "same" padding and stride 1, cell n).


def at_crop(x, k, padding, stride, dilation, starts, sizes):
    """Which whole-output indices are at the crop's cells, per axis, by trying every output."""
    found = []
    for n, m, (b, a), s, d, start, size in zip(
        x.shape, k.shape, padding, stride, dilation, starts, sizes, strict=True
    ):
        total = brute_force_size(n, b, a, m, s, d)
        found.append(
            [j for j in range(total) if start <= j * s - b + d * (m - 1) // 2 < start + size]
        )
    return found


@st.composite
def crops(draw: st.DrawFn, ndim: int):
    sides = [draw(st.integers(1, 12)) for _ in range(ndim)]
    ksides = [draw(st.integers(1, 4)) for _ in range(ndim)]  # even sides too
    x, k = (
        draw(hnp.arrays(float, shape, elements=st.integers(-9, 9))) for shape in (sides, ksides)
    )
    pairs = st.tuples(st.integers(0, 4), st.integers(0, 4))
    padding = draw(st.one_of(st.sampled_from(["same", "valid", "full"]), st.integers(0, 4),
                             st.lists(pairs, min_size=ndim, max_size=ndim)))  # fmt: skip
    starts = [draw(st.integers(0, n - 1)) for n in sides]
    sizes = [draw(st.integers(1, n - start)) for n, start in zip(sides, starts, strict=True)]
    options = {
        "padding": padding,
        "pad_mode": draw(st.sampled_from(MODES)),
        "pad_value": draw(st.sampled_from([0.0, 2.5])),
        "stride": tuple(draw(st.integers(1, 3)) for _ in range(ndim)),
        "dilation": tuple(draw(st.integers(1, 3)) for _ in range(ndim)),
        "flip": draw(st.booleans()),
    }
    return x, k, starts, sizes, options


def check_a_crop(x, k, starts, sizes, options):
    try:
        g = resolve_geometry(x.shape, k.shape, padding=options["padding"],
                             stride=options["stride"], dilation=options["dilation"])  # fmt: skip
    except UsageError:
        assume(False)  # an empty output: tested elsewhere
    shown = at_crop(x, k, g.padding, g.stride, g.dilation, starts, sizes)
    if not all(shown):
        with pytest.raises(UsageError, match="the crop has no output along axis"):
            worked_out(x, k, crop=(*starts, *sizes), **options)
        return
    e = worked_out(x, k, crop=(*starts, *sizes), steps=10_000, **options)
    # Exactly the whole output's values at the outputs whose cell is in the crop.
    where = np.ix_(*shown)
    whole = convolve(x, k, dtype=np.float64, **options)
    np.testing.assert_allclose(e.output, whole[where])
    applied = np.flip(k) if options["flip"] else k
    mode, fill = options["pad_mode"], options["pad_value"]
    reference = correlate_reference(x, applied, g.padding, mode, fill, g.stride, g.dilation)
    np.testing.assert_allclose(e.output, reference[where])
    assert e.output_start == tuple(axis[0] for axis in shown)
    assert e.crop_start == tuple(starts)
    assert e.input.tolist() == x[tuple(slice(a, a + n) for a, n in zip(starts, sizes))].tolist()
    # Every shown cell: the crop's, the input's around it, or padding, with its value.
    for cell in np.ndindex(*e.padded.shape):
        at = [o + c for o, c in zip(e.offset, cell, strict=True)]
        source = [border_index(i, n, mode) for i, n in zip(at, x.shape, strict=True)]
        assert e.padded[cell] == (fill if None in source else x[tuple(source)])
        in_crop = all(a <= i < a + n for i, a, n in zip(at, starts, sizes, strict=True))
        in_image = all(0 <= i < n for i, n in zip(at, x.shape, strict=True))
        assert (e.inside[cell], e.context[cell]) == (in_crop, in_image and not in_crop)
    # Each step is the definition: the input cells its window reads, times the kernel.
    assert len(e.steps) == e.output.size
    for step, reading_order in zip(e.steps, np.ndindex(*e.output.shape), strict=True):
        assert step.output_index == reading_order
        index = [o + i for o, i in zip(e.output_start, step.output_index, strict=True)]
        for tap in np.ndindex(*k.shape):
            at = [i * s + t * d - b for i, t, s, d, (b, _) in
                  zip(index, tap, g.stride, g.dilation, g.padding, strict=True)]  # fmt: skip
            source = [border_index(i, n, mode) for i, n in zip(at, x.shape, strict=True)]
            assert step.window[tap] == (fill if None in source else x[tuple(source)])
            origin = [
                a - o - t * d for a, o, t, d in zip(at, e.offset, tap, g.dilation, strict=True)
            ]
            assert list(step.origin) == origin
        assert step.sum == pytest.approx(float((step.window * applied).sum()))
        assert step.sum == pytest.approx(whole[tuple(index)])


@settings(max_examples=60, deadline=None)
@given(crops(2))
def test_a_2d_crop_explains_the_whole_inputs_outputs_at_its_cells(case):
    check_a_crop(*case)


@settings(max_examples=60, deadline=None)
@given(crops(1))
def test_a_1d_crop_explains_the_whole_inputs_outputs_at_its_cells(case):
    check_a_crop(*case)


@pytest.mark.parametrize(
    "kernel", [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], [[1.0, -1.0], [2.0, 0.5]]]
)
def test_with_same_padding_and_stride_1_the_outputs_are_the_crops_cells(kernel):
    x = np.arange(1.0, 101.0).reshape(10, 10)
    e = worked_out(x, kernel, crop=(0, 7, 4, 3), dilation=(1, 2))
    assert e.output_start == (0, 7)
    assert e.output.shape == (4, 3)


def test_without_a_crop_nothing_is_context_and_every_output_is_explained():
    e = worked_out(np.arange(1.0, 26.0).reshape(5, 5), np.ones((3, 3)), padding=1, stride=2)
    assert not e.context.any()
    assert e.crop_start is None
    assert (e.offset, e.output_start, e.output.shape) == ((-1, -1), (0, 0), (3, 3))
    assert e.inside.sum() == 25


def test_the_learners_crop_has_the_border_outputs_apply_computes(tmp_path):
    # convcli explain -k laplacian --input camera.png --crop 200,250,6,6: the crop's border
    # outputs read the photo's own pixels around it, as apply's do.
    result = runner.invoke(app, ["apply", str(SAMPLES / "camera.png"), "-k", "laplacian",
                                 "-o", str(tmp_path / "out.npy")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    applied = np.load(tmp_path / "out.npy")[200:206, 250:256]
    record = explain_json(
        "-k", "laplacian", "--input", str(SAMPLES / "camera.png"), "--crop", "200,250,6,6"
    )
    np.testing.assert_allclose(record["output"], applied, atol=1e-3)
    assert record["output_start"] == [200, 250]
    assert record["crop"] == {"start": [200, 250], "shape": [6, 6]}
    assert record["input_shape"] == record["output_shape"] == [512, 512]
    # The bug: the crop padded as if it were the whole picture misses the bottom border.
    with Image.open(SAMPLES / "camera.png") as image:
        alone = np.asarray(image.convert("L"), dtype=np.float64)[200:206, 250:256]
    padded_alone = correlate_reference(
        alone, np.array(record["kernel"]), [(1, 1), (1, 1)], "reflect"
    )
    assert not np.allclose(padded_alone[-1], applied[-1])


# The outputs at the crop, by hand: output n is at cell n·stride - before + dilation·(k - 1)//2.
@pytest.mark.parametrize(
    ("source", "crop", "args", "outputs"),
    [
        # full: before 2, cells 2n - 1; rows 0..4 hold n = 1, 2; cols 35..39 n = 18..20
        ("npy", "0,35,5,5", ["-k", "sobel-x", "-p", "full", "-s", "2", "--pad-mode", "wrap"], ((1, 2), (18, 3))),
        # same, stride 1: the crop's own cells, for an even dilated kernel too
        ("npy", "17,3,4,6", ["-k", "[[1,2],[3,4]]", "-d", "3", "--flip", "--pad-mode", "symmetric"], ((17, 4), (3, 6))),
        # rows before 0: cells n + 1, so 26..29 hold n = 25..28; cols before 3: n - 2, 0..2 hold 2..4
        ("npy", "26,0,4,3", ["-k", "box:3", "-p", "0,2,3,1", "--pad-mode", "zero", "--pad-value", "7"], ((25, 4), (2, 3))),
        ("inline", "1,1,3,2", ["-k", "laplacian", "--pad-mode", "replicate"], ((1, 3), (1, 2))),
    ],
)  # fmt: skip
def test_explain_of_a_crop_is_what_apply_writes_at_those_pixels(
    tmp_path, source, crop, args, outputs
):
    x = np.random.default_rng(7).normal(size=(30, 40))
    if source == "inline":
        x = x[:5, :6].round(2)
    np.save(tmp_path / "whole.npy", x)
    given = json.dumps(x.tolist()) if source == "inline" else str(tmp_path / "whole.npy")
    result = runner.invoke(
        app, ["apply", str(tmp_path / "whole.npy"), *args, "-o", str(tmp_path / "y.npy")]
    )
    assert result.exit_code == 0, result.stderr
    applied = np.load(tmp_path / "y.npy")  # a .npy output keeps the raw float values
    record = explain_json(*args, "--input", given, "--crop", crop)
    output = np.array(record["output"])
    assert (tuple(record["output_start"]), output.shape) == tuple(zip(*outputs, strict=True))
    rows, cols = (range(a, a + n) for a, n in outputs)
    np.testing.assert_allclose(output, applied[np.ix_(rows, cols)], rtol=1e-5, atol=1e-5)
    assert [step["sum"] for step in record["steps"]] == pytest.approx(output.ravel()[:3].tolist())


def test_a_npy_signal_is_explained_with_a_1d_crop_in_its_context(tmp_path):
    np.save(tmp_path / "s.npy", np.arange(100.0) ** 2)
    record = explain_json(
        "-k", "[1, -2, 1]", "--input", str(tmp_path / "s.npy"), "--crop", "10,6", "-p", "valid"
    )
    assert record["input_shape"] == [100]
    assert record["crop"] == {"start": [10], "shape": [6]}
    assert record["anchor"] == [1]
    assert record["output_start"] == [9]  # valid: output n is at cell n + 1
    assert record["output"] == [2.0] * 6  # the second difference of n squared, at cells 10..15


def test_the_page_marks_the_crop_its_context_and_the_padding_in_plain_text():
    # The 5x5 ramp 1..25, rows 0..2 and cols 2..4: the window reads row -1 (reflect: row 1),
    # col 1 of the ramp around the crop, and col 5 (reflect: col 3).
    result = runner.invoke(app, ["explain", "-k", "box", "--crop", "0,2,3,3", "--steps", "1"],
                           env={"NO_COLOR": "1", "COLUMNS": "60"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = [line.rstrip() for line in result.stdout.splitlines()]
    assert all(len(line) <= 60 for line in page)
    assert (
        " ".join(page[:2])
        == "convcli explain: box, 3x3, over rows 0..2, cols 2..4 of 5x5: cross-correlation"
    )
    start = page.index("input rows -1..3, cols 1..5, the crop in context")
    legend = " ".join(page[start + 1 : start + 3])
    assert legend == ("  plain: the crop; [x]: the input around it; (x): padding "
                      "past the input's edges (reflect: rows 1+1, cols 1+1)")  # fmt: skip
    ramp = np.arange(1, 26).reshape(5, 5)
    expected = []
    for row in range(-1, 4):
        cells = []
        for col in range(1, 6):
            value = ramp[border_index(row, 5, "reflect"), border_index(col, 5, "reflect")]
            inside_image = 0 <= row < 5 and 0 <= col < 5
            in_crop = 0 <= row < 3 and 2 <= col < 5
            cells.append(str(value) if in_crop else f"[{value}]" if inside_image else f"({value})")
        expected.append(cells)
    assert [line.split() for line in page[start + 3 : start + 8]] == expected
    assert "sliding window (first 1 of 9 positions at the crop)" in page
    assert "  output[0, 2]: window at input rows -1..1, cols 1..3" in page


# --animate and --html on the command line: the pictures' own tests are
# tests/test_animation.py and tests/test_page.py.


def explain_cli(*args: str):
    return runner.invoke(app, ["explain", *args])


@pytest.mark.parametrize(
    ("options", "positions"),
    [
        # 5x5 ramp, same padding: 25 outputs; -p 1 -s 2 on 5x5 with a 3x3: 3x3 = 9
        ((), 25),
        (("-p", "1", "-s", "2"), 9),
        (("--frames", "4"), 4),
    ],
)
@pytest.mark.parametrize("suffix", [".gif", ".apng"])
def test_animate_writes_one_frame_per_position(tmp_path, options, positions, suffix):
    target = tmp_path / f"slide{suffix}"
    result = explain_cli("-k", "sobel-x", *options, "--animate", str(target))
    assert result.exit_code == 0, result.output
    with Image.open(target) as animation:
        assert animation.n_frames == positions
    assert f"wrote {target}: {positions} frames" in result.output


def test_animate_defaults_to_the_first_hundred_positions(tmp_path):
    target = tmp_path / "long.gif"
    # 12x12 ones, same padding: 144 positions, of which the first 100 are animated
    result = explain_cli("-k", "box:3", "--input", json.dumps(np.ones((12, 12)).tolist()),
                         "--animate", str(target))  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(target) as animation:
        assert animation.n_frames == 100


def test_html_steps_through_every_position_and_json_stays_one_object(tmp_path):
    page = tmp_path / "page.html"
    result = explain_cli("-k", "sobel-x", "-p", "1", "-s", "2", "--html", str(page), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # nothing else on standard output
    assert len(record["steps"]) == 3  # --steps' default: the page has its own
    found = re.search(
        r'<script type="application/json" id="data">(.*?)</script>', page.read_text(), re.DOTALL
    )
    steps = json.loads(found.group(1))["steps"]
    expected = convolve(np.arange(1.0, 26.0).reshape(5, 5),
                        [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], padding=1, stride=2,
                        pad_mode="reflect", dtype=np.float64)  # fmt: skip
    assert len(steps) == expected.size == 9  # every position, each checked in test_page.py


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--frames", "3"), "--frames counts the frames of --animate"),
        (("--animate", "{tmp}/a.gif", "--frames", "0"), "--frames"),
        (("--animate", "{tmp}/a.gif", "--frames", "401"), "--frames"),
        (("--animate", "{tmp}/a.jpg"), "not .jpg"),
        (("--animate", "{tmp}/missing/a.gif"), "cannot write"),
        (("--html", "{tmp}/missing/a.html"), "cannot write"),
        (("--html", "{tmp}"), "--html"),
    ],
)
def test_bad_picture_options_are_one_line_and_exit_2(tmp_path, options, message):
    args = [option.format(tmp=tmp_path) for option in options]
    result = explain_cli("-k", "sobel-x", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written, nothing left
