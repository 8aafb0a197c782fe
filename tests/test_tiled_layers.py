"""apply --tile with a layer: its maps in tiles equal the whole image's, bit for bit.

Through the real entry point: each tiled run is compared with the same command
without ``--tile`` writing a ``.npy`` (the whole-image path, itself tested
against PyTorch and a plain-loop conv2d in ``test_layer_cli``), and, for a
plain layer, with conv2d by its definition (einsum over the windows).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from numpy.lib.stride_tricks import sliding_window_view

from helpers import run, save_zarr

pytest.importorskip(
    "dask.array", reason='needs the distributed extra: pip install ".[distributed]"'
)
zarr = pytest.importorskip(
    "zarr", reason='needs the distributed extra: pip install ".[distributed]"'
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Inputs of several tiles at tile 17, and weights: a layer, a depthwise one, one filter."""
    folder = tmp_path_factory.mktemp("layers")
    rng = np.random.default_rng(28)
    np.save(folder / "rgb.npy", (rng.random((61, 75, 3)) * 255).astype(np.uint8))
    np.save(folder / "float.npy", rng.standard_normal((50, 47, 3)).astype(np.float32))
    np.save(folder / "grey.npy", rng.standard_normal((40, 53)).astype(np.float32))
    np.save(folder / "w.npy", rng.standard_normal((6, 3, 3, 3)).astype(np.float32))
    np.save(folder / "even.npy", rng.standard_normal((4, 3, 4, 2)).astype(np.float32))
    np.save(folder / "dw.npy", rng.standard_normal((6, 1, 3, 3)).astype(np.float32))
    np.save(folder / "one.npy", rng.standard_normal((3, 5, 5)).astype(np.float32))
    np.save(folder / "grey_w.npy", rng.standard_normal((5, 1, 3, 3)).astype(np.float32))
    np.save(folder / "b.npy", rng.standard_normal(6).astype(np.float32))
    return folder


def whole_and_tiled(folder, tmp_path, name, options, tile="17", suffix="npy"):
    """Run the command whole (to .npy) and with --tile (to ``suffix``); return both arrays."""
    given = [str(folder / o) if ".npy" in o else o for o in options]
    whole = run("apply", str(folder / name), *given, "-o", str(tmp_path / "whole.npy"), "-q")
    assert whole.exit_code == 0, whole.output
    out = tmp_path / f"tiled.{suffix}"
    tiled = run("apply", str(folder / name), *given, "--tile", tile, "-o", str(out), "-q")
    assert tiled.exit_code == 0, tiled.output
    values = zarr.open_array(store=str(out), mode="r")[...] if suffix == "zarr" else np.load(out)
    return np.load(tmp_path / "whole.npy"), values


LAYERS = [
    ("rgb.npy", ["-k", "w.npy"]),  # same padding, reflect: the defaults
    ("rgb.npy", ["-k", "w.npy", "--bias", "b.npy", "-p", "valid", "--pad-mode", "zero"]),
    ("rgb.npy", ["-k", "w.npy", "-p", "full", "--pad-mode", "wrap", "-s", "2"]),
    ("rgb.npy", ["-k", "w.npy", "-p", "2", "--pad-mode", "symmetric", "-d", "2"]),
    ("rgb.npy", ["-k", "w.npy", "-p", "1,0", "--pad-mode", "replicate", "-s", "2,1"]),
    ("rgb.npy", ["-k", "even.npy", "-p", "0,2,1,1", "--pad-value", "7", "--pad-mode", "zero"]),
    ("rgb.npy", ["-k", "w.npy", "-p", "9", "--pad-mode", "reflect", "--flip"]),  # wider than a tile
    ("float.npy", ["-k", "dw.npy:groups=3", "--bias", "b.npy", "-s", "3", "-d", "2"]),
    ("float.npy", ["-k", "w.npy", "--method", "direct", "--pad-mode", "wrap"]),
    ("float.npy", ["-k", "one.npy", "--bias", "[0.5]"]),  # one filter: one (H, W) map
    ("grey.npy", ["-k", "grey_w.npy", "-p", "valid"]),  # an (H, W) input is one channel
]


@pytest.mark.parametrize(("name", "options"), LAYERS, ids=[" ".join(o) for _, o in LAYERS])
def test_a_layers_tiles_equal_the_whole_bit_for_bit(inputs, tmp_path, name, options):
    whole, tiled = whole_and_tiled(inputs, tmp_path, name, options)
    assert tiled.dtype == np.float32
    np.testing.assert_array_equal(tiled, whole)


def test_a_layers_tiles_are_conv2d_by_its_definition(inputs, tmp_path):
    _, tiled = whole_and_tiled(inputs, tmp_path, "rgb.npy", ["-k", "w.npy", "--bias", "b.npy",
                                                             "-p", "valid"], tile="16")  # fmt: skip
    x, w, b = (np.load(inputs / f) for f in ("rgb.npy", "w.npy", "b.npy"))
    windows = sliding_window_view(x.astype(np.float64), (3, 3), axis=(0, 1))
    expected = np.einsum("yxcij,ocij->yxo", windows, w.astype(np.float64)) + b
    assert tiled.shape == (59, 73, 6)
    np.testing.assert_allclose(tiled, expected, rtol=1e-5, atol=1e-3)


STEPS = [
    ["-k", "w.npy", "--bias", "b.npy", "-k", "relu"],
    ["-k", "w.npy", "-k", "leaky-relu:0.2", "-k", "tanh", "-k", "sigmoid", "-k", "abs"],
    ["-k", "w.npy", "-k", "relu", "-k", "sobel-x", "-s", "2"],  # a 2-D kernel: each map alone
    ["-k", "w.npy", "-k", "relu", "-k", "maxpool:2", "-k", "dw.npy:groups=6"],
    ["-k", "w.npy", "-k", "avgpool:3", "-k", "gaussian:sigma=1"],
    ["-k", "maxpool:2"],  # a pool alone, on the input's samples
    ["-k", "w.npy", "--range", "rescale"],  # each map from its own extremes
    ["-k", "w.npy", "-k", "relu", "-k", "maxpool:3", "--range", "clip"],
]


@pytest.mark.parametrize("options", STEPS, ids=[" ".join(o) for o in STEPS])
def test_activations_pools_and_kernels_after_a_layer_tile_as_the_whole(inputs, tmp_path, options):
    whole, tiled = whole_and_tiled(inputs, tmp_path, "rgb.npy", options)
    np.testing.assert_array_equal(tiled, whole)


def test_rescale_maps_each_map_from_its_own_extremes_in_tiles(inputs, tmp_path):
    _, tiled = whole_and_tiled(inputs, tmp_path, "rgb.npy", ["-k", "w.npy", "--range", "rescale"])
    flat = tiled.reshape(-1, tiled.shape[-1])
    np.testing.assert_array_equal(flat.min(axis=0), 0)  # each map reaches both ends: its own
    np.testing.assert_array_equal(flat.max(axis=0), 255)  # the input's white


def test_rescale_maps_one_filters_map_as_one_after_a_kernel(inputs, tmp_path):
    options = ["-k", "one.npy", "--bias", "[0]", "-k", "box:3", "--range", "rescale"]
    whole, tiled = whole_and_tiled(inputs, tmp_path, "float.npy", options)
    np.testing.assert_array_equal(tiled, whole)
    assert whole.ndim == 2
    assert (whole.min(), whole.max()) == (0, 1)  # a float input's white; not per column
    assert (whole.min(axis=0) > 0).any()


def test_a_pool_tiles_hold_whole_windows_at_every_tile(inputs, tmp_path):
    # Tile 17 pooled by 2 reads layer tiles of 34: 61 rows give 30, 75 columns 37, as PyTorch.
    _, tiled = whole_and_tiled(inputs, tmp_path, "rgb.npy", ["-k", "w.npy", "-p", "valid",
                                                             "-k", "maxpool:2"])  # fmt: skip
    x, w = np.load(inputs / "rgb.npy").astype(np.float64), np.load(inputs / "w.npy")
    maps = np.einsum("yxcij,ocij->yxo", sliding_window_view(x, (3, 3), axis=(0, 1)), w)
    expected = maps[:58, :72].reshape(29, 2, 36, 2, 6).max(axis=(1, 3))
    assert tiled.shape == (29, 36, 6)
    np.testing.assert_allclose(tiled, expected, rtol=1e-5, atol=1e-3)


def test_a_pool_leaves_out_a_last_tile_too_short_for_a_window(inputs, tmp_path):
    # Tile 16 pooled by 3: layer tiles of 48 rows, then 2 rows that no window takes.
    options = ["-k", "w.npy", "-k", "maxpool:3"]
    whole, tiled = whole_and_tiled(inputs, tmp_path, "float.npy", options, tile="16")
    assert tiled.shape == (16, 15, 6)  # floor(50 / 3), floor(47 / 3)
    np.testing.assert_array_equal(tiled, whole)


def test_a_zarr_of_maps_is_chunked_by_tile_with_every_map(inputs, tmp_path):
    options = ["-k", "w.npy", "--bias", "b.npy", "-k", "relu"]
    whole, tiled = whole_and_tiled(inputs, tmp_path, "rgb.npy", options, suffix="zarr")
    np.testing.assert_array_equal(tiled, whole)
    array = zarr.open_array(store=str(tmp_path / "tiled.zarr"), mode="r")
    assert array.chunks == (17, 17, 6)
    assert "convcli" in array.attrs["software"]


def test_a_tiff_and_a_zarr_input_give_the_maps_of_their_npy(inputs, tmp_path):
    x = np.load(inputs / "rgb.npy")
    tifffile.imwrite(tmp_path / "rgb.tif", x, tile=(16, 32))
    save_zarr(tmp_path / "rgb.zarr", x, (20, 20, 2))
    options = ["-k", str(inputs / "w.npy"), "-k", "maxpool:2", "-p", "valid"]
    whole = run("apply", str(inputs / "rgb.npy"), *options, "-o", str(tmp_path / "w.npy"), "-q")
    assert whole.exit_code == 0, whole.output
    for name in ("rgb.tif", "rgb.zarr"):
        out = tmp_path / f"{name}.maps.zarr"
        tiled = run("apply", str(tmp_path / name), *options, "--tile", "16", "-o", str(out), "-q")
        assert tiled.exit_code == 0, tiled.output
        maps = zarr.open_array(store=str(out), mode="r")[...]
        np.testing.assert_array_equal(maps, np.load(tmp_path / "w.npy"))


def test_one_map_is_written_as_one_tiff_page_in_tiles(inputs, tmp_path):
    options = ["-k", str(inputs / "one.npy"), "--bias", "[1]", "--range", "raw"]
    for name, tile in (("whole.tif", []), ("tiled.tif", ["--tile", "16"])):
        done = run("apply", str(inputs / "float.npy"), *options, *tile, "-o", str(tmp_path / name))
        assert done.exit_code == 0, done.output
    with (
        tifffile.TiffFile(tmp_path / "whole.tif") as whole,
        tifffile.TiffFile(tmp_path / "tiled.tif") as tiled,
    ):
        assert len(tiled.pages) == len(whole.pages) == 1
        assert tiled.pages[0].is_tiled
        np.testing.assert_array_equal(tiled.asarray(), whole.asarray())


def test_the_shape_report_has_the_stages_of_the_whole(inputs, tmp_path):
    options = ["-k", str(inputs / "w.npy"), "-k", "relu", "-k", "maxpool:2", "-k", "sobel-x",
               "--json", "-o"]  # fmt: skip
    source = str(inputs / "rgb.npy")
    whole = json.loads(run("apply", source, *options, str(tmp_path / "a.npy")).stdout)
    tiled = json.loads(run("apply", source, "--tile", "16", *options,
                           str(tmp_path / "b.npy")).stdout)  # fmt: skip
    assert [s["seconds"] for s in tiled["stages"]] == [None] * 4
    for stage in (*whole["stages"], *tiled["stages"]):
        del stage["seconds"]
    assert tiled["stages"] == whole["stages"]
    assert [s["output_shape"] for s in tiled["stages"]][-2:] == [[30, 37, 6], [30, 37, 6]]


REFUSED = [
    (["-k", "w.npy", "-k", "maxpool:3,2"], "maxpool:3,2 needs its stride equal to its window"),
    (["-k", "w.npy", "-k", "avgpool:2,2,1"], "avgpool:2,2,1 needs its stride equal to its window"),
    (["-k", "w.npy", "--montage", "{out}/sheet.png"], "--montage draws a layer's feature maps "
                                                      "from the whole input, and "),
    (["-k", "w.npy", "-o", "{out}/maps.tif"], "writes a layer's maps to .npy or Zarr, not as TIFF "
                                              "pages: give -o NAME.npy or NAME.zarr"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_what_does_not_tile_is_one_line_and_exit_2(inputs, tmp_path, options, message):
    given = [str(inputs / o) if o.endswith(".npy") else o.format(out=tmp_path) for o in options]
    target = [] if "-o" in given else ["-o", str(tmp_path / "maps.zarr")]
    result = run("apply", str(inputs / "rgb.npy"), *given, *target, "--tile", "32")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("convcli: error: ")
    assert message in line, line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_layers_tile_holding_too_many_maps_is_refused(inputs, tmp_path):
    result = run("apply", str(inputs / "rgb.npy"), "-k", str(inputs / "w.npy"), "--tile", "64",
                 "--max-pixels", "2000", "-o", str(tmp_path / "m.npy"))  # fmt: skip
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    # 61 x 64 positions of 6 maps: 23,424 values, over 8 x 2,000.
    assert "a tile of w makes 23424 values, over the limit of 16000" in line, line


def test_an_npy_over_the_limit_is_tiled_with_a_layer_too(inputs, tmp_path):
    options = ["-k", str(inputs / "w.npy"), "-k", "relu", "-k", "maxpool:2"]
    whole = run("apply", str(inputs / "rgb.npy"), *options, "-o", str(tmp_path / "w.npy"))
    assert whole.exit_code == 0, whole.output
    done = run("apply", str(inputs / "rgb.npy"), *options, "--max-pixels", "1000",
               "-o", str(tmp_path / "a.npy"), "-q")  # fmt: skip
    assert done.exit_code == 0, done.output
    # The largest of 4096, 2048, ... within 8 x 1000 values: the layer's tiles of 32 x 2 = 64
    # read 63 x 66 x 3 (over); of 16 x 2 = 32, 34 x 34 x 3 = 3,468 and make 32 x 32 x 6 = 6,144.
    assert "filtered in tiles of 16 (as with --tile)" in done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "w.npy"))
