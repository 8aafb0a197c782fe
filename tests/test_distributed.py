"""convcli.distributed: a Dask array filtered tile by tile equals the whole-array engine."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import convcli

da = pytest.importorskip(
    "dask.array", reason='needs the distributed extra: pip install ".[distributed]"'
)
dask = pytest.importorskip("dask")

from convcli.distributed import convolve as tiled  # noqa: E402

MODES = ["zero", "reflect", "symmetric", "replicate", "wrap"]
GEOMETRIES = [(1, 1), (2, 1), (1, 2), (3, 2)]  # (stride, dilation) on every axis


def _wide(shape):
    """Explicit padding wider than the array on every axis, different on each side."""
    return [(n + 3, 2 * n + 1) for n in shape]


def _tiles_equal_whole(x, kernel, settings, chunks):
    """Check that ``x`` in ``chunks`` filters, tile by tile, as the whole array; return the tiles.

    None where the whole array is refused (an empty output: valid padding, a dilated
    kernel too big), after checking that the tiles are refused too.
    """
    try:
        whole = convcli.convolve(x, kernel, **settings)
    except convcli.ParameterError:
        with pytest.raises(convcli.ParameterError):
            tiled(da.from_array(x, chunks=chunks), kernel, **settings)
        return None
    lazy = tiled(da.from_array(x, chunks=chunks), kernel, **settings)
    tiles = lazy.compute()
    assert tiles.shape == whole.shape == lazy.shape
    assert tiles.dtype == whole.dtype
    if settings["method"] == "fft":  # FFT bands, like tiles, round differently from the whole
        np.testing.assert_allclose(tiles, whole, rtol=1e-5, atol=1e-4 * np.abs(whole).max())
    else:
        assert np.array_equal(tiles, whole), (settings, chunks)
    return lazy


# name: input shape, kernel, chunkings (chunks smaller than the kernel's reach, and none
# dividing the array, on some axis of each), the methods that apply
CASES = {
    "1-D, even kernel": (
        (23,),
        np.array([1.0, -2.0, 0.5, 3.0]),
        [3, (5, 11, 7)],
        ["direct", "fft", "matrix"],
    ),
    "2-D": (
        (11, 13),
        np.arange(12.0).reshape(3, 4) - 5,
        [(2, 13), ((4, 7), (6, 2, 5))],
        ["direct", "fft", "matrix"],
    ),
    "2-D, separable": (
        (11, 13),
        np.outer([1.0, 2.0, 1.0], [1.0, -1.0, 2.0, 1.0]),
        [(11, 2), (4, 5)],
        ["separable", "matrix"],  # matrix: the low-rank path, where stride 1 on rows
    ),
    "2-D, 3 channels": (
        (9, 10, 3),
        np.outer([1.0, 2.0], [3.0, 1.0, -1.0]),
        [(2, 10, 2), (4, 3, 1)],
        ["direct", "separable", "matrix"],
    ),
    "3-D": (
        (6, 7, 5),
        np.arange(12.0).reshape(2, 3, 2) - 6,
        [(2, 7, 5), (4, 3, 5)],
        ["direct", "fft", "matrix"],
    ),
}
SWEEP = [(name, method) for name, case in CASES.items() for method in case[3]]


@pytest.mark.parametrize(("name", "method"), SWEEP, ids=[f"{n}, {m}" for n, m in SWEEP])
def test_every_tile_equals_the_whole_array(name, method):
    shape, kernel, chunkings, _ = CASES[name]
    x = (np.random.default_rng(len(shape)).random(shape) * 100).astype(np.float32)
    x.reshape(-1)[: shape[-1]] = np.arange(shape[-1])  # no two edges alike
    ndim = kernel.ndim
    checked = 0
    with dask.config.set(scheduler="synchronous"):
        for mode, padding, (step, gap), chunks in itertools.product(
            MODES, ["same", "valid", "full", _wide(shape[:ndim])], GEOMETRIES, chunkings
        ):
            settings = dict(padding=padding, pad_mode=mode, pad_value=3.5, stride=step,
                            dilation=gap, flip=step == 2, method=method)  # fmt: skip
            checked += _tiles_equal_whole(x, kernel, settings, chunks) is not None
    assert checked >= 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kernel_shape", [(21, 21), (501, 1)], ids=["dense 21", "a column of 501 (low rank)"]
)
def test_tiles_of_long_matrix_products_equal_the_whole_array(kernel_shape, dtype):
    # BLAS sums a product of more than a few hundred samples in parts split at fixed
    # places, which fall among an output's taps where its tile starts: a dense 21 (a
    # product of 1092 samples) had tiles differing in the last bit. Products are cut
    # to LONGEST samples.
    rng = np.random.default_rng(21)
    x = rng.random((520, 2100)).astype(dtype)
    kernel = rng.random(kernel_shape)
    if kernel_shape[1] == 1:
        kernel = kernel @ rng.random((1, 3))  # rank 1, 501x3
    settings = dict(method="matrix", dtype=dtype, pad_mode="zero")
    with dask.config.set(scheduler="synchronous"):
        assert _tiles_equal_whole(x, kernel, settings, (131, 701)) is not None


def test_output_chunks_can_be_chosen_and_channels_keep_theirs():
    x = da.from_array(np.ones((40, 30, 3), dtype=np.uint8), chunks=(7, 9, 2))
    y = tiled(x, np.ones((3, 3)), stride=2, chunks=(5, 4))
    assert y.chunks == ((5, 5, 5, 5), (4, 4, 4, 3), (2, 1))
    assert tiled(x, np.ones((3, 3))).chunks == (*x.chunks[:2], (2, 1))
    with dask.config.set(scheduler="synchronous"):
        assert np.array_equal(y.compute(), convcli.convolve(x.compute(), np.ones((3, 3)), stride=2))


def test_nothing_is_computed_until_asked():
    calls = []

    def counted(block):
        calls.extend([1] * (block.size > 1))  # dask also calls it on tiny blocks, for their type
        return block

    x = da.ones((64, 64), chunks=16).map_blocks(counted, meta=np.ones((0, 0)))
    y = tiled(x, np.ones((5, 5)), pad_mode="wrap")
    assert calls == []
    with dask.config.set(scheduler="synchronous"):
        y[:16, :16].compute()
    assert len(calls) == 9  # rows and columns -2 to 17 (wrapped): chunks 3, 0 and 1 of each axis


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(pad_mode="mirror"), "pad_mode must be one of"),
        (dict(method="fastest"), "method must be one of"),
        (dict(padding="valid", dilation=40), "output would be empty"),
    ],
)
def test_bad_arguments_are_refused_before_any_graph(arguments, message):
    with pytest.raises(convcli.ParameterError, match=message):
        tiled(da.ones((20, 20), chunks=5), np.ones((3, 3)), **arguments)


def test_a_non_numeric_array_is_refused():
    with pytest.raises(convcli.ParameterError, match="real numbers"):
        tiled(da.from_array(np.array([["a", "b"]])), np.ones((1, 1)))


def test_the_graph_carries_no_index_arrays():
    # Distributed warns ("Sending large graph") past 10 MB: a gigapixel image in 2048^2 tiles
    # made 12 MB when each task carried its window's index arrays; now a task carries keys,
    # the first index of each chunk and its own output ranges.
    import pickle

    x = da.zeros((32768, 32768), chunks=4096, dtype=np.uint8)
    y = tiled(x, np.ones((19, 19)), chunks=2048)
    layer = dict(y.dask.layers[y.name])
    assert len(layer) == 256
    assert len(pickle.dumps(layer)) < 256 * 1000


# A layer (channels="sum"): name -> input shape, weights, groups, chunkings (odd sizes, some
# smaller than the kernel's reach, across the input's channels too), the methods that apply
LAYERS = {
    "RGB, 5 filters": ((11, 13, 3), (5, 3, 3, 2), 1, [(4, 5, 2), ((3, 8), (6, 2, 5), (1, 2))],
                       ["auto"]),
    "2 channels, 2 filters": ((11, 13, 2), (2, 2, 3, 2), 1, [((3, 8), (6, 2, 5), (1, 1))],
                              ["direct", "matrix", "fft"]),  # a named method: map by map
    "4 channels, 2 groups": ((9, 10, 4), (6, 2, 2, 3), 2, [(2, 3, 3), (5, 7, 4)], ["auto"]),
    "one filter (C_in, kh, kw)": ((10, 9, 2), (2, 3, 3), 1, [(3, 4, 1)], ["auto", "separable"]),
    "grey (H, W)": ((12, 11), (3, 1, 3, 3), 1, [(5, 3)], ["auto"]),
}  # fmt: skip
LAYER_SWEEP = [(name, method) for name, case in LAYERS.items() for method in case[4]]


def _layer_weights(shape, method):
    rng = np.random.default_rng(sum(shape))
    if method == "separable":  # each channel's filter an outer product
        return np.stack([np.outer(rng.normal(size=shape[1]), rng.normal(size=shape[2]))
                         for _ in range(shape[0])])  # fmt: skip
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize(("name", "method"), LAYER_SWEEP, ids=[f"{n}, {m}" for n, m in LAYER_SWEEP])
def test_every_tile_of_a_layer_equals_the_whole_layer(name, method):
    shape, weights_shape, groups, chunkings, _ = LAYERS[name]
    x = (np.random.default_rng(len(name)).random(shape) * 100).astype(np.float32)
    x.reshape(-1)[: shape[1]] = np.arange(shape[1])  # no two edges alike
    weights = _layer_weights(weights_shape, method)
    filters = weights_shape[0] if len(weights_shape) == 4 else 1
    bias = np.linspace(-1, 1, filters) if len(weights_shape) == 4 else None
    checked = 0
    with dask.config.set(scheduler="synchronous"):
        for mode, padding, (step, gap), chunks in itertools.product(
            MODES, ["same", "valid", "full", _wide(shape[:2])], GEOMETRIES, chunkings
        ):
            settings = dict(channels="sum", bias=bias, groups=groups, padding=padding,
                            pad_mode=mode, pad_value=3.5, stride=step, dilation=gap,
                            flip=step == 2, method=method)  # fmt: skip
            maps = _tiles_equal_whole(x, weights, settings, chunks)
            if maps is not None:
                assert maps.chunks[2:] == ((filters,),) * (len(weights_shape) == 4)
                checked += 1
    assert checked >= 50


def test_a_layers_tiles_read_every_channel_and_write_every_map_in_one_chunk():
    x = da.from_array(np.ones((40, 30, 3), dtype=np.uint8), chunks=(7, 9, 2))
    y = tiled(x, np.ones((8, 3, 3, 3)), channels="sum", stride=2, chunks=(5, 4))
    assert y.chunks == ((5, 5, 5, 5), (4, 4, 4, 3), (8,))
    assert tiled(x, np.ones((3, 3, 3)), channels="sum").chunks == x.chunks[:2]
    with dask.config.set(scheduler="synchronous"):
        assert np.array_equal(y[:5, :4].compute(), np.full((5, 4, 8), 27, np.float32))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(bias=[1.0]), "bias is a layer's: give channels='sum' with it"),
        (dict(groups=3), "groups is a layer's"),
        (dict(channels="all"), "channels must be one of"),
    ],
)
def test_a_layers_arguments_without_a_layer_are_refused(arguments, message):
    with pytest.raises(convcli.ParameterError, match=message):
        tiled(da.ones((20, 20, 3), chunks=5), np.ones((3, 3)), **arguments)


@pytest.mark.parametrize(
    ("kernel", "arguments", "message"),
    [
        (np.ones((2, 4, 3, 3)), {}, "kernel takes 4 input channels .* but the input has 3"),
        (np.ones((2, 3, 3, 3)), dict(bias=[1.0, 2.0, 3.0]), "bias must hold one number per"),
        (np.ones((3, 3)), {}, r"kernel must be \(C_in, kh, kw\)"),
    ],
)
def test_a_layer_that_does_not_fit_is_refused_before_any_graph(kernel, arguments, message):
    with pytest.raises(convcli.ParameterError, match=message):
        tiled(da.ones((20, 20, 3), chunks=5), kernel, channels="sum", **arguments)


def test_a_layer_over_text_is_refused():
    with pytest.raises(convcli.ParameterError, match="real numbers"):
        tiled(da.from_array(np.array([["a", "b"]])), np.ones((1, 1, 1)), channels="sum")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layer_over_8_bit_samples_in_either_float_type_equals_the_whole(dtype):
    photo = np.random.default_rng(8).integers(0, 256, (37, 29, 3), dtype=np.uint8)
    weights = np.random.default_rng(9).normal(size=(6, 3, 5, 5))
    settings = dict(channels="sum", bias=np.arange(6.0), stride=2, dtype=dtype)
    whole = convcli.convolve(photo, weights, **settings)
    with dask.config.set(scheduler="synchronous"):
        tiles = tiled(da.from_array(photo, chunks=(7, 11, 2)), weights, **settings).compute()
    assert tiles.dtype == whole.dtype == dtype
    assert np.array_equal(tiles, whole)
