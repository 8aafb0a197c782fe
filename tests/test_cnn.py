"""A layer of a convolutional network: convolve(..., channels="sum"), pooling and activations.

Two oracles: a plain-loop reference of conv2d's definition written here (so CI, without
PyTorch, checks the semantics), and PyTorch itself where it is installed.
"""

from __future__ import annotations

import inspect
import itertools
import tracemalloc

import numpy as np
import pytest

from convcli import ParameterError, convolve
from convcli.choices import PadMode
from convcli.engine import _layer, absolute, avg_pool, leaky_relu, max_pool, relu, sigmoid, tanh
from helpers.reference import border_index, brute_force_size

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # a test-only dependency
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed: pip install torch==2.13.0"
)

RNG = np.random.default_rng(20261207)
PADDINGS = ["valid", "same", "full", 0, 2, (1, 0), ((0, 2), (1, 1))]
TORCH_MODES = {
    "zero": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "wrap": "circular",
}


def pad_pairs(padding, kernel, dilation):
    """The (before, after) pairs of a padding form, from the README's table."""
    spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if padding == "valid":
        return [(0, 0), (0, 0)]
    if padding == "same":
        return [(span // 2, span - span // 2) for span in spans]
    if padding == "full":
        return [(span, span) for span in spans]
    if isinstance(padding, int):
        return [(padding, padding)] * 2
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def layer_reference(x, weights, bias, groups, pads, mode, stride, dilation, fill=0.0):
    """conv2d by its definition, in float64: every output, filter, channel and tap in turn."""
    height, width = x.shape[:2]
    filters, per_group, kh, kw = weights.shape
    rows = brute_force_size(height, *pads[0], kh, stride[0], dilation[0])
    cols = brute_force_size(width, *pads[1], kw, stride[1], dilation[1])
    out = np.zeros((rows, cols, filters))
    for y, x_, o in itertools.product(range(rows), range(cols), range(filters)):
        group = o // (filters // groups)
        total = 0.0 if bias is None else float(bias[o])
        for c, i, j in itertools.product(range(per_group), range(kh), range(kw)):
            source_y = border_index(y * stride[0] + i * dilation[0] - pads[0][0], height, mode)
            source_x = border_index(x_ * stride[1] + j * dilation[1] - pads[1][0], width, mode)
            if source_y is None or source_x is None:
                value = fill
            else:
                value = float(x[source_y, source_x, group * per_group + c])
            total += value * float(weights[o, c, i, j])
        out[y, x_, o] = total
    return out


def random_layer(rng):
    """A random layer: C_in 1-4, groups dividing it, C_out 1-16 (a multiple of groups), 1-3 taps."""
    channels = int(rng.integers(1, 5))
    groups = int(rng.choice([g for g in range(1, channels + 1) if channels % g == 0]))
    filters = groups * int(rng.integers(1, 16 // groups + 1))
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
    x = rng.standard_normal((int(rng.integers(4, 8)), int(rng.integers(4, 8)), channels))
    weights = rng.standard_normal((filters, channels // groups, *kernel))
    bias = rng.standard_normal(filters) if rng.random() < 0.7 else None
    return x.astype(np.float32), weights.astype(np.float32), bias, groups


def assert_close(actual, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("seed", range(40))
def test_a_layer_is_conv2d_by_its_definition(seed):
    rng = np.random.default_rng(seed)
    x, weights, bias, groups = random_layer(rng)
    padding = PADDINGS[seed % len(PADDINGS)]
    mode = list(PadMode)[seed % len(PadMode)]
    stride = tuple(int(s) for s in rng.integers(1, 3, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=2))
    pads = pad_pairs(padding, weights.shape[2:], dilation)
    expected = layer_reference(x, weights, bias, groups, pads, mode, stride, dilation, 0.5)
    got = convolve(x, weights, channels="sum", bias=bias, groups=groups, padding=padding,
                   pad_mode=mode, pad_value=0.5, stride=stride, dilation=dilation)  # fmt: skip
    assert got.shape == expected.shape
    assert got.dtype == np.float32
    assert_close(got, expected)


@pytest.mark.parametrize("method", ["direct", "separable", "fft", "matrix"])
def test_each_named_method_sums_its_own_correlation_of_each_channel(method):
    x, weights, bias, groups = random_layer(np.random.default_rng(7))
    pads = pad_pairs("same", weights.shape[2:], (1, 1))
    expected = layer_reference(x, weights, bias, groups, pads, "reflect", (1, 1), (1, 1))
    got = convolve(x, weights, channels="sum", bias=bias, groups=groups, method=method)
    assert_close(got, expected)


def test_a_filter_of_c_in_channels_gives_one_map_and_a_grey_image_is_one_channel():
    x = RNG.standard_normal((6, 7, 3)).astype(np.float32)
    one = RNG.standard_normal((3, 3, 3)).astype(np.float32)
    got = convolve(x, one, channels="sum", padding="valid")
    assert got.shape == (4, 5)
    expected = sum(convolve(x[..., c], one[c], padding="valid") for c in range(3))
    assert_close(got, expected)
    grey = x[..., 0]
    assert_close(convolve(grey, one[:1], channels="sum"), convolve(grey, one[0]))


def test_flip_rotates_every_filter_and_float64_is_kept():
    x, weights, bias, groups = random_layer(np.random.default_rng(3))
    flipped = weights[..., ::-1, ::-1]
    pads = pad_pairs("full", weights.shape[2:], (1, 1))
    expected = layer_reference(x, flipped, bias, groups, pads, "wrap", (1, 1), (1, 1))
    got = convolve(x, weights, channels="sum", bias=bias, groups=groups, padding="full",
                   pad_mode="wrap", flip=True, dtype=np.float64)  # fmt: skip
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 3])
def test_bands_and_threads_give_the_whole_bit_for_bit(monkeypatch, rows):
    x = RNG.standard_normal((40, 33, 3)).astype(np.float32)
    weights = RNG.standard_normal((16, 3, 5, 5)).astype(np.float32)
    whole = convolve(x, weights, channels="sum", stride=(2, 1), threads=1)  # in one band
    monkeypatch.setattr(_layer, "band_rows", lambda geometry, itemsize: rows)
    assert np.array_equal(convolve(x, weights, channels="sum", stride=(2, 1), threads=1), whole)
    assert np.array_equal(convolve(x, weights, channels="sum", stride=(2, 1), threads=2), whole)


def test_memory_stays_at_one_band_s_windows_beside_the_output():
    # The whole im2col of this image would be 512 * 512 * 147 floats (147 MiB); a band's windows
    # are COLUMNS_BYTES (4 MiB) or SPARE * CALL windows (2.3 MiB here).
    x = RNG.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    weights = RNG.standard_normal((8, 3, 7, 7)).astype(np.float32)
    tracemalloc.start()
    try:
        out = convolve(x, weights, channels="sum", threads=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - out.nbytes < 2 * _layer.COLUMNS_BYTES


def test_nan_spreads_through_zero_weights_with_auto_as_in_pytorch_but_not_by_a_named_method():
    x = np.ones((5, 5, 2), dtype=np.float32)
    x[2, 2, 0] = np.nan
    weights = np.zeros((2, 2, 3, 3), dtype=np.float32)
    weights[0, 1] = 1  # filter 0 reads channel 1 only: zeros over the NaN's channel
    weights[1, 0] = 1
    auto = convolve(x, weights, channels="sum", padding="valid")
    direct = convolve(x, weights, channels="sum", padding="valid", method="direct")
    assert np.isnan(auto).all()  # every 3 x 3 window of the 5 x 5 covers (2, 2)
    assert np.isnan(direct[..., 1]).all()
    assert (direct[..., 0] == 9).all()


def test_the_library_s_convolve_documents_and_signs_the_layer_s_parameters():
    parameters = inspect.signature(convolve).parameters
    assert [parameters[name].default for name in ("channels", "bias", "groups")] == [
        "each",
        None,
        1,
    ]
    for entry in (
        "channels : {'each', 'sum'}",
        "bias : array_like, shape (C_out,)",
        "groups : int",
    ):
        assert entry in convolve.__doc__


@pytest.mark.parametrize(
    ("arguments", "parameter", "message"),
    [
        (((8, 8, 4), (2, 3, 3, 3), {}), "kernel",
         r"kernel takes 3 input channels \(kernel shape \(2, 3, 3, 3\)\) but the input has 4 "
         r"\(shape \(8, 8, 4\)\)"),
        (((8, 8, 4), (6, 2, 3, 3), {"groups": 3}), "groups",
         "groups must divide the input's 4 channels and the kernel's 6 filters, got 3"),
        (((8, 8, 4), (4, 2, 3, 3), {"groups": 4}), "kernel",
         r"kernel takes 8 input channels \(2 per group, groups=4; "),
        (((8, 8, 4), (4, 1, 3, 3), {"groups": 0}), "groups", "groups must be an int >= 1, got 0"),
        (((8, 8, 4), (4, 1, 3, 3), {"groups": 2.0}), "groups", "groups must be an int"),
        (((8, 8, 3), (2, 3, 3, 3), {"bias": [1.0]}), "bias",
         r"bias must hold one number per filter, shape \(2,\), got shape \(1,\)"),
        (((8, 8, 3), (2, 3, 3, 3), {"bias": [1.0, np.nan]}), "bias", "bias must be finite"),
        (((8, 8, 3), (3, 3), {}), "kernel", r"kernel must be \(C_in, kh, kw\) or \(C_out, "),
        (((2, 8, 8, 3), (2, 3, 3, 3), {}), "input", r"input must be \(H, W\) or \(H, W, C_in\)"),
        (((8, 8, 3), (2, 3, 3, 3), {"channels": "all"}), "channels",
         "channels must be one of each, sum, got 'all'"),
    ],
)  # fmt: skip
def test_a_layer_s_bad_arguments_name_the_parameter(arguments, parameter, message):
    shape, kernel, options = arguments
    options = {"channels": "sum", **options}
    with pytest.raises(ParameterError, match=message) as raised:
        convolve(np.zeros(shape), np.ones(kernel), **options)
    assert raised.value.parameter == parameter


@pytest.mark.parametrize("option", [{"bias": [1.0]}, {"groups": 2}])
def test_bias_and_groups_ask_for_channels_sum(option):
    with pytest.raises(ParameterError, match="is a layer's: give channels='sum' with it"):
        convolve(np.zeros((5, 5, 2)), np.ones((3, 3)), **option)


def test_the_settings_are_checked_as_convolve_checks_them_first_then_the_shapes():
    with pytest.raises(ParameterError, match="pad_mode must be one of"):
        convolve(np.zeros((5, 5, 2)), np.ones((4, 3, 3, 3)), channels="sum", pad_mode="nope")
    with pytest.raises(ParameterError, match="stride must be >= 1, got 0"):
        convolve(np.zeros((5, 5, 3)), np.ones((4, 3, 3, 3)), channels="sum", stride=0)
    with pytest.raises(ParameterError, match="output would be empty along axis 0"):
        convolve(np.zeros((2, 5, 3)), np.ones((4, 3, 3, 3)), channels="sum", padding="valid")


def pool_reference(x, kernel, stride, padding, reduce, include_pad=True):
    """max_pool2d / avg_pool2d by their definition: each window's in-input values, in turn."""
    height, width = x.shape[:2]
    rows = brute_force_size(height, padding[0], padding[0], kernel[0], stride[0], 1)
    cols = brute_force_size(width, padding[1], padding[1], kernel[1], stride[1], 1)
    out = np.zeros((rows, cols, *x.shape[2:]))
    for y, x_ in itertools.product(range(rows), range(cols)):
        top, left = y * stride[0] - padding[0], x_ * stride[1] - padding[1]
        inside = x[max(top, 0) : top + kernel[0], max(left, 0) : left + kernel[1]]
        if reduce == "max":
            out[y, x_] = inside.max(axis=(0, 1))
        else:
            count = kernel[0] * kernel[1] if include_pad else inside.shape[0] * inside.shape[1]
            out[y, x_] = inside.sum(axis=(0, 1)) / count
    return out


@pytest.mark.parametrize("seed", range(12))
def test_pools_are_their_definition(seed):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
    stride = kernel if seed % 2 else tuple(int(s) for s in rng.integers(1, 3, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    x = rng.standard_normal((int(rng.integers(5, 9)), int(rng.integers(5, 9)), 2))
    given_stride = None if seed % 2 else stride
    assert_close(max_pool(x, kernel, given_stride, padding),
                 pool_reference(x, kernel, stride, padding, "max"))  # fmt: skip
    for include in (True, False):
        got = avg_pool(x, kernel, given_stride, padding, count_include_pad=include)
        assert_close(got, pool_reference(x, kernel, stride, padding, "avg", include))


def test_a_pool_s_padding_over_half_its_window_is_refused():
    with pytest.raises(ParameterError, match=r"padding must be at most half the pool's window"):
        max_pool(np.zeros((6, 6)), 2, padding=2)
    with pytest.raises(ParameterError, match="kernel_size must be >= 1, got 0"):
        avg_pool(np.zeros((6, 6)), 0)


def test_activations_are_their_formulas():
    x = np.array([-30.0, -2.5, -0.0, 0.0, 1.5, 30.0], dtype=np.float32)
    assert relu(x).tolist() == [0, 0, 0, 0, 1.5, 30]
    assert leaky_relu(x, 0.1).tolist() == pytest.approx([-3, -0.25, 0, 0, 1.5, 30])
    assert absolute(x).tolist() == [30, 2.5, 0, 0, 1.5, 30]
    assert_close(tanh(x), np.tanh(x.astype(np.float64)))
    assert_close(sigmoid(x), 1 / (1 + np.exp(-x.astype(np.float64))))
    assert sigmoid(np.float64(-800)) == 0  # no overflow
    assert sigmoid([800.0]).tolist() == [1.0]
    assert relu(np.array([np.nan]))[0] != relu(np.array([np.nan]))[0]  # NaN stays NaN
    assert relu(np.array([1.0])).dtype == np.float64
    assert relu([1]).dtype == np.float32


def as_torch(x):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0))[np.newaxis])


def from_torch(t):
    return np.moveaxis(t[0].numpy(), 0, -1)


@needs_torch
@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("mode", list(TORCH_MODES))
def test_a_layer_is_torch_s_pad_and_conv2d(seed, mode):
    rng = np.random.default_rng(1000 + seed)
    x, weights, bias, groups = random_layer(rng)
    stride = tuple(int(s) for s in rng.integers(1, 3, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=2))
    padding = PADDINGS[seed % len(PADDINGS)]
    (top, bottom), (left, right) = pad_pairs(padding, weights.shape[2:], dilation)
    if mode == "reflect" and max(top, bottom, left, right) >= min(x.shape[:2]):
        pytest.skip("PyTorch's reflect pads less than the input")
    padded = F.pad(as_torch(x), (left, right, top, bottom), mode=TORCH_MODES[mode])
    tb = None if bias is None else torch.from_numpy(bias.astype(np.float32))
    options = {"channels": "sum", "bias": bias, "groups": groups, "padding": padding,
               "pad_mode": mode, "stride": stride, "dilation": dilation}  # fmt: skip
    spans = [d * (k - 1) + 1 for k, d in zip(weights.shape[2:], dilation)]
    if padded.shape[2] < spans[0] or padded.shape[3] < spans[1]:  # refused by both
        with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
            F.conv2d(padded, torch.from_numpy(weights), dilation=dilation, groups=groups)
        with pytest.raises(ParameterError, match="output would be empty"):
            convolve(x, weights, **options)
        return
    expected = F.conv2d(padded, torch.from_numpy(weights), tb, stride=stride, dilation=dilation,
                        groups=groups)  # fmt: skip
    assert_close(convolve(x, weights, **options), from_torch(expected))


@needs_torch
def test_resnet_s_first_layer_relu_and_max_pool_are_torch_s():
    # conv1 of ResNet: 64 x 3 x 7 x 7, stride 2, padding 3; then ReLU and a 3 x 3 max pool.
    x = RNG.random((64, 48, 3), dtype=np.float32)
    weights = RNG.standard_normal((64, 3, 7, 7)).astype(np.float32) * 0.1
    bias = RNG.standard_normal(64).astype(np.float32)
    layer = convolve(x, weights, channels="sum", bias=bias, padding=3, pad_mode="zero", stride=2)
    got = max_pool(relu(layer), 3, 2, 1)
    t = F.conv2d(
        as_torch(x), torch.from_numpy(weights), torch.from_numpy(bias), stride=2, padding=3
    )
    expected = F.max_pool2d(torch.relu(t), 3, 2, 1)
    assert layer.shape == (32, 24, 64)
    assert got.shape == (16, 12, 64)
    assert_close(layer, from_torch(t))
    assert_close(got, from_torch(expected))


@needs_torch
@pytest.mark.parametrize("seed", range(12))
def test_pools_are_torch_s(seed):
    rng = np.random.default_rng(2000 + seed)
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    x = rng.standard_normal((int(rng.integers(6, 12)), int(rng.integers(6, 12)), 3))
    x = x.astype(np.float32)
    t = as_torch(x)
    assert_close(max_pool(x, kernel, stride, padding),
                 from_torch(F.max_pool2d(t, kernel, stride, padding)))  # fmt: skip
    for include in (True, False):
        expected = F.avg_pool2d(t, kernel, stride, padding, count_include_pad=include)
        got = avg_pool(x, kernel, stride, padding, count_include_pad=include)
        assert_close(got, from_torch(expected))


@needs_torch
def test_activations_are_torch_s():
    x = (RNG.standard_normal(1000) * 20).astype(np.float32)
    t = torch.from_numpy(x)
    assert_close(relu(x), torch.relu(t).numpy())
    assert_close(leaky_relu(x, 0.2), F.leaky_relu(t, 0.2).numpy())
    assert_close(tanh(x), torch.tanh(t).numpy())
    np.testing.assert_allclose(sigmoid(x), torch.sigmoid(t).numpy(), rtol=1e-5, atol=0)
    assert_close(absolute(x), torch.abs(t).numpy())
