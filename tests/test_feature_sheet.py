"""A layer's feature maps on one sheet (pictures.feature_maps), and kernels show --picture of filters.

Expected colours come from the README's rules, computed here: a map's heat map is the
colormap's table at round(255 * (v + peak) / (2 * peak)), peak its largest magnitude; a
3-channel filter's swatch is round(255 * (w + peak) / (2 * peak)) on R, G and B, peak the
largest magnitude of the layer's weights; any other filter's cells are coolwarm on that scale.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from convcli import ParameterError
from convcli.catalog.kernel import Kernel
from convcli.colormaps import lookup_table
from convcli.heat import HeatReducer, strongest
from convcli.limits import MONTAGE_TILE
from convcli.pictures.feature_maps import feature_sheet
from convcli.pictures.montage import FAINT, GAP, kernel_picture
from helpers import run
from helpers.pictures import find, label


def levels(values: np.ndarray, peak: float) -> np.ndarray:
    """0 to 255 for -peak to peak, 0 at 128: how a signed value becomes a colour's index."""
    return np.floor(255 * (values.astype(np.float64) + peak) / (2 * peak) + 0.5).astype(int)


def coloured(values: np.ndarray, colormap: str, peak: float) -> np.ndarray:
    return lookup_table(colormap)[levels(values, peak)]


def swatch(weights: np.ndarray, peak: float) -> np.ndarray:
    """A (3, kh, kw) filter as RGB, one pixel a weight."""
    return np.moveaxis(levels(weights, peak), 0, -1).astype(np.uint8)


def squares(rgb: np.ndarray, cell: int) -> np.ndarray:
    return np.kron(rgb, np.ones((cell, cell, 1), dtype=rgb.dtype))


def cell_of(sheet: np.ndarray, colour: np.ndarray) -> int:
    """The side of the one square of ``colour`` on the sheet (a scale bar's thin lines aside)."""
    mask = (sheet == colour).all(axis=2)
    solid = np.argwhere(sliding_window_view(mask, (4, 4)).all(axis=(2, 3)))
    (y0, x0), (y1, x1) = solid.min(axis=0), solid.max(axis=0)
    assert y1 - y0 == x1 - x0, "not a square"
    assert len(solid) == (y1 - y0 + 1) ** 2, "not one square"
    return int(y1 - y0 + 4)


def grid_rows(sheet: np.ndarray) -> int:
    """The sheet's rows of tiles: each starts with a faint rule across the sheet."""
    inside = sheet[:, GAP : sheet.shape[1] - GAP]
    return int((inside == FAINT).all(axis=(1, 2)).sum())


def drawn(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_maps_are_laid_out_in_a_square_grid_each_a_heat_map_beside_its_swatch():
    rng = np.random.default_rng(5)
    count = 5
    maps = rng.normal(size=(100, 120, count)).astype(np.float32)  # shown as they are
    weights = rng.normal(size=(count, 3, 5, 5))
    sheet = drawn(feature_sheet(maps, weights))
    assert grid_rows(sheet) == math.ceil(count / math.ceil(math.sqrt(count)))  # 3 columns, 2 rows
    peak = float(np.abs(weights).max())  # one scale for every filter
    corners = []
    for number in range(count):
        values = maps[..., number]
        expected = coloured(values, "coolwarm", float(np.abs(values).max()))
        (place,) = find(sheet, expected)
        corners.append(place)
        rgb = swatch(weights[number], peak)
        cell = cell_of(sheet, rgb[0, 0])
        ((y, x),) = find(sheet, squares(rgb, cell))
        assert x > place[1] + values.shape[1]  # beside the map, right of it
        assert place[0] < y + rgb.shape[0] * cell / 2 < place[0] + values.shape[0]  # its row
    tops = [y for y, _ in corners]
    lefts = [x for _, x in corners]
    assert tops[0] == tops[1] == tops[2] < tops[3] == tops[4]
    assert lefts[0] == lefts[3] < lefts[1] == lefts[4] < lefts[2]
    assert find(sheet, label("filter 4"))


def test_a_shared_scale_is_the_largest_magnitude_of_any_map():
    rng = np.random.default_rng(6)
    one = rng.normal(size=(100, 100)).astype(np.float32)
    maps = np.stack([one, 4 * one], axis=-1)
    weights = rng.normal(size=(2, 1, 3, 3))
    sheet = drawn(feature_sheet(maps, weights, colormap="coolwarm", scale="shared"))
    largest = float(np.abs(maps).max())
    for number in range(2):
        assert len(find(sheet, coloured(maps[..., number], "coolwarm", largest))) == 1


def test_maps_of_one_sign_span_the_colormap_from_zero():
    maps = np.maximum(np.random.default_rng(7).normal(size=(100, 100, 1)), 0).astype(np.float32)
    sheet = drawn(feature_sheet(maps, np.ones((1, 1, 3, 3)), colormap="magma"))
    values, top = maps[..., 0], float(maps.max())
    expected = lookup_table("magma")[
        np.floor(255 * values.astype(np.float64) / top + 0.5).astype(int)
    ]
    assert len(find(sheet, expected)) == 1


def test_filters_of_other_channel_counts_are_a_grid_of_cells_per_channel():
    weights = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3) - 17.5  # both signs
    maps = np.random.default_rng(8).normal(size=(100, 100, 2)).astype(np.float32)
    sheet = drawn(feature_sheet(maps, weights))
    peak = 17.5
    for channel in weights.reshape(-1, 3, 3):
        cells = coloured(channel, "coolwarm", peak)
        cell = cell_of(sheet, cells[0, 0])
        assert len(find(sheet, squares(cells, cell))) == 1


def test_large_maps_are_reduced_to_their_strongest_values():
    values = np.zeros((512, 512, 1), dtype=np.float32)
    values[100, 101, 0] = -3.0  # one sample: the strongest of its 2 x 2 block
    values[300, 300, 0] = 1.0
    sheet = drawn(feature_sheet(values, np.ones((1, 3, 3, 3))))
    reduced = np.zeros((256, 256), dtype=np.float32)
    reduced[50, 50], reduced[150, 150] = -3.0, 1.0
    assert len(find(sheet, coloured(reduced, "coolwarm", 3.0))) == 1


def test_thousands_of_maps_are_bounded_and_what_is_left_out_is_said():
    count = 1000
    maps = np.random.default_rng(9).normal(size=(8, 8, count)).astype(np.float32)
    sheet = drawn(feature_sheet(maps, np.ones((count, 3, 1, 1)), title=["many"]))
    assert grid_rows(sheet) == 8  # 64 maps, 8 a row
    assert find(sheet, label("maps 64 to 999 left out (a sheet shows at most 64)", 14))
    assert sheet.shape[0] * sheet.shape[1] < 10_000_000


def test_the_channels_of_a_filter_drawn_are_bounded_too():
    weights = np.ones((1, 100, 1, 1))
    sheet = drawn(feature_sheet(np.zeros((8, 8, 1)), weights))
    assert find(
        sheet, label("each filter's channels 64 to 99 left out (a picture draws at most 64)", 14)
    )


@pytest.mark.parametrize(
    ("maps", "weights", "bias", "said"),
    [
        (
            np.zeros((4, 4, 2)),
            np.zeros((3, 3, 1, 1)),
            None,
            "weights have 3 filters but there are 2 maps",
        ),
        (np.zeros((4, 4, 2)), np.zeros((3, 1)), None, "weights must be (C_out, C_in, kh, kw)"),
        (np.zeros(4), np.zeros((1, 3, 1, 1)), None, "maps must be (H, W, C)"),
        (
            np.zeros((4, 4, 2)),
            np.zeros((2, 3, 1, 1)),
            [1.0],
            "bias has 1 number but there are 2 maps",
        ),
    ],
)
def test_mismatched_maps_and_weights_are_one_line(maps, weights, bias, said):
    with pytest.raises(ParameterError) as raised:
        feature_sheet(maps, weights, bias=bias)
    assert said in str(raised.value)
    assert "\n" not in str(raised.value)


# --- kernels show --picture of a filter and of a layer -----------------------------------------


EDGE = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


def test_kernels_show_draws_a_3d_filter_per_channel_and_as_rgb(tmp_path):
    weights = np.array([EDGE, np.negative(EDGE), np.zeros((3, 3))], dtype=np.float64)
    spec = str(weights.astype(int).tolist()).replace(" ", "")
    done = run("kernels", "show", spec, "--picture", str(tmp_path / "k.png"))
    assert done.exit_code == 0, done.stderr
    picture = np.asarray(Image.open(tmp_path / "k.png").convert("RGB"))
    rgb = swatch(weights, 2.0)
    cell = cell_of(picture, rgb[1, 0])  # the strongest: (0, 255, 128), found nowhere else
    assert len(find(picture, squares(rgb, cell))) == 1
    assert tuple(rgb[1, 0]) == (0, 255, 128)  # a red-green edge: -2 on red, 2 on green
    for text in ("channel 0", "channel 2", "RGB"):
        assert find(picture, label(text))
    # Each channel's cells, coolwarm on the same scale (a white line between cells).
    blue = lookup_table("coolwarm")[0]
    assert (picture == blue).all(axis=2).sum() >= 2 * (cell - 1) ** 2 * 0.8  # -2 on channels 0, 1


def test_kernels_show_draws_a_layer_of_filters_in_a_grid(tmp_path):
    weights = np.random.default_rng(10).normal(size=(16, 3, 7, 7))
    biases = tuple(float(number) for number in range(16))
    kernel = Kernel("conv1.npy", weights.shape, lambda: weights, filter_bias=biases)
    picture = drawn(kernel_picture(kernel))
    assert grid_rows(picture) == 4  # 16 filters, 4 a row
    peak = float(np.abs(weights).max())
    for number in (0, 15):
        rgb = swatch(weights[number], peak)
        cell = cell_of(picture, rgb[0, 0])
        assert len(find(picture, squares(rgb, cell))) == 1
    assert find(picture, label("filter 15"))
    assert find(picture, label("bias 15"))


def test_picture_path_is_checked_before_drawing(tmp_path: Path):
    done = run(
        "kernels", "show", "[[[1,2],[3,4]],[[1,2],[3,4]]]", "--picture", str(tmp_path / "k.xyz")
    )
    assert done.exit_code == 2
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("count", [3, 40])
def test_a_layers_response_is_reduced_map_by_map_as_a_single_maps_is(count):
    values = np.random.default_rng(11).normal(size=(301, 530, count)).astype(np.float32)
    values[7, 9, 1] = np.inf  # no peak
    reducer = HeatReducer(values.shape)
    for start in range(0, 301, 64):  # bands of rows, as the pipeline makes them
        reducer.add(values[start : start + 64])
    tile = reducer.tile()
    side = MONTAGE_TILE if count <= 16 else MONTAGE_TILE // 2  # README: half for many maps
    assert tile.factor == math.ceil(530 / side)
    for number in range(count):
        alone = HeatReducer(values.shape[:2])  # one map: tested against a plain loop (test_heat)
        alone.add(values[..., number])
        expected = alone.tile()
        np.testing.assert_array_equal(
            tile.values[..., number], strongest(values[..., number], tile.factor)
        )
        if tile.factor == expected.factor:
            np.testing.assert_array_equal(tile.values[..., number], expected.values)
        finite = values[..., number][np.isfinite(values[..., number])]
        assert tile.peaks[number] == float(np.abs(finite).max())
    assert tile.peak == max(tile.peaks)


def test_thousands_of_maps_keep_only_the_first_tiles():
    values = np.ones((20, 30, 1000), dtype=np.float32)
    reducer = HeatReducer(values.shape)
    reducer.add(values)
    tile = reducer.tile()
    assert tile.values.shape == (20, 30, 64)
    assert tile.shape == (20, 30, 1000)
    assert len(tile.peaks) == 64


def test_kernels_show_names_a_filters_channels_from_zero():
    done = run("kernels", "show", "[[[1,2],[3,4]],[[5,6],[7,-8]]]")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    first, second = lines.index("channel 0"), lines.index("channel 1")
    assert lines[first + 1 : first + 3] == [" 1  2", " 3  4"]
    assert lines[second + 1 : second + 3] == [" 5  6", " 7 -8"]


def test_a_layers_matrices_are_shown_filter_by_filter():
    from convcli.cli.render import console, kernel_view

    weights = np.arange(16.0).reshape(2, 2, 2, 2)
    stream = io.StringIO()
    console(file=stream).print(kernel_view(Kernel("w.npy", weights.shape, lambda: weights)))
    lines = stream.getvalue().splitlines()
    for f, c in np.ndindex(2, 2):
        at = lines.index(f"filter {f}, channel {c}")
        assert [[float(v) for v in line.split()] for line in lines[at + 1 : at + 3]] == weights[
            f, c
        ].tolist()


# --- apply -k LAYER --montage FILE -------------------------------------------------------------


@pytest.fixture
def layer(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(12)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, size=(100, 110, 3), dtype=np.uint8)).save(photo)
    np.save(tmp_path / "w.npy", rng.normal(size=(5, 3, 3, 3)).astype(np.float32))
    np.save(tmp_path / "b.npy", np.array([0.5, -0.25, 0, 1, 2], dtype=np.float32))
    return {"photo": photo, "w": tmp_path / "w.npy", "b": tmp_path / "b.npy"}


def test_a_layer_run_draws_its_feature_maps_each_beside_its_filter(tmp_path, layer):
    sheet_path, maps_path = tmp_path / "sheet.png", tmp_path / "maps.npy"
    done = run("apply", str(layer["photo"]), "-k", str(layer["w"]), "--bias", str(layer["b"]),
               "-o", str(maps_path), "--montage", str(sheet_path))  # fmt: skip
    assert done.exit_code == 0, done.stderr
    maps, weights = np.load(maps_path), np.load(layer["w"])  # the run's maps, as written
    sheet = np.asarray(Image.open(sheet_path).convert("RGB"))
    assert grid_rows(sheet) == 2  # 5 maps: 3 columns, 2 rows
    peak = float(np.abs(weights).max())
    for number in range(5):
        values = maps[..., number]
        assert len(find(sheet, coloured(values, "coolwarm", float(np.abs(values).max())))) == 1
        rgb = swatch(weights[number].astype(np.float64), peak)
        assert len(find(sheet, squares(rgb, cell_of(sheet, rgb[0, 0])))) == 1
    for text in ("filter 0", "filter 4", "bias 0.5", "bias -0.25", "bias 2"):
        assert find(sheet, label(text)), text


def test_the_maps_drawn_are_the_pipelines_output_after_the_layer(tmp_path, layer):
    sheet_path, maps_path = tmp_path / "sheet.png", tmp_path / "maps.npy"
    done = run("apply", str(layer["photo"]), "-k", str(layer["w"]), "-k", "relu", "-k",
               "maxpool:2", "-o", str(maps_path), "--montage", str(sheet_path),
               "--montage-scale", "shared")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    maps = np.load(maps_path)
    assert maps.shape == (50, 55, 5)
    sheet = np.asarray(Image.open(sheet_path).convert("RGB"))
    assert maps.min() >= 0  # after relu: magma, 0 its black end, the largest its top
    largest = float(maps.max())
    table = lookup_table("magma")
    for number in range(5):  # shown at 96 // 55 = 1x: as they are
        levels = np.floor(255 * maps[..., number].astype(np.float64) / largest + 0.5)
        assert len(find(sheet, table[levels.astype(int)])) == 1


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["second"], "--montage draws the feature maps of one input; 2 inputs were given"),
        (["--bank"], "--montage draws a layer's feature maps without --bank"),
    ],
)
def test_a_layer_sheet_is_refused_before_anything_is_written(tmp_path, layer, extra, said):
    inputs = [str(layer["photo"])]
    if extra == ["second"]:
        second = tmp_path / "second.png"
        second.write_bytes(layer["photo"].read_bytes())
        inputs.append(str(second))
        extra = []
    before = set(tmp_path.iterdir())
    done = run("apply", *inputs, "-k", str(layer["w"]), "-o", str(tmp_path / "out") + "/",
               "--format", "npy", "--montage", str(tmp_path / "sheet.png"), *extra)  # fmt: skip
    assert done.exit_code == 2, done.output
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"convcli: error: {said}")
    assert set(tmp_path.iterdir()) == before


def test_an_input_that_runs_no_layer_has_no_sheet_and_says_so(tmp_path):
    np.save(tmp_path / "volume.npy", np.ones((6, 6, 3)))
    done = run("apply", str(tmp_path / "volume.npy"), "-k", "[[[1,0],[0,1]],[[1,0],[0,1]]]",
               "-o", str(tmp_path / "out.npy"), "--montage", str(tmp_path / "sheet.png"))  # fmt: skip
    assert done.exit_code == 1
    assert "ran no layer" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "sheet.png").exists()


def test_a_layer_without_biases_and_a_filter_too_large_for_cells_are_drawn_as_tiles():
    weights = np.random.default_rng(13).normal(size=(2, 3, 4, 4))
    picture = drawn(kernel_picture(Kernel("w.npy", weights.shape, lambda: weights)))
    assert grid_rows(picture) == 1  # 2 filters, one row
    assert find(picture, label("filter 1"))
    large = np.random.default_rng(14).normal(size=(8, 700, 700))  # 4 across at a pixel: too wide
    picture = drawn(kernel_picture(Kernel("big", large.shape, lambda: large)))
    assert grid_rows(picture) == 1
    assert max(picture.shape) < 700  # the filter reduced to its tile
