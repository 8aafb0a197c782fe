"""Layers on the command line: weights as kernels, --bias, groups, activations and pools.

Through the real entry point (``convcli apply``), read back from the ``.npy``
output. Two oracles: the plain-loop definition of conv2d in ``test_cnn`` (runs
everywhere) and pools and activations by their definitions written here; and
PyTorch where it is installed.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES, run
from test_cnn import TORCH_MODES, assert_close, layer_reference, pad_pairs, random_layer

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # a test-only dependency
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed: pip install torch==2.13.0"
)

# Each padding form of -p, and the form the reference takes (see pad_pairs).
PADDINGS = [("valid", "valid"), ("same", "same"), ("full", "full"), ("2", 2), ("1,0", (1, 0)),
            ("0,2,1,1", ((0, 2), (1, 1)))]  # fmt: skip


def apply_npy(tmp_path, x, *args):
    """Run ``convcli apply`` on ``x`` (saved as .npy) with ``args``; return the output array."""
    source, target = tmp_path / "x.npy", tmp_path / "out.npy"
    np.save(source, x)
    result = run("apply", str(source), *map(str, args), "-o", str(target), "-q")
    assert result.exit_code == 0, result.stderr
    return np.load(target)


def refused(*args):
    """Run ``convcli apply ARGS``; return its one line on stderr, having checked exit 2."""
    result = run("apply", *map(str, args))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("convcli: error: ")
    return line


def random_case(seed):
    """A random layer and the options that run it: padding form, stride, dilation."""
    rng = np.random.default_rng(seed)
    x, weights, bias, groups = random_layer(rng)
    x = np.ascontiguousarray(np.repeat(np.repeat(x, 2, axis=0), 2, axis=1))  # 8 to 14 a side
    written, padding = PADDINGS[seed % len(PADDINGS)]
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=2))
    options = ["-p", written, "--pad-mode", "zero", "-s", "{},{}".format(*stride),
               "-d", "{},{}".format(*dilation)]  # fmt: skip
    pads = pad_pairs(padding, weights.shape[2:], dilation)
    return x, weights, bias, groups, options, (pads, stride, dilation)


def save_weights(tmp_path, seed, weights, bias, groups):
    """Save a layer as one of the ways a user has it; return its spec and --bias options."""
    how = seed % 3
    if how == 0:  # .npy, its bias in another .npy given with --bias
        np.save(tmp_path / "w.npy", weights)
        spec, options = f"{tmp_path / 'w.npy'}:groups={groups}", []
        if bias is not None:
            np.save(tmp_path / "b.npy", bias.astype(np.float32))
            options = ["--bias", tmp_path / "b.npy"]
        return spec, options
    tensors = {"conv1.weight": weights}
    if bias is not None:
        tensors["conv1.bias"] = bias.astype(np.float32)
    if how == 1:  # .npz, the bias beside the weights
        np.savez(tmp_path / "w.npz", **tensors)
        return f"{tmp_path / 'w.npz'}:conv1.weight:groups={groups}", []
    from safetensors.numpy import save_file

    save_file(tensors, str(tmp_path / "w.safetensors"))
    return f"{tmp_path / 'w.safetensors'}:conv1.weight:groups={groups}", []


@pytest.mark.parametrize("seed", range(18))
def test_a_layer_from_weights_is_conv2d_by_its_definition(tmp_path, seed):
    x, weights, bias, groups, options, (pads, stride, dilation) = random_case(seed)
    spec, biased = save_weights(tmp_path, seed, weights, bias, groups)
    got = apply_npy(tmp_path, x, "-k", spec, *biased, *options)
    expected = layer_reference(x, weights, bias, groups, pads, "zero", stride, dilation)
    assert got.shape == expected.shape  # (H', W', C_out): channels last
    assert got.dtype == np.float32
    assert_close(got, expected)


@needs_torch
@pytest.mark.parametrize("seed", range(18))
@pytest.mark.parametrize("mode", ["zero", "reflect", "replicate", "wrap"])
def test_a_layer_from_weights_is_pytorchs_conv2d_after_its_pad(tmp_path, seed, mode):
    x, weights, bias, groups, options, (pads, stride, dilation) = random_case(seed)
    (top, bottom), (left, right) = pads
    if mode == "reflect" and (max(top, bottom) >= x.shape[0] or max(left, right) >= x.shape[1]):
        pytest.skip("PyTorch reflects at most the input's size less one")
    spec, biased = save_weights(tmp_path, seed, weights, bias, groups)
    got = apply_npy(tmp_path, x, "-k", spec, *biased, *options[:2], "--pad-mode", mode,
                    *options[4:])  # fmt: skip
    padded = F.pad(torch.from_numpy(x).permute(2, 0, 1)[None].double(),
                   (left, right, top, bottom), mode=TORCH_MODES[mode])  # fmt: skip
    expected = F.conv2d(padded, torch.from_numpy(weights).double(),
                        None if bias is None else torch.from_numpy(bias).double(),
                        stride=stride, dilation=dilation, groups=groups)  # fmt: skip
    assert_close(got, expected[0].permute(1, 2, 0).numpy())


def max_pool_reference(x, k, s, p):
    """Max pool by its definition: the largest value of each window, padding never chosen."""
    rows, cols = ((n + 2 * p - k) // s + 1 for n in x.shape[:2])
    out = np.empty((rows, cols, *x.shape[2:]))
    for y in range(rows):
        for c in range(cols):
            top, left = y * s - p, c * s - p
            window = x[max(top, 0) : top + k, max(left, 0) : left + k]
            out[y, c] = window.max(axis=(0, 1))
    return out


def avg_pool_reference(x, k, s, p):
    """Average pool by its definition: each window's sum over k*k, padding zeros counted."""
    rows, cols = ((n + 2 * p - k) // s + 1 for n in x.shape[:2])
    out = np.empty((rows, cols, *x.shape[2:]))
    for y in range(rows):
        for c in range(cols):
            top, left = y * s - p, c * s - p
            window = x[max(top, 0) : top + k, max(left, 0) : left + k]
            out[y, c] = window.sum(axis=(0, 1)) / (k * k)
    return out


ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0),
    "leaky-relu": lambda v: np.where(v < 0, 0.01 * v, v),
    "leaky-relu:0.2": lambda v: np.where(v < 0, 0.2 * v, v),
    "tanh": lambda v: (np.exp(2 * v) - 1) / (np.exp(2 * v) + 1),
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "abs": lambda v: np.where(v < 0, -v, v),
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_two_layers_with_an_activation_and_pools_are_their_definitions(tmp_path, activation):
    rng = np.random.default_rng(len(activation))
    x = rng.standard_normal((17, 15, 3)).astype(np.float32)
    first = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    second = rng.standard_normal((4, 6, 2, 2)).astype(np.float32)
    np.save(tmp_path / "conv1.npy", first)
    np.save(tmp_path / "conv2.npy", second)
    got = apply_npy(tmp_path, x, "-k", tmp_path / "conv1.npy", "--bias", json.dumps(bias.tolist()),
                    "-k", activation, "-k", "maxpool:3,2,1", "-k", tmp_path / "conv2.npy",
                    "-k", "avgpool:2", "-p", "valid")  # fmt: skip
    step = layer_reference(x, first, bias, 1, pad_pairs("valid", (3, 3), (1, 1)), "zero",
                           (1, 1), (1, 1))  # fmt: skip
    step = max_pool_reference(ACTIVATIONS[activation](step), 3, 2, 1)
    step = layer_reference(step, second, None, 1, [(0, 0), (0, 0)], "zero", (1, 1), (1, 1))
    expected = avg_pool_reference(step, 2, 2, 0)
    assert got.shape == expected.shape == (3, 3, 4)
    assert_close(got, expected)


@needs_torch
def test_the_readme_pipeline_is_pytorchs(tmp_path):
    rng = np.random.default_rng(28)
    x = rng.standard_normal((32, 30, 3)).astype(np.float32)
    first = rng.standard_normal((16, 3, 5, 5)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    second = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    np.save(tmp_path / "conv1.npy", first)
    np.save(tmp_path / "b1.npy", bias)
    np.save(tmp_path / "conv2.npy", second)
    got = apply_npy(tmp_path, x, "-k", tmp_path / "conv1.npy", "--bias", tmp_path / "b1.npy",
                    "-k", "relu", "-k", "maxpool:2", "-k", tmp_path / "conv2.npy",
                    "-k", "leaky-relu:0.1", "-k", "avgpool:3,2,1", "-p", "0")  # fmt: skip
    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    t = F.max_pool2d(F.relu(F.conv2d(t, torch.from_numpy(first), torch.from_numpy(bias))), 2)
    t = F.avg_pool2d(F.leaky_relu(F.conv2d(t, torch.from_numpy(second)), 0.1), 3, 2, 1)
    assert_close(got, t[0].permute(1, 2, 0).numpy())


def test_a_photo_is_filtered_in_its_samples_units_and_written_as_maps(tmp_path):
    photo = SAMPLES / "astronaut.png"
    weights = np.random.default_rng(5).standard_normal((5, 3, 3, 3)).astype(np.float32)
    np.save(tmp_path / "w.npy", weights)
    maps = tmp_path / "maps.npy"
    result = run("apply", str(photo), "-k", str(tmp_path / "w.npy"), "--bias", "[1,2,3,4,5]",
                 "-k", "abs", "-p", "valid", "-o", str(maps), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    pixels = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64)  # 0 to 255
    crop = pixels[100:110, 200:212]  # the reference on a part of the photo: the loop is slow
    expected = np.abs(layer_reference(crop, weights, [1, 2, 3, 4, 5], 1, [(0, 0), (0, 0)],
                                      "zero", (1, 1), (1, 1)))  # fmt: skip
    got = np.load(maps)
    assert got.shape == (510, 510, 5)
    assert_close(got[100:108, 200:210], expected)


def test_one_filter_on_a_photo_is_one_grey_map_and_three_filters_are_rgb(tmp_path):
    photo = SAMPLES / "astronaut.png"
    np.save(tmp_path / "one.npy", np.full((3, 1, 1), 1 / 3))  # the mean of R, G and B
    np.save(tmp_path / "three.npy", np.eye(3)[:, :, None, None][::-1])  # B, G, R
    grey = tmp_path / "grey.png"
    assert run("apply", str(photo), "-k", str(tmp_path / "one.npy"), "-o", str(grey)).exit_code == 0
    pixels = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64)
    written = np.asarray(Image.open(grey))
    assert written.shape == (512, 512)
    assert np.abs(written - pixels.mean(axis=2)).max() <= 0.5 + 1e-6
    swapped = tmp_path / "bgr.png"
    result = run("apply", str(photo), "-k", str(tmp_path / "three.npy"), "-o", str(swapped))
    assert result.exit_code == 0
    assert np.array_equal(np.asarray(Image.open(swapped)), pixels[..., ::-1].astype(np.uint8))


def test_a_toml_layer_has_its_bias_and_groups(tmp_path):
    x = np.random.default_rng(2).standard_normal((9, 8, 2)).astype(np.float32)
    weights = np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2) - 3  # depthwise
    (tmp_path / "k.toml").write_text(
        f"[depthwise]\nlayer = true\ngroups = 2\nbias = [0.5, -1.0]\n"
        f"matrix = {json.dumps(weights.tolist())}\n"
    )
    got = apply_npy(tmp_path, x, "-k", tmp_path / "k.toml", "-p", "valid")
    expected = layer_reference(x, weights, [0.5, -1.0], 2, [(0, 0), (0, 0)], "zero",
                               (1, 1), (1, 1))  # fmt: skip
    assert_close(got, expected)


def test_the_shape_table_shows_every_stage_its_channels_and_formula(tmp_path):
    np.save(tmp_path / "conv1.npy", np.zeros((8, 3, 5, 5), np.float32))
    result = run("apply", str(SAMPLES / "astronaut.png"), "-k", str(tmp_path / "conv1.npy"),
                 "-k", "relu", "-k", "maxpool:3,2,1", "-o", str(tmp_path / "maps.npy"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert "stage 1: layer conv1 8x3x5x5: 8 filters of 3 channels x 5x5" in lines
    assert "rows out floor((512 + 2 + 2 - 1*(5 - 1) - 1) / 1) + 1 = 512" in lines
    assert "stage 2: activation relu value by value" in lines
    assert "stage 3: pool maxpool:3,2,1 window 3x3" in lines
    size = math.floor((512 + 2 * 1 - 3) / 2) + 1  # PyTorch's formula for a pool
    assert f"cols out floor((512 + 2*1 - 3) / 2) + 1 = {size}" in lines
    assert lines.count("shape out 512x512x8") == 2
    assert f"shape out {size}x{size}x8" in lines
    record = json.loads(run("apply", str(SAMPLES / "astronaut.png"), "-k",
                            str(tmp_path / "conv1.npy"), "-k", "maxpool:2", "--dry-run",
                            "--json", "-o", str(tmp_path / "m.npy")).stdout)  # fmt: skip
    assert [s["output_shape"] for s in record["stages"]] == [[512, 512, 8], [256, 256, 8]]
    assert [s["kernel_shape"] for s in record["stages"]] == [[8, 3, 5, 5], [2, 2]]
    assert record["method"] == "layer+maxpool"


def bad_files(tmp_path):
    """Weights files that are no layer's, each with what its one line says."""
    np.save(tmp_path / "objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(tmp_path / "complex.npy", np.ones((2, 3, 3, 3), complex))
    np.save(tmp_path / "nan.npy", np.array([[[[1.0, np.nan]]]]))
    np.save(tmp_path / "five.npy", np.ones((1, 1, 1, 1, 1)))
    np.save(tmp_path / "huge.npy", np.lib.stride_tricks.as_strided(
        np.zeros(1, np.float32), (4096, 4096, 2, 2), (0, 0, 0, 0)))  # fmt: skip
    np.savez(tmp_path / "two.npz", a=np.ones((1, 3, 3, 3)), b=np.ones((1, 3, 3, 3)))
    (tmp_path / "zip.npz").write_bytes(b"not a zip")
    return [
        ("objects.npy", r"values of type object are not weights"),
        ("complex.npy", r"values of type complex128 are not weights"),
        ("nan.npy", r"the value at \(0, 0, 0, 1\) is nan; weights must be finite"),
        ("five.npy", r"5-D array of shape 1x1x1x1x1; expected \(C_out, C_in/groups, kh, kw\)"),
        ("huge.npy", r"67,108,864 values \(shape 4096x4096x2x2\) is over the limit"),
        ("two.npz", r"holds 2 tensors \(a, b\); say which with .*two.npz:NAME"),
        ("two.npz:c", r"has no tensor 'c' \(it holds a, b\)"),
        ("zip.npz", r"not an .npz file"),
        ("missing.npy", r"weights file not found"),
        ("two.npz:a:groups=2", r"groups=2 must divide the 1 filters"),
    ]


def test_bad_weights_are_one_line_and_exit_2(tmp_path):
    for name, message in bad_files(tmp_path):
        line = refused(SAMPLES / "astronaut.png", "-k", tmp_path / name, "-o", tmp_path / "o.npy")
        assert re.search(message, line), (name, line)
    assert not (tmp_path / "o.npy").exists()


def test_a_safetensors_file_is_read_by_name_its_bias_beside_and_bfloat16_is_refused(tmp_path):
    from safetensors.numpy import save_file

    weights = np.ones((2, 1, 1, 1), np.float32)
    save_file({"conv1.weight": weights, "conv1.bias": np.array([1.0, -1.0], np.float32),
               "conv2.weight": weights}, str(tmp_path / "m.safetensors"))  # fmt: skip
    x = np.full((4, 4), 0.25, np.float32)
    got = apply_npy(tmp_path, x, "-k", f"{tmp_path / 'm.safetensors'}:conv1.weight")
    assert np.array_equal(got, np.stack([np.full((4, 4), 1.25), np.full((4, 4), -0.75)], -1))
    line = refused(SAMPLES / "camera.png", "-k", tmp_path / "m.safetensors")
    assert "holds 3 tensors (conv1.bias, conv1.weight, conv2.weight); say which" in line
    header = json.dumps({"w": {"dtype": "BF16", "shape": [1, 1, 1, 1], "data_offsets": [0, 2]}})
    raw = len(header).to_bytes(8, "little") + header.encode() + b"\0\0"
    (tmp_path / "bf16.safetensors").write_bytes(raw)
    line = refused(SAMPLES / "camera.png", "-k", tmp_path / "bf16.safetensors")
    assert "BF16 values, which NumPy cannot hold: save the weights as float32" in line


@pytest.mark.parametrize(("args", "message"), [
    (["-k", "{w8}"], r"w8 takes 8 input channels \(weights 3x8x3x3\), but the input has 3$"),
    (["-k", "{w3}", "--gray"], r"w3 takes 3 input channels .* but the input has 1 \(after --gray\)"),
    (["-k", "{w3}", "--colormap", "magma"], r"w3 takes 3 .* but the input has 1 \(--colormap "
                                            r"filters the luminance, as --gray does\)"),
    (["-k", "{w3}", "-k", "{w3}"], r"w3 takes 3 .* but the stage before it gives 8$"),
    (["-k", "{w3}", "--bias", "[1,2]"], r"--bias \[1,2\] \(for w3\): a bias holds one number per "
                                        r"filter: 8 for weights 8x3x3x3, got 2"),
    (["-k", "{w3}", "--bias", "[1]", "--bias", "[2]"], r"--bias is given 2 times, but the "
                                                       r"pipeline has 1 layer kernel"),
    (["-k", "sobel-x", "-k", "relu", "--bank"], r"--bank applies each kernel to the input on its "
                                                r"own, and relu is a layer's step"),
    (["-k", "maxpool:2,2,2"], r"a pool's padding is at most half its window \(1 for 2\)"),
    (["-k", "leaky-relu:x"], r"leaky-relu:SLOPE: 'x' is not a finite number"),
    (["-k", "{w3}", "-o", "{out}.png"], r"png holds 1 feature map \(grey\) or 3 \(as RGB\), not 8: "
                                        r"write .npy or .tif"),
])  # fmt: skip
def test_a_layer_that_does_not_fit_is_one_line_and_exit_2(tmp_path, args, message):
    np.save(tmp_path / "w8.npy", np.ones((3, 8, 3, 3), np.float32))
    np.save(tmp_path / "w3.npy", np.ones((8, 3, 3, 3), np.float32))
    given = [a.format(w8=tmp_path / "w8.npy", w3=tmp_path / "w3.npy", out=tmp_path / "o")
             for a in args]  # fmt: skip
    target = [] if "-o" in given else ["-o", str(tmp_path / "out") + "/"]
    line = refused(SAMPLES / "astronaut.png", *given, *target)
    assert re.search(message, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w3.npy", "w8.npy"]  # nothing written


def test_a_3d_kernel_on_an_npy_stays_a_volume_kernel_unless_given_a_bias(tmp_path):
    x = np.random.default_rng(9).standard_normal((6, 7, 3)).astype(np.float32)
    kernel = np.zeros((3, 3, 3), np.float32)
    kernel[1, 1, 1] = 2  # a volume's identity, doubled
    np.save(tmp_path / "k.npy", kernel)
    assert_close(apply_npy(tmp_path, x, "-k", tmp_path / "k.npy", "--pad-mode", "zero"), 2 * x)
    summed = apply_npy(tmp_path, x, "-k", tmp_path / "k.npy", "--bias", "[1]",
                       "--pad-mode", "zero")  # fmt: skip
    assert summed.shape == (6, 7)  # one filter: one map
    assert_close(summed, 2 * x[..., 1] + 1)


def test_a_bank_of_a_layer_writes_each_map_to_a_file_of_its_own(tmp_path):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((9, 10, 3)).astype(np.float32)
    weights = rng.standard_normal((12, 3, 3, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", weights)
    folder = tmp_path / "maps"
    result = run("apply", str(tmp_path / "x.npy"), "-k", str(tmp_path / "w.npy"), "-k", "box:3",
                 "--bank", "--pad-mode", "zero", "-o", f"{folder}/", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    names = [f"x_w-{index:02d}_zero.npy" for index in range(12)]  # sorted as the filters are
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "x_box-size-3_zero.npy"])
    expected = layer_reference(x, weights, None, 1, pad_pairs("same", (3, 3), (1, 1)), "zero",
                               (1, 1), (1, 1))  # fmt: skip
    for index, name in enumerate(names):
        assert_close(np.load(folder / name), expected[..., index])
    first, _ = (json.loads(line) for line in result.stdout.splitlines())
    assert first["output"] == str(folder / names[0])
    assert first["output_shape"] == [9, 10, 12]


def test_the_library_takes_weights_steps_and_biases_as_the_command_line_does(tmp_path):
    import convcli

    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 8, 2)).astype(np.float32)
    weights = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    np.save(tmp_path / "w.npy", weights)
    image, record = convcli.apply(x, [str(tmp_path / "w.npy"), "relu"], bias=[[1.0, -1.0, 0.0]],
                                  padding="valid", pad_mode="zero")  # fmt: skip
    expected = layer_reference(x, weights, [1.0, -1.0, 0.0], 1, [(0, 0), (0, 0)], "zero",
                               (1, 1), (1, 1))  # fmt: skip
    assert_close(image.samples, np.maximum(expected, 0))
    assert record["kernel"] == "w+relu"


def test_kernels_list_shows_the_steps_and_kernels_show_says_a_step_has_no_matrix():
    listed = run("kernels", "list")
    assert listed.exit_code == 0
    assert "Steps of a layer (apply -k, between its kernels)" in listed.stdout
    assert "maxpool:K[,STRIDE[,PADDING]]" in listed.stdout
    assert "relu" not in run("kernels", "list", "--json").stdout  # the records are kernels'
    shown = run("kernels", "show", "maxpool:2")
    assert shown.exit_code == 2
    assert shown.stderr == (
        "convcli: error: maxpool is a step of a layer's pipeline (apply -k maxpool:2), not a "
        "kernel: it has no matrix\n"
    )


def test_a_2d_kernel_after_a_layer_filters_each_map_on_its_own(tmp_path):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((10, 9, 3)).astype(np.float32)
    weights = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    np.save(tmp_path / "w.npy", weights)
    got = apply_npy(tmp_path, x, "-k", tmp_path / "w.npy", "-k", "[[1,-2],[3,0.5]]",
                    "-p", "valid")  # fmt: skip
    maps = layer_reference(x, weights, None, 1, [(0, 0), (0, 0)], "zero", (1, 1), (1, 1))
    each = np.array([[1, -2], [3, 0.5]])[None, None].repeat(4, axis=0)  # one per map: groups=4
    expected = layer_reference(maps, each, None, 4, [(0, 0), (0, 0)], "zero", (1, 1), (1, 1))
    assert got.shape == (7, 6, 4)
    assert_close(got, expected)


def test_rescale_maps_each_map_after_a_step_from_its_own_extremes(tmp_path):
    weights = np.zeros((3, 3, 1, 1), np.float32)
    for index, scale in enumerate((1, 10, 100)):
        weights[index, index] = scale  # map i: channel i times 10^i
    np.save(tmp_path / "w.npy", weights)
    out = tmp_path / "maps.png"
    result = run("apply", str(SAMPLES / "astronaut.png"), "-k", str(tmp_path / "w.npy"),
                 "-k", "relu", "--range", "rescale", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    pixels = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"), dtype=np.float64)
    low, high = pixels.min(axis=(0, 1)), pixels.max(axis=(0, 1))
    expected = np.round((pixels - low) / (high - low) * 255)  # each channel on its own
    assert np.abs(np.asarray(Image.open(out), dtype=np.float64) - expected).max() <= 1


def test_a_bias_from_a_toml_list_or_an_npz_tensor_replaces_the_one_beside(tmp_path):
    x = np.full((4, 5, 1), 2.0, np.float32)
    np.savez(tmp_path / "m.npz", **{"c.weight": np.ones((2, 1, 1, 1)), "c.bias": np.ones(2)})
    (tmp_path / "b.toml").write_text("other = [1.0]\nc = [10.0, -10.0]\n")
    np.savez(tmp_path / "b.npz", b=np.array([0.5, 0.25]))
    spec = f"{tmp_path / 'm.npz'}:c.weight"
    beside = apply_npy(tmp_path, x, "-k", spec)
    assert np.array_equal(beside[0, 0], [3.0, 3.0])  # 2 * 1 + the bias beside, 1
    toml = apply_npy(tmp_path, x, "-k", spec, "--bias", f"{tmp_path / 'b.toml'}:c")
    assert np.array_equal(toml[0, 0], [12.0, -8.0])
    npz = apply_npy(tmp_path, x, "-k", spec, "--bias", f"{tmp_path / 'b.npz'}:b")
    assert np.array_equal(npz[0, 0], [2.5, 2.25])


def test_a_cmyk_photo_is_made_rgb_for_a_layer_and_the_record_has_the_weights_shape(tmp_path):
    Image.new("CMYK", (12, 10), (10, 20, 30, 40)).save(tmp_path / "ink.jpg")
    np.save(tmp_path / "w.npy", np.ones((2, 3, 1, 1), np.float32))
    result = run("apply", str(tmp_path / "ink.jpg"), "-k", str(tmp_path / "w.npy"), "--json",
                 "-o", str(tmp_path / "maps.npy"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["kernel_shape"] == [2, 3, 1, 1]
    assert record["output_shape"] == [10, 12, 2]
    rgb = np.asarray(Image.open(tmp_path / "ink.jpg").convert("RGB"), dtype=np.float64)
    assert np.abs(np.load(tmp_path / "maps.npy")[..., 0] - rgb.sum(axis=2)).max() <= 1e-3
