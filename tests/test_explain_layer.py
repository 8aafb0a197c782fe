"""``convcli explain`` for a layer's filter: the window on every channel, summed, plus the bias.

Every number is checked against the definition written out below as plain
loops (``layer_by_loops``) and against ``convcli.convolve(..., channels="sum")``
on the whole input; the pictures are decoded, and the page is stepped
through in a headless Chromium.
"""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

import convcli
from convcli.errors import ParameterError, UsageError
from convcli.limits import MAX_EXPLAIN_CHANNELS, MAX_FRAME_PIXELS
from convcli.pictures.animation import highlights, layout
from convcli.pictures.canvas import HIGHLIGHT
from convcli.pictures.page import page_text
from helpers import SAMPLES, run
from helpers.reference import border_index, brute_force_size
from test_page import browser, embedded, number  # noqa: F401  (browser: the page's fixture)

MODES = ["zero", "reflect", "symmetric", "replicate", "wrap"]
ALL = 10_000
# Three 3x3 filters of a first layer, one per colour: red's edges, green's Laplacian, blue's box.
RGB_FILTER = [
    [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
]


def layer_by_loops(x, w, bias, pads, mode, strides, dilations, flip=False):
    """One filter ``w`` (C, kh, kw) over ``x`` (H, W, C), by the definition: every tap, every channel."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if flip:
        w = w[:, ::-1, ::-1]
    sizes = [brute_force_size(n, b, a, k, s, d) for n, (b, a), k, s, d in
             zip(x.shape[:2], pads, w.shape[1:], strides, dilations, strict=True)]  # fmt: skip
    out = np.full(sizes, float(bias))
    for i, j in itertools.product(range(sizes[0]), range(sizes[1])):
        for c, m, n in itertools.product(*map(range, w.shape)):
            row = border_index(i * strides[0] + m * dilations[0] - pads[0][0], x.shape[0], mode)
            col = border_index(j * strides[1] + n * dilations[1] - pads[1][0], x.shape[1], mode)
            if row is not None and col is not None:
                out[i, j] += x[row, col, c] * w[c, m, n]
    return out


def explain_json(*args: str) -> dict:
    result = run("explain", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def whole_indices(record: dict) -> list[tuple[int, int]]:
    start = record["output_start"]
    return [(i + start[0], j + start[1]) for i, j in (s["output_index"] for s in record["steps"])]


@st.composite
def cases(draw: st.DrawFn):
    channels = draw(st.integers(1, 4))
    sides = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    ksides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    x = np.array(draw(st.lists(st.integers(-9, 9), min_size=sides[0] * sides[1] * channels,
                               max_size=sides[0] * sides[1] * channels)))  # fmt: skip
    w = np.array(draw(st.lists(st.integers(-9, 9), min_size=channels * ksides[0] * ksides[1],
                               max_size=channels * ksides[0] * ksides[1])))  # fmt: skip
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2)]
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return (x.reshape(*sides, channels), w.reshape(channels, *ksides), pads, strides, dilations,
            draw(st.sampled_from(MODES)), draw(st.booleans()), draw(st.integers(-5, 5)))  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(cases())
def test_every_window_on_every_channel_is_the_definition_and_the_sum_is_the_engines(case):
    x, w, pads, strides, dilations, mode, flip, bias = case
    sizes = [brute_force_size(n, b, a, k, s, d) for n, (b, a), k, s, d in
             zip(x.shape[:2], pads, w.shape[1:], strides, dilations, strict=True)]  # fmt: skip
    assume(min(sizes) >= 1)
    e = convcli.explain(w, x, padding=[v for pair in pads for v in pair], pad_mode=mode,
                        stride=strides, dilation=dilations, flip=flip, bias=bias,
                        steps=ALL)  # fmt: skip
    record = e.record()
    loops = layer_by_loops(x, w, bias, pads, mode, strides, dilations, flip)
    engine = convcli.convolve(x, w, channels="sum", bias=[bias], padding=pads, pad_mode=mode,
                              stride=strides, dilation=dilations, flip=flip, dtype=np.float64)  # fmt: skip
    np.testing.assert_allclose(record["output"], loops, atol=1e-9)
    np.testing.assert_allclose(record["output"], engine, atol=1e-9)
    assert len(record["steps"]) == loops.size
    applied = w[:, ::-1, ::-1] if flip else w
    for step, index in zip(record["steps"], np.ndindex(*sizes), strict=True):
        assert tuple(step["output_index"]) == index
        window = np.array(step["window"])  # (C, kh, kw): the cells each channel's taps read
        for c, m, n in np.ndindex(*w.shape):
            row = border_index(index[0] * strides[0] + m * dilations[0] - pads[0][0], x.shape[0],
                               mode)  # fmt: skip
            col = border_index(index[1] * strides[1] + n * dilations[1] - pads[1][0], x.shape[1],
                               mode)  # fmt: skip
            expected = 0 if row is None or col is None else x[row, col, c]
            assert window[c, m, n] == expected
        assert step["sums"] == [float((window[c] * applied[c]).sum()) for c in range(len(w))]
        assert step["sum"] == sum(step["sums"]) + bias == loops[index]  # small integers: exact


def test_a_crop_of_a_photo_is_the_layer_apply_computes_on_the_whole_photo():
    photo = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"))
    record = explain_json("-k", json.dumps(RGB_FILTER), "--input", str(SAMPLES / "astronaut.png"),
                          "--crop", "100,90,5,6", "--steps", "100")  # fmt: skip
    assert record["input_shape"] == [512, 512, 3]
    assert record["crop"] == {"start": [100, 90], "shape": [5, 6]}
    assert record["channels"] == [0, 1, 2]
    assert (record["filter"], record["bias"]) == (0, 0.0)
    whole = convcli.convolve(photo, RGB_FILTER, channels="sum", dtype=np.float64)  # same, reflect
    np.testing.assert_allclose(record["output"], whole[100:105, 90:96], rtol=1e-12)
    loops = layer_by_loops(photo[99:106, 89:97], RGB_FILTER, 0, [(0, 0)] * 2, "zero",
                           (1, 1), (1, 1))  # the crop and the cells around it: all inside  # fmt: skip
    np.testing.assert_allclose(record["output"], loops, rtol=1e-12)
    assert len(record["steps"]) == 30
    for step, index in zip(record["steps"], whole_indices(record), strict=True):
        assert step["sum"] == pytest.approx(whole[index], rel=1e-12)
        rows, cols = slice(index[0] - 1, index[0] + 2), slice(index[1] - 1, index[1] + 2)
        assert step["window"] == np.moveaxis(photo[rows, cols], -1, 0).tolist()


def test_a_filter_of_a_4d_kernel_with_its_bias_and_groups_is_that_map_of_the_layer():
    rng = np.random.default_rng(28)
    x = rng.normal(size=(9, 8, 4))
    weights = rng.normal(size=(6, 2, 3, 3))  # groups=2: filters 0-2 read channels 0-1, 3-5 2-3
    biases = rng.normal(size=6)
    layer = convcli.convolve(x, weights, channels="sum", bias=biases, groups=2, padding=1,
                             stride=2, pad_mode="zero", dtype=np.float64)  # fmt: skip
    for chosen in range(6):
        e = convcli.explain(weights, x, filter=chosen, bias=biases, groups=2, padding=1, stride=2,
                            pad_mode="zero", steps=ALL, crop=(2, 1, 6, 5))  # fmt: skip
        assert isinstance(e, convcli.LayerExplanation)
        assert e.channels == ((0, 1) if chosen < 3 else (2, 3))
        assert e.bias == biases[chosen]
        start = e.planes[0].output_start
        part = layer[
            start[0] : start[0] + e.output.shape[0], start[1] : start[1] + e.output.shape[1]
        ]
        np.testing.assert_allclose(e.output, part[..., chosen], rtol=1e-12)
        group = x[..., list(e.channels)]
        loops = layer_by_loops(group, weights[chosen], biases[chosen], [(1, 1)] * 2, "zero",
                               (2, 2), (1, 1))  # fmt: skip
        totals = [loops[tuple(a + b for a, b in zip(s.output_index, start, strict=True))]
                  for s in e.planes[0].steps]  # fmt: skip
        np.testing.assert_allclose(e.totals, totals, rtol=1e-12)


def test_a_filter_of_weights_files_with_the_bias_beside_or_given(tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(4)
    photo = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"))
    weights = rng.normal(size=(5, 3, 3, 3))
    biases, other = rng.normal(size=5), rng.normal(size=5)
    save_file({"conv1.weight": weights, "conv1.bias": biases}, str(tmp_path / "m.safetensors"))
    np.save(tmp_path / "b.npy", other)
    layer = convcli.convolve(photo, weights, channels="sum", bias=biases, dtype=np.float64)
    crop = ["--input", str(SAMPLES / "astronaut.png"), "--crop", "100,90,3,4", "--steps", "12"]
    for chosen in (0, 4):
        record = explain_json("-k", f"{tmp_path / 'm.safetensors'}:conv1.weight", *crop,
                              "--filter", str(chosen))  # fmt: skip
        assert (record["filter"], record["bias"]) == (chosen, biases[chosen])
        assert record["kernel"] == weights[chosen].tolist()
        np.testing.assert_allclose(record["output"], layer[100:103, 90:94, chosen], rtol=1e-12)
        sums = [step["sum"] for step in record["steps"]]
        np.testing.assert_allclose(sums, layer[100:103, 90:94, chosen].ravel(), rtol=1e-12)
    record = explain_json("-k", f"{tmp_path / 'm.safetensors'}:conv1.weight", *crop,
                          "--filter", "2", "--bias", str(tmp_path / "b.npy"))  # fmt: skip
    assert record["bias"] == other[2]  # --bias replaces the one beside
    expected = layer[100:103, 90:94, 2] - biases[2] + other[2]
    np.testing.assert_allclose(record["output"], expected, rtol=1e-12)


def test_a_depthwise_filter_reads_its_own_channel(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(6, 6, 3))
    weights = rng.normal(size=(3, 1, 3, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "dw.npy", weights)
    record = explain_json("-k", f"{tmp_path / 'dw.npy'}:groups=3", "--input", str(tmp_path / "x.npy"),
                          "--filter", "2", "--steps", "36")  # fmt: skip
    assert record["channels"] == [2]
    loops = layer_by_loops(x[..., 2:], weights[2], 0, [(1, 1)] * 2, "reflect", (1, 1), (1, 1))
    np.testing.assert_allclose(record["output"], loops, rtol=1e-12)
    np.testing.assert_allclose([s["sum"] for s in record["steps"]], loops.ravel(), rtol=1e-12)


def test_the_terminal_writes_each_channels_products_and_the_total_with_the_bias():
    # The default input for 3 channels: channel c is the 5x5 ramp plus 25·c.
    kernel = [[[1, 0], [0, 0]], [[0, 1], [0, 0]], [[0, 0], [0, 2]]]
    page = run("explain", "-k", json.dumps(kernel), "-p", "valid", "--steps", "1").stdout
    assert "filter 0, 3x2x2, over 5x5x3: cross-correlation on channels 0..2, summed" in page
    assert "kernel[c, m, n] + bias" in page
    assert [line.strip() for line in page.splitlines() if line.startswith("channel")] == [
        "channel 0", "channel 1", "channel 2"]  # fmt: skip
    # output[0, 0]: 1 on channel 0, 27 on channel 1 (26 + 1, right), 2·57 on channel 2
    assert "    channel 0: (1·1) + (2·0) + (6·0) + (7·0) = 1" in page
    assert "    channel 1: (26·0) + (27·1) + (31·0) + (32·0) = 27" in page
    assert "    channel 2: (51·0) + (52·0) + (56·0) + (57·2) = 114" in page
    assert "    total: 1 + 27 + 114 + bias 0 = 142" in page


def test_gray_explains_a_one_channel_filter_over_the_luminance():
    rgb = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"))
    grey = rgb[100:103, 100:103].astype(np.float64) @ [0.299, 0.587, 0.114]
    record = explain_json("-k", "[[[1]]]", "--input", str(SAMPLES / "astronaut.png"), "--gray",
                          "--crop", "100,100,3,3")  # fmt: skip
    assert record["input_shape"] == [512, 512, 1]
    np.testing.assert_allclose(record["output"], grey, rtol=1e-6)


def test_an_image_gives_its_colour_channels_alpha_aside_and_cmyk_made_rgb(tmp_path):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (6, 7, 4), dtype=np.uint8), "RGBA").save(
        tmp_path / "a.png"
    )
    Image.fromarray(rng.integers(0, 256, (6, 7, 4), dtype=np.uint8), "CMYK").save(
        tmp_path / "i.jpg"
    )
    for name in ("a.png", "i.jpg"):
        with Image.open(tmp_path / name) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float64)  # Pillow's own conversion
        record = explain_json("-k", "[[[1]],[[10]],[[100]]]", "--input", str(tmp_path / name))
        assert record["input_shape"] == [6, 7, 3]
        np.testing.assert_array_equal(record["output"], rgb @ [1, 10, 100])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", json.dumps(RGB_FILTER), "--input", str(SAMPLES / "camera.png")],
         r"^convcli: error: the kernel's filters read 3 channels and the input has 1: give an input of 3 channels$"),
        (["-k", "[[[1]]]", "--input", str(SAMPLES / "astronaut.png"), "--crop", "0,0,2,2"],
         r"read 1 channel and the input has 3: give an input of 1 channel \(--gray makes an image its luminance\)$"),
        (["-k", json.dumps(RGB_FILTER), "--input", str(SAMPLES / "astronaut.png"), "--gray"],
         r"read 3 channels and the input has 1"),
        (["-k", json.dumps(RGB_FILTER), "--filter", "1"], r"--filter must be 0 to 0 \(the kernel has 1\), got 1$"),
        (["-k", "sobel-x", "--filter", "0"], r"--filter is a layer's: give a 3-D or 4-D kernel with it$"),
        (["-k", "sobel-x", "--bias", "[1]"], r"--bias is a layer's: give a 3-D or 4-D kernel with it$"),
        (["-k", json.dumps(RGB_FILTER), "--bias", "[1, 2]"], r"--bias must be one number, or one per filter, shape \(1,\); got shape \(2,\)$"),
        (["-k", json.dumps(RGB_FILTER), "--bias", "nothing.npy"], r"nothing.npy"),
        (["-k", json.dumps(RGB_FILTER), "--crop", "0,0,2"], r"--crop takes ROW,COL,HEIGHT,WIDTH for a 2-D input"),
        (["-k", json.dumps([[[1]]] * (MAX_EXPLAIN_CHANNELS + 1))],
         rf"reads {MAX_EXPLAIN_CHANNELS + 1} channels; explain shows at most {MAX_EXPLAIN_CHANNELS}$"),
    ],
)  # fmt: skip
def test_bad_layer_requests_exit_2_with_one_line(args, message):
    result = run("explain", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert re.search(message, line), line


def test_the_library_refuses_a_filter_or_a_bias_that_does_not_fit():
    weights = np.ones((4, 3, 3, 3))
    with pytest.raises(
        ParameterError, match=r"^filter must be 0 to 3 \(the kernel has 4\), got 4$"
    ):
        convcli.explain(weights, filter=4)
    with pytest.raises(
        ParameterError,
        match=r"^bias must be one number, or one per filter, shape \(4,\); got shape \(3,\)$",
    ):
        convcli.explain(weights, bias=[1, 2, 3])
    with pytest.raises(
        ParameterError,
        match=r"^groups must be an int >= 1 that divides the kernel's 4 filters, got 3$",
    ):
        convcli.explain(weights, groups=3)
    with pytest.raises(
        UsageError, match=r"read 6 channels \(3 per group of 2\) and the input has 3"
    ):
        convcli.explain(weights, np.ones((5, 5, 3)), groups=2)  # fmt: skip
    with pytest.raises(ParameterError, match=r"^bias must be finite"):
        convcli.explain(weights, bias=[0, np.inf, 0, 0], filter=1)
    with pytest.raises(UsageError, match=r"got a 4-D kernel and a 4-D input$"):
        convcli.explain(weights, np.ones((5, 5, 3, 1)))


# --- the pictures --------------------------------------------------------------------------


def decoded(path) -> list[np.ndarray]:
    with Image.open(path) as animation:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(animation)]


def test_every_frame_lights_the_window_on_every_channel_and_the_output_cell_only(tmp_path):
    target = tmp_path / "layer.gif"
    result = run("explain", "-k", json.dumps(RGB_FILTER), "--input", str(SAMPLES / "astronaut.png"),
                 "--crop", "100,100,3,4", "-d", "2", "--animate", str(target))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"wrote {target}: 12 frames" in result.stdout
    e = convcli.explain(RGB_FILTER, SAMPLES / "astronaut.png", crop=(100, 100, 3, 4), dilation=2,
                        steps=12)  # fmt: skip
    where = layout(e)
    shown = decoded(target)
    assert len(shown) == 12
    first = e.planes[0]
    for at, frame in enumerate(shown):
        boxes = highlights(e, at)
        assert len(boxes) == 3 * 9 + 1  # the 9 taps on each of the 3 channels, and the output
        index = first.steps[at].output_index
        origin = first.steps[at].origin
        taps = [(origin[0] + 2 * m, origin[1] + 2 * n) for m in range(3) for n in range(3)]
        assert boxes == [shown_grid.box(*tap) for shown_grid, _, _ in where.bands
                         for tap in taps] + [where.output.box(*index)]  # fmt: skip
        allowed = np.zeros(frame.shape[:2], dtype=bool)
        for box in boxes:
            part = frame[box.top : box.bottom, box.left : box.right]
            assert np.all(part == HIGHLIGHT, axis=2).any(), box
            allowed[box.top : box.bottom, box.left : box.right] = True
        stray = np.all(frame == HIGHLIGHT, axis=2) & ~allowed
        legend = where.formulas + 2 * 24  # the legend's swatch of the window is drawn in it
        assert not stray[:legend].any(), np.argwhere(stray[:legend])[:5]


def test_a_frame_past_the_bound_is_refused_before_anything_is_drawn(tmp_path):
    # 16 channels of a 32x32 crop with its context: 16 grids of 36x36 cells, one under another
    x = np.random.default_rng(5).normal(size=(40, 40, MAX_EXPLAIN_CHANNELS))
    target = tmp_path / "tall.gif"
    with pytest.raises(UsageError, match=r"frame would be \d+x\d+ pixels, past 1,500,000: explain "
                       r"a smaller crop, or step through it with html$"):  # fmt: skip
        convcli.explain(np.ones((MAX_EXPLAIN_CHANNELS, 5, 5)), x, crop=(0, 0, 32, 32),
                        animate=target, frames=2)  # fmt: skip
    assert not target.exists()
    small = convcli.explain(np.ones((MAX_EXPLAIN_CHANNELS, 3, 3)), x, crop=(0, 0, 4, 4),
                            animate=target, frames=2)  # fmt: skip
    width, height = layout(small).size
    assert width * height <= MAX_FRAME_PIXELS
    assert len(decoded(target)) == 2


def test_the_page_embeds_each_channels_window_and_sum_and_the_total():
    x = np.arange(48.0).reshape(4, 4, 3) % 7
    e = convcli.explain(RGB_FILTER, x, bias=0.5, padding=1, stride=(1, 2), steps=ALL)
    page = page_text(e, title="t")
    data = embedded(page)
    engine = convcli.convolve(x, RGB_FILTER, channels="sum", bias=[0.5], padding=1, stride=(1, 2),
                              dtype=np.float64)  # fmt: skip
    assert [plane["grid"] for plane in data["planes"]] == ["s0", "s1", "s2"]
    assert len(data["steps"]) == engine.size
    for step, index in zip(data["steps"], np.ndindex(*engine.shape), strict=True):
        windows = [[number(v) for v in w] for w in step["windows"]]
        padded = np.pad(x, [(1, 1), (1, 1), (0, 0)], mode="reflect")
        rows, cols = step["rows"], step["cols"]
        assert windows == [padded[np.ix_(rows, cols)][..., c].ravel().tolist() for c in range(3)]
        sums = [float((np.reshape(w, (3, 3)) * RGB_FILTER[c]).sum()) for c, w in enumerate(windows)]
        assert [number(s) for s in step["sums"]] == sums
        assert number(step["sum"]) == sum(sums) + 0.5 == engine[index]
    for p in range(3):  # every channel's grid, kernel and picture markers
        assert f'id="s{p}-0-0"' in page
        assert f'id="k{p}-0-0"' in page
        assert f'id="window-marker-{p}"' in page


def test_the_page_steps_every_channels_window_in_a_browser(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    x = np.arange(75.0).reshape(5, 5, 3)
    path = tmp_path / "layer.html"
    e = convcli.explain(RGB_FILTER, x, bias=-1, html=path, steps=0)
    engine = convcli.convolve(x, RGB_FILTER, channels="sum", bias=[-1], dtype=np.float64)
    browser.get(path.as_uri())
    for index in [(0, 0), (0, 1), (0, 2)]:
        lit = browser.find_elements(By.CSS_SELECTOR, "td.cell.window")
        grids = sorted({cell.get_attribute("id").split("-")[0] for cell in lit})
        assert grids == ["s0", "s1", "s2"]
        assert len(lit) == 3 * 9
        assert number(browser.find_element(By.ID, "sum").text) == engine[index]
        products = browser.find_element(By.ID, "products").text
        assert products.startswith("channel 0: (")
        assert products.splitlines()[-1].endswith(" + bias -1")
        browser.find_element(By.ID, "next").click()
    assert e.output.shape == (5, 5)
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
