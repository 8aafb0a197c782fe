"""`convcli explain`, heat maps and matched filters: what a learner is shown is what is computed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.choices import Colormap
from convcli.cli import app
from convcli.colormaps import lookup_table
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
        (["-k", "box", "--input", str(SAMPLES / "camera.png")], r"explain shows at most 32 per side: choose a part with --crop"),
        (["-k", "box", "--input", "[[1,2],[3,4]]", "--crop", "0,0,3,3"], r"--crop reaches 3 along axis 0"),
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


def test_a_npy_signal_is_explained_with_a_1d_crop(tmp_path):
    np.save(tmp_path / "s.npy", np.arange(100.0) ** 2)
    record = explain_json(
        "-k", "[1, -2, 1]", "--input", str(tmp_path / "s.npy"), "--crop", "10,6", "-p", "valid"
    )
    assert record["input_shape"] == [6]
    assert record["output"] == [2.0] * 4  # the second difference of n squared


def test_a_template_names_its_outputs_by_the_file_stem(tmp_path):
    result = runner.invoke(app, ["apply", str(SAMPLES / "shapes.png"), "-k", f"template:{SAMPLES / 'circle.png'}",
                                 "-o", str(tmp_path), "--json"])  # fmt: skip
    record = json.loads(result.stdout)
    assert record["kernel"] == "template:circle"
    assert record["output"].endswith("shapes_template-circle.png")
