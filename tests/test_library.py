"""The library (README, "The library"): what the command line does, from Python.

Kernels are checked against ``convcli kernels show --json`` and formulas,
images against independent decoders (Pillow, tifffile, imagecodecs), and
explanations against ``convcli explain --json``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageSequence
from scipy import ndimage

import convcli
from convcli.errors import InputError, KernelError, ParameterError, UsageError
from helpers import SAMPLES, run

PUBLIC = [
    "Batch", "ConvcliError", "Explanation", "Image", "InputError", "Kernel", "KernelError",
    "LayerExplanation", "ParameterError", "Report", "UsageError", "__version__", "absolute",
    "apply", "avg_pool", "batch", "convolve", "explain", "kernel", "kernels", "leaky_relu",
    "max_pool", "output_shape", "read", "relu", "sigmoid", "tanh", "write",
]  # fmt: skip
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
MAKE, ARTIST = 0x010F, 0x013B


# The public names


def test_dir_and_all_are_exactly_the_public_names():
    assert sorted(convcli.__all__) == PUBLIC
    assert dir(convcli) == PUBLIC
    for name in PUBLIC:
        assert getattr(convcli, name) is not None


def test_import_convcli_loads_neither_numpy_nor_pillow():
    code = "import convcli, sys; print(sorted(m for m in ('numpy', 'PIL') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_convolve_on_arrays_loads_no_pillow():
    code = (
        "import convcli, sys; convcli.convolve([[1.0, 2.0]], [[1.0, -1.0]]);"
        " print('PIL' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_kernels_and_explain_stay_functions_whatever_modules_are_imported():
    code = (
        "import convcli.catalog.lookup, convcli.explanation, convcli.library.kernels, convcli\n"
        "print(convcli.catalog.lookup.load_kernel('box:2').shape, len(convcli.kernels()) > 20,"
        " convcli.explain('[1,-1]', [1, 3]).output.tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "(2, 2) True [-2.0, 2.0]"  # reflect: x[2] is x[0]


# Kernels


@pytest.fixture(scope="module")
def kernel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kernels") / "mine.toml"
    path.write_text(
        '[edge]\ndescription = "a scaled edge"\nmatrix = [[1, 0, -1]]\nscale = 0.5\n'
        'bias = 2.0\nrange = "offset"\ntags = ["mine"]\n'
        '[blur]\nmatrix = [[1, 2, 1]]\nscale = "normalize"\n'
    )
    return path


SPECS = [
    "sobel-x", "sobel", "laplacian-8", "roberts-pos", "emboss", "gaussian", "gaussian:sigma=2",
    "gaussian:sigma=1.5,size=9", "box:4", "disk:r=3", "log:sigma=1.4", "[1, 0, -1]",
    "[[0,1,0],[1,-4,1],[0,1,0]]", "[[[1]],[[2]]]", "3x3: 0,-1,0 -1,5,-1 0,-1,0", "Gaussian:2x1.5",
    "FILE:edge", "FILE:blur", "template:" + str(SAMPLES / "circle.png"),
]  # fmt: skip


@pytest.mark.parametrize("spec", SPECS)
def test_a_kernel_is_what_kernels_show_json_gives(spec, kernel_file):
    spec = spec.replace("FILE", str(kernel_file))
    shown = run("kernels", "show", spec, "--json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    kernel = convcli.kernel(spec)
    assert kernel.name == record["name"]
    assert kernel.shape == tuple(record["shape"])
    assert (kernel.range or "clip") == record["range"]
    assert list(kernel.tags) == record["tags"]
    assert kernel.description == record["description"]
    assert kernel.separable == record["separable"]
    assert kernel.bias == record["bias"]
    matrices = [kernel.matrix] if kernel.matrix is not None else kernel.matrices
    shown_matrices = [record["matrix"]] if record["matrix"] else [
        part["matrix"] for part in record["components"]
    ]  # fmt: skip
    for matrix, expected in zip(matrices, shown_matrices, strict=True):
        assert matrix.dtype == np.float64
        assert np.array_equal(matrix, np.array(expected))  # JSON's floats round-trip exactly


def test_a_family_kernel_is_its_formula():
    r = np.arange(-6, 7)  # gaussian: a size that covers 3 sigma either side, odd
    expected = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 2.0**2))
    np.testing.assert_allclose(convcli.kernel("gaussian:sigma=2").matrix, expected / expected.sum())
    assert np.array_equal(convcli.kernel("box:4").matrix, np.full((4, 4), 1 / 16))


def test_a_kernel_file_scales_and_keeps_its_fields(kernel_file):
    edge = convcli.kernel(f"{kernel_file}:edge")
    assert edge.matrix.tolist() == [[0.5, 0.0, -0.5]]
    assert (edge.bias, edge.range, edge.tags) == (2.0, "offset", ("mine",))
    assert convcli.kernel(f"{kernel_file}:blur").matrix.tolist() == [[0.25, 0.5, 0.25]]


def test_kernels_lists_the_catalog_as_kernels_list_does():
    listed = json.loads(run("kernels", "list", "--json").stdout)
    assert [k.name for k in convcli.kernels()] == [entry["name"] for entry in listed]
    edges = json.loads(run("kernels", "list", "--tag", "edge", "--json").stdout)
    assert [k.name for k in convcli.kernels(tag="edge")] == [entry["name"] for entry in edges]
    with pytest.raises(ParameterError) as caught:
        convcli.kernels(tag="edgy")
    assert caught.value.parameter == "tag"


def test_a_bad_spec_is_a_kernel_error_and_a_non_string_names_the_parameter():
    with pytest.raises(KernelError, match="unknown kernel 'sobelx'"):
        convcli.kernel("sobelx")
    with pytest.raises(ParameterError) as caught:
        convcli.kernel(3)
    assert caught.value.parameter == "spec"


def test_convolve_takes_a_spec_and_a_combined_kernel_is_its_magnitude():
    image = np.random.default_rng(1).integers(0, 256, (12, 15)).astype(np.float64)
    x = ndimage.correlate(image, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]), mode="mirror")
    y = ndimage.correlate(image, np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]), mode="mirror")
    np.testing.assert_allclose(convcli.convolve(image, "sobel-x", dtype=np.float64), x)
    np.testing.assert_allclose(convcli.convolve(image, "sobel", dtype=np.float64), np.hypot(x, y))
    gaussian = convcli.kernel("gaussian:sigma=1.5")
    assert np.array_equal(
        convcli.convolve(image, gaussian), convcli.convolve(image, gaussian.matrix)
    )


def test_convolve_adds_a_kernels_bias(kernel_file):
    signal = np.array([[0.0, 2.0, 4.0, 6.0]])
    result = convcli.convolve(signal, f"{kernel_file}:edge", padding="valid")
    assert result.tolist() == [[0.5 * 0 - 0.5 * 4 + 2, 0.5 * 2 - 0.5 * 6 + 2]]


# Images: read, as an independent decoder reads them


def _exif(**tags: str) -> Image.Exif:
    exif = Image.Exif()
    for name, value in tags.items():
        exif[{"make": MAKE, "artist": ARTIST}[name]] = value
    return exif


def _tags(block: bytes | None) -> dict[int, object]:
    assert block
    exif = Image.Exif()
    exif.load(block)
    return dict(exif)


@pytest.fixture(scope="module")
def made():
    """The test images' samples, by file name (filled by ``folder``)."""
    return {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory, made):
    """Test images, each written by Pillow, tifffile or imagecodecs, not by convcli."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(29)
    rgb8 = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    made["rgb8.png"] = rgb8
    Image.fromarray(rgb8).save(folder / "rgb8.png", icc_profile=SRGB, dpi=(300, 300),
                               exif=_exif(make="convcli tests", artist="issue 29"))  # fmt: skip
    grey16 = rng.integers(0, 65536, (17, 11), dtype=np.uint16)
    made["grey16.png"] = grey16
    Image.fromarray(grey16).save(folder / "grey16.png")
    rgb16 = rng.integers(0, 65536, (9, 13, 3), dtype=np.uint16)
    made["rgb16.png"] = rgb16
    (folder / "rgb16.png").write_bytes(imagecodecs.png_encode(rgb16))
    tiff16 = rng.integers(0, 65536, (14, 10, 3), dtype=np.uint16)
    made["rgb16.tif"] = tiff16
    tifffile.imwrite(folder / "rgb16.tif", tiff16, photometric="rgb", resolution=(150, 150),
                     resolutionunit="INCH", iccprofile=SRGB)  # fmt: skip
    rgba = rng.integers(0, 256, (8, 12, 4), dtype=np.uint8)
    made["rgba.png"] = rgba
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    frames = [np.full((10, 16, 3), level, np.uint8) for level in (0, 120, 250)]
    for index, frame in enumerate(frames):
        frame[index : index + 3, 2:9] = (255, 0, 0)  # each frame unlike the others
    made["anim.gif"] = frames
    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(folder / "anim.gif", save_all=True, append_images=pictures[1:],
                     duration=[100, 200, 300], loop=0)  # fmt: skip
    return folder


def test_read_an_8_bit_png_with_its_profile_exif_and_resolution(folder):
    image = convcli.read(folder / "rgb8.png")
    assert image.samples.dtype == np.uint8
    assert np.array_equal(image.samples, np.asarray(Image.open(folder / "rgb8.png")))
    assert image.white == 255
    assert image.alpha is None
    assert len(image.frames) == 1
    assert image.format == "png"
    assert image.icc == SRGB
    assert _tags(image.exif)[MAKE] == "convcli tests"
    assert image.dpi == pytest.approx((300, 300), rel=1e-4)  # pHYs counts pixels per metre


def test_read_16_bit_pngs_at_full_depth(folder):
    grey = convcli.read(folder / "grey16.png")
    assert grey.samples.dtype == np.uint16
    assert grey.white == 65535
    assert np.array_equal(grey.samples, np.asarray(Image.open(folder / "grey16.png")))
    rgb = convcli.read(folder / "rgb16.png")
    assert rgb.samples.dtype == np.uint16
    assert np.array_equal(rgb.samples, imagecodecs.png_decode((folder / "rgb16.png").read_bytes()))


def test_read_a_16_bit_tiff_with_its_profile_and_resolution(folder):
    image = convcli.read(folder / "rgb16.tif")
    assert np.array_equal(image.samples, tifffile.imread(folder / "rgb16.tif"))
    assert image.samples.dtype == np.uint16
    assert image.icc == SRGB
    assert image.dpi == pytest.approx((150, 150))


def test_read_an_rgba_png_keeps_alpha_apart(folder):
    image = convcli.read(folder / "rgba.png")
    decoded = np.asarray(Image.open(folder / "rgba.png"))
    assert np.array_equal(image.samples, decoded[..., :3])
    assert np.array_equal(image.alpha, decoded[..., 3])


def test_read_an_animated_gif_gives_every_frame_and_its_duration(folder):
    image = convcli.read(folder / "anim.gif")
    with Image.open(folder / "anim.gif") as gif:
        expected = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    assert len(image.frames) == 3
    for frame, pillows in zip(image.frames, expected, strict=True):
        assert np.array_equal(frame.samples, pillows)
    assert [frame.duration for frame in image.frames] == [100, 200, 300]
    assert image.loop == 0  # forever
    assert np.array_equal(convcli.read(folder / "anim.gif", frame=2).samples, expected[2])


@pytest.mark.parametrize("kind", ["str", "path", "file URL", "bytes", "file object"])
def test_read_takes_a_name_a_path_a_url_bytes_or_a_binary_file(folder, made, kind):
    path = folder / "rgb16.png"
    source = {
        "str": str(path), "path": path, "file URL": f"file://{path}", "bytes": path.read_bytes(),
        "file object": io.BytesIO(path.read_bytes()),
    }[kind]  # fmt: skip
    assert np.array_equal(convcli.read(source).samples, made["rgb16.png"])


def test_read_refuses_what_is_not_an_image_naming_it(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(InputError, match=r"notes\.png"):
        convcli.read(text)
    with pytest.raises(InputError, match=r"missing\.png"):
        convcli.read(tmp_path / "missing.png")
    with pytest.raises(ParameterError) as caught:
        convcli.read(42)
    assert caught.value.parameter == "source"
    for keyword, value in (("frame", -1), ("max_pixels", 0)):
        with pytest.raises(ParameterError) as caught:
            convcli.read(text, **{keyword: value})
        assert caught.value.parameter == keyword


# Images: written, then read back by an independent decoder


def test_write_a_16_bit_png_and_tiff_at_full_depth_with_their_metadata(folder, made, tmp_path):
    image = convcli.read(folder / "rgb16.tif")
    convcli.write(image, tmp_path / "out.png")
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()),
                          made["rgb16.tif"])  # fmt: skip
    with Image.open(tmp_path / "out.png") as written:
        assert written.info["icc_profile"] == SRGB
        assert written.info["dpi"] == pytest.approx((150, 150), rel=1e-4)
    convcli.write(image, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert np.array_equal(tiff.asarray(), made["rgb16.tif"])
        assert tiff.pages[0].tags["InterColorProfile"].value == SRGB
        assert tiff.pages[0].tags["XResolution"].value == (150, 1)


def test_write_keeps_an_8_bit_pngs_exif_and_strip_leaves_it_out(folder, made, tmp_path):
    image = convcli.read(folder / "rgb8.png")
    convcli.write(image, tmp_path / "kept.png", compress_level=9)
    convcli.write(image, tmp_path / "stripped.png", strip=True)
    with Image.open(tmp_path / "kept.png") as kept, Image.open(tmp_path / "stripped.png") as bare:
        assert np.array_equal(np.asarray(kept), made["rgb8.png"])
        assert np.array_equal(np.asarray(bare), made["rgb8.png"])
        assert kept.getexif()[MAKE] == "convcli tests"
        assert kept.info["icc_profile"] == SRGB
        assert MAKE not in bare.getexif()
        assert "icc_profile" not in bare.info
        assert "dpi" not in bare.info


def test_write_keeps_alpha_and_every_frame_with_its_duration(folder, made, tmp_path):
    convcli.write(convcli.read(folder / "rgba.png"), tmp_path / "rgba.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "rgba.png")), made["rgba.png"])
    convcli.write(convcli.read(folder / "anim.gif"), tmp_path / "anim.gif")
    with Image.open(tmp_path / "anim.gif") as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert all(np.array_equal(a, b) for a, b in zip(frames, made["anim.gif"], strict=True))
    assert durations == [100, 200, 300]


def test_write_maps_16_bits_to_8_where_the_format_holds_8(folder, made, tmp_path):
    convcli.write(convcli.read(folder / "grey16.png"), tmp_path / "grey.bmp")
    expected = np.rint(made["grey16.png"] / 257).astype(np.uint8)  # 65535 onto 255
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grey.bmp")), expected)


def test_write_to_a_stream_and_in_a_named_format(folder, made):
    stream = io.BytesIO()
    convcli.write(convcli.read(folder / "rgb16.png"), stream, "tiff")
    assert np.array_equal(tifffile.imread(io.BytesIO(stream.getvalue())), made["rgb16.png"])


def test_an_array_is_written_as_an_image_of_its_type(tmp_path):
    ramp = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    convcli.write(convcli.Image.from_array(ramp), tmp_path / "ramp.tif")
    assert np.array_equal(tifffile.imread(tmp_path / "ramp.tif"), ramp)
    convcli.write(convcli.Image.from_array(ramp), tmp_path / "ramp.npy")
    assert np.array_equal(np.load(tmp_path / "ramp.npy"), ramp)


def test_a_failed_write_leaves_the_previous_file_whole(folder, tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"the previous output")

    def full_disk(stream, *args, **options):
        stream.write(b"half a picture")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("convcli.run.output.write_image", full_disk)
    with pytest.raises(InputError, match="cannot write: No space left on device"):
        convcli.write(convcli.read(folder / "rgba.png"), target)
    assert target.read_bytes() == b"the previous output"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.png"]


def test_write_names_its_parameters(folder, tmp_path):
    image = convcli.read(folder / "rgba.png")
    for keyword, value in (("quality", 0), ("compress_level", 10), ("quality", 1.5)):
        with pytest.raises(ParameterError) as caught:
            convcli.write(image, tmp_path / "x.jpg", **{keyword: value})
        assert caught.value.parameter == keyword
    with pytest.raises(ParameterError) as caught:
        convcli.write(np.zeros((2, 2)), tmp_path / "x.png")
    assert caught.value.parameter == "image"
    with pytest.raises(UsageError, match="unknown output format"):
        convcli.write(image, tmp_path / "x.xyz")
    with pytest.raises(InputError, match="cannot write"):
        convcli.write(image, tmp_path / "missing" / "x.png")
    assert sorted(path.name for path in tmp_path.iterdir()) == []


# Explanations


EXPLAINED = [
    ("sobel-x", None, {"padding": 1, "stride": 2}, ["-p", "1", "-s", "2"]),
    ("[1,0,-1]", [0, 0, 1, 1, 1, 0, 0], {"padding": "valid", "flip": True, "steps": 2},
     ["-p", "valid", "--flip", "--steps", "2"]),
    ("[1,-2,1]", [0, 1, 4, 9, 16, 25, 36], {"crop": (4, 3), "steps": 1},
     ["--crop", "4,3", "--steps", "1"]),
    ("laplacian", SAMPLES / "camera.png", {"crop": (200, 250, 4, 4)}, ["--crop", "200,250,4,4"]),
    ("box:2", None, {"pad_mode": "zero", "pad_value": 3.0, "dilation": 2, "steps": 5},
     ["--pad-mode", "zero", "--pad-value", "3", "-d", "2", "--steps", "5"]),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "values", "settings", "options"), EXPLAINED)
def test_an_explanation_is_what_explain_json_prints(spec, values, settings, options):
    given = [] if values is None else ["--input", json.dumps(values) if isinstance(values, list)
                                       else str(values)]  # fmt: skip
    shown = run("explain", "-k", spec, *given, *options, "--json")
    assert shown.exit_code == 0, shown.output
    explanation = convcli.explain(spec, values, **settings)
    assert explanation.to_json() + "\n" == shown.stdout


def test_an_explanations_steps_are_the_definition():
    e = convcli.explain("[[1,2],[3,4]]", [[1, 2, 3], [4, 5, 6], [7, 8, 9]], padding="valid")
    first = e.steps[0]
    assert first.window.tolist() == [[1, 2], [4, 5]]
    assert first.products.tolist() == [[1, 4], [12, 20]]
    assert first.sum == 37 == e.output[0, 0]
    assert e.formula == [f"⌊(3 + 0 + 0 - 1·(2 - 1) - 1) / 1⌋ + 1 = {2}"] * 2
    assert math.isclose(e.output[1, 1], 5 + 12 + 24 + 36)


def test_explain_refuses_a_combined_kernel_and_names_its_parameters():
    with pytest.raises(UsageError, match="sobel combines sobel-x and sobel-y"):
        convcli.explain("sobel")
    with pytest.raises(ParameterError) as caught:
        convcli.explain("sobel-x", steps=-1)
    assert caught.value.parameter == "steps"
    with pytest.raises(ParameterError) as caught:
        convcli.explain("sobel-x", stride=0)
    assert caught.value.parameter == "stride"


# apply: the command line's `apply`, from Python

SWEEP = [
    # (input, the command line's options, the library's keywords, output suffix)
    ("rgb8.png", ["-k", "sobel-x"], {"kernels": "sobel-x"}, ".png"),
    ("rgb8.png", ["-k", "box:3", "-p", "valid"], {"kernels": "box:3", "padding": "valid"}, ".png"),
    ("rgb8.png", ["-k", "box:3", "-p", "full"], {"kernels": "box:3", "padding": "full"}, ".png"),
    ("rgb8.png", ["-k", "box:3", "-p", "2"], {"kernels": "box:3", "padding": 2}, ".png"),
    ("rgb8.png", ["-k", "box:3", "-p", "1,2,0,3"], {"kernels": "box:3", "padding": (1, 2, 0, 3)},
     ".png"),
    ("rgb8.png", ["-k", "box:5", "--pad-mode", "zero", "--pad-value", "0.5"],
     {"kernels": "box:5", "pad_mode": "zero", "pad_value": 0.5}, ".png"),
    ("rgb8.png", ["-k", "box:5", "--pad-mode", "wrap"], {"kernels": "box:5", "pad_mode": "wrap"},
     ".png"),
    ("rgb8.png", ["-k", "box:5", "--pad-mode", "edge"], {"kernels": "box:5", "pad_mode": "edge"},
     ".png"),
    ("rgb8.png", ["-k", "box:5", "--pad-mode", "symmetric"],
     {"kernels": "box:5", "pad_mode": "symmetric"}, ".png"),
    ("rgb8.png", ["-k", "sobel-y", "-s", "2,1"], {"kernels": "sobel-y", "stride": (2, 1)}, ".png"),
    ("rgb8.png", ["-k", "laplacian", "-d", "2"], {"kernels": "laplacian", "dilation": 2}, ".png"),
    ("rgb8.png", ["-k", "[[1,0,0],[0,0,0],[0,0,-1]]", "--flip", "--range", "offset"],
     {"kernels": "[[1,0,0],[0,0,0],[0,0,-1]]", "flip": True, "range": "offset"}, ".png"),
    ("rgb8.png", ["-k", "sobel", "--gray", "--range", "rescale"],
     {"kernels": "sobel", "gray": True, "range": "rescale"}, ".png"),
    ("rgb8.png", ["-k", "sobel-x", "--colormap", "viridis"],
     {"kernels": "sobel-x", "colormap": "viridis"}, ".png"),
    ("rgb8.png", ["-k", "sobel-x", "-k", "gaussian:sigma=1"],
     {"kernels": ["sobel-x", "gaussian:sigma=1"]}, ".jpg"),
    ("rgb8.png", ["-k", "box:3", "--quality", "70", "--strip"],
     {"kernels": "box:3", "quality": 70, "strip": True}, ".jpg"),
    ("rgb8.png", ["-k", "box:3", "--compress-level", "9", "--method", "fft"],
     {"kernels": "box:3", "compress_level": 9, "method": "fft"}, ".png"),
    ("grey16.png", ["-k", "gaussian:sigma=1"], {"kernels": "gaussian:sigma=1"}, ".png"),
    ("rgb16.tif", ["-k", "sobel-x", "--range", "raw"], {"kernels": "sobel-x", "range": "raw"},
     ".tif"),
    ("rgba.png", ["-k", "box:3", "--format", "webp"], {"kernels": "box:3", "format": "webp"}, ".out"),
    ("anim.gif", ["-k", "box:3"], {"kernels": "box:3"}, ".gif"),
    ("anim.gif", ["-k", "box:3", "--frame", "1"], {"kernels": "box:3", "frame": 1}, ".png"),
    ("signal.npy", ["-k", "[1,-2,1]"], {"kernels": "[1,-2,1]"}, ".npy"),
]  # fmt: skip


def _same_record(cli: dict, library: dict) -> None:
    """Records equal but for the time taken."""
    for record in (cli, library):
        record.pop("seconds")
        for stage in record.get("stages", []):
            stage.pop("seconds")
    assert library == cli


@pytest.fixture(scope="module")
def signal(folder):
    values = np.sin(np.linspace(0, 7, 40)).astype(np.float32)
    np.save(folder / "signal.npy", values)
    return values


@pytest.mark.parametrize(("name", "options", "keywords", "suffix"), SWEEP)
def test_apply_writes_the_file_and_record_convcli_apply_writes(
    folder, signal, tmp_path, name, options, keywords, suffix
):
    source = str(folder / name)
    by_cli, by_library = tmp_path / f"cli{suffix}", tmp_path / f"library{suffix}"
    done = run("apply", source, *options, "-o", str(by_cli), "--json")
    assert done.exit_code == 0, done.output
    image, record = convcli.apply(source, output=by_library, **keywords)
    assert by_library.read_bytes() == by_cli.read_bytes()
    cli_record = json.loads(done.stdout.splitlines()[-1])
    assert record["output"] == str(by_library)
    cli_record["output"] = record["output"]
    _same_record(cli_record, record)
    # Nothing written: the same result, as the written file holds it.
    unwritten_keywords = {"format": suffix.lstrip("."), **keywords}  # the format of -o's suffix
    alone, unwritten = convcli.apply(source, **unwritten_keywords)
    assert unwritten["output"] is None
    assert np.array_equal(alone.samples, image.samples)
    if suffix in (".png", ".tif", ".npy"):  # lossless: the file holds exactly the result
        written = np.load(by_cli) if suffix == ".npy" else convcli.read(by_cli)
        assert np.array_equal(np.squeeze(getattr(written, "samples", written)),
                              np.squeeze(image.samples))  # fmt: skip


def test_apply_to_a_bank_writes_each_kernels_output_as_convcli_apply_bank(folder, tmp_path):
    source = str(folder / "rgb16.png")
    done = run("apply", source, "-k", "sobel-x", "-k", "box:3", "--bank", "-o",
               f"{tmp_path}/cli/", "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    results = convcli.apply(source, ["sobel-x", "box:3"], bank=True, output=f"{tmp_path}/lib/")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["kernel"] for _, r in results] == ["sobel-x", "box:size=3"]
    for (image, record), cli_record in zip(results, records, strict=True):
        name = record["output"].rsplit("/", 1)[1]
        assert cli_record["output"].endswith("/cli/" + name)
        assert (tmp_path / "lib" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
        cli_record["output"] = record["output"]
        _same_record(cli_record, record)
        assert image.samples.dtype == np.uint16


def test_apply_to_an_array_filters_it_as_a_npy_file_and_writes_nothing(tmp_path, signal):
    before = set(tmp_path.iterdir())
    image, record = convcli.apply(signal, "[1,-2,1]", padding="valid")
    expected = np.correlate(signal.astype(np.float64), [1, -2, 1], mode="valid")
    assert np.allclose(image.samples, expected, atol=1e-6)
    assert image.format == "npy"
    assert image.white == 1.0
    assert record["input"] == "<array>"
    assert record["output"] is None
    assert record["output_shape"] == [38]
    assert record["range"] == "raw"
    assert set(tmp_path.iterdir()) == before


def test_apply_to_an_image_keeps_its_depth_frames_and_metadata(folder, made):
    read = convcli.read(folder / "anim.gif")
    image, record = convcli.apply(read, "box:3", pad_mode="replicate")
    assert len(image.frames) == 3
    assert [f.duration for f in image.frames] == [100, 200, 300]
    expected = ndimage.uniform_filter(made["anim.gif"][2].astype(float), (3, 3, 1), mode="nearest")
    assert np.abs(image.frames[2].samples - np.rint(expected)).max() <= 1
    deep = convcli.Image.from_array(made["grey16.png"], dpi=(200.0, 200.0))
    result, record = convcli.apply(deep, "box:3", stride=2)
    assert result.samples.dtype == np.uint16
    assert result.white == 65535
    assert result.format == "tif"
    assert result.dpi == (100.0, 100.0)
    assert record["input"] == "<image>"
    assert record["output_shape"] == [9, 6]


def test_apply_names_its_parameters(folder):
    source = folder / "rgb8.png"
    for keyword, value in (("stride", 0), ("padding", (1, -1)), ("range", "loud"),
                           ("pad_mode", "mirror"), ("quality", 101), ("frame", -1),
                           ("pad_value", "0"), ("max_pixels", 0)):  # fmt: skip
        with pytest.raises(ParameterError) as caught:
            convcli.apply(source, "box:3", **{keyword: value})
        assert caught.value.parameter == keyword
    with pytest.raises(ParameterError) as caught:
        convcli.apply(source, ["box:3"], bank=True)
    assert caught.value.parameter == "bank"
    with pytest.raises(KernelError):
        convcli.apply(source, "sobel-z")
    with pytest.raises(InputError, match=r"missing\.png"):
        convcli.apply(folder / "missing.png", "box:3", output=folder / "out.png")
    with pytest.raises(TypeError):
        convcli.apply(source, "box:3", loudness=2)
    for output in (folder, f"{folder}/new/", "-"):  # an array has no name to name a file by
        with pytest.raises(ParameterError) as caught:
            convcli.apply(np.zeros((4, 4)), "box:3", output=output)
        assert caught.value.parameter == "output"


def test_apply_writes_an_image_to_the_file_named(made, tmp_path):
    image = convcli.Image.from_array(made["grey16.png"])
    result, record = convcli.apply(image, "box:3", output=tmp_path / "smooth.png")
    assert record["output"] == str(tmp_path / "smooth.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "smooth.png")), result.samples)
    expected = ndimage.uniform_filter(made["grey16.png"].astype(float), 3, mode="mirror")
    assert np.abs(result.samples.astype(float) - expected).max() <= 1  # reflect is SciPy's mirror


def test_a_family_kernel_carries_its_parameters_as_kernels_list_json_shows_them():
    assert convcli.kernel("gaussian:sigma=2").parameters == (("sigma", 2.0), ("size", None))
    assert convcli.kernel("sobel-x").parameters is None
    done = run("kernels", "list", "--json")
    assert done.exit_code == 0
    listed = {entry["name"]: entry["parameters"] for entry in json.loads(done.stdout)}
    for kernel in convcli.kernels():
        expected = kernel.parameters and {
            n: "auto" if v is None else v for n, v in kernel.parameters
        }
        assert listed[kernel.name] == expected
    assert listed["gaussian"] == {"sigma": 1.0, "size": "auto"}  # the family's defaults


# batch: `convcli apply` over files and folders, from Python

BATCHES = [
    # (the inputs, the command line's options, the library's keywords; REPORT and SHEET are
    # files beside each side's output folder)
    (["batch/"], ["-k", "sobel-x", "-j", "2", "--report", "REPORT.json"],
     {"kernels": "sobel-x", "jobs": 2, "report": "REPORT.json"}),
    (["batch/"], ["-k", "box:3", "-k", "sobel-y", "-p", "valid", "--report", "REPORT.csv"],
     {"kernels": ["box:3", "sobel-y"], "padding": "valid", "report": "REPORT.csv"}),
    (["batch/"], ["-k", "sobel-x", "-k", "box:3", "--bank", "--montage", "SHEET.png", "-j", "1"],
     {"kernels": ["sobel-x", "box:3"], "bank": True, "montage": "SHEET.png", "jobs": 1}),
    (["batch/rgb8.png", "batch/grey16.png"],
     ["-k", "sobel-x", "-k", "sobel-y", "--bank", "--colormap", "viridis", "--montage",
      "SHEET.png", "--montage-scale", "shared"],
     {"kernels": ["sobel-x", "sobel-y"], "bank": True, "colormap": "viridis",
      "montage": "SHEET.png", "montage_scale": "shared"}),
    (["batch/"], ["-k", "box:3", "--name", "{stem}-smooth{suffix}", "--gray", "-s", "2"],
     {"kernels": "box:3", "template": "{stem}-smooth{suffix}", "gray": True, "stride": (2,)}),
    (["wide.npy"], ["-k", "gaussian:sigma=2", "--tile", "16", "--pad-mode", "wrap"],
     {"kernels": "gaussian:sigma=2", "tile": 16, "pad_mode": "wrap"}),
    (["batch/rgb8.png", "batch/rgba.png"], ["-k", "laplacian", "--scheduler", "local:1"],
     {"kernels": "laplacian", "scheduler": "local:1"}),
    (["batch/", "batch/missing.png"], ["-k", "box:3", "--dry-run"],
     {"kernels": "box:3", "dry_run": True}),
]  # fmt: skip


@pytest.fixture(scope="module")
def batch_inputs(folder, tmp_path_factory):
    """A folder of the test images, and an array wider than a tile."""
    root = tmp_path_factory.mktemp("batch")
    (root / "batch").mkdir()
    for name in ("rgb8.png", "grey16.png", "rgba.png", "anim.gif"):
        (root / "batch" / name).write_bytes((folder / name).read_bytes())
    np.save(root / "wide.npy", np.random.default_rng(7).random((40, 50)))
    return root


def _side(tmp_path, side: str, text: str) -> str:
    """A file beside a side's output folder: REPORT.json is cli-REPORT.json for the CLI's."""
    return str(tmp_path / f"{side}-{text}") if text.isupper() or "." in text else text


def _files(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _timeless(text: str) -> object:
    """A report file without the times taken: JSON records, or CSV rows less their seconds."""
    if text.startswith("["):
        records = json.loads(text)
        for record in records:
            record.pop("seconds")
        return records
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        row.pop("seconds")
    return rows


@pytest.mark.parametrize(("inputs", "options", "keywords"), BATCHES)
def test_batch_writes_the_files_and_records_convcli_apply_writes(
    batch_inputs, tmp_path, monkeypatch, inputs, options, keywords
):
    monkeypatch.chdir(batch_inputs)
    cli_options = [_side(tmp_path, "cli", o) if o.startswith(("REPORT", "SHEET")) else o
                   for o in options]  # fmt: skip
    done = run("apply", *inputs, *cli_options, "-o", f"{tmp_path}/cli/", "--json")
    failed = '"status": "error"' in done.stdout  # a missing input, in a dry run
    assert done.exit_code == int(failed), done.output
    settings = {key: _side(tmp_path, "lib", value) if key in ("report", "montage") else value
                for key, value in keywords.items()}  # fmt: skip
    seen = []
    with convcli.batch(inputs, output=f"{tmp_path}/lib/", **settings) as planned:
        assert len(planned) == len(done.stdout.splitlines())
        reports = planned.run(on_record=seen.append)
    assert seen == reports
    assert planned.failed == failed
    cli_records = [json.loads(line) for line in done.stdout.splitlines()]
    for report, cli_record in zip(reports, cli_records, strict=True):
        record = json.loads(report.to_json())
        if cli_record["output"] is not None:
            cli_record["output"] = cli_record["output"].replace("/cli/", "/lib/")
        _same_record(cli_record, record)
    if keywords.get("dry_run"):
        assert not (tmp_path / "cli").exists()
        assert not (tmp_path / "lib").exists()
        return
    assert _files(tmp_path / "lib") == _files(tmp_path / "cli")
    for name in ("REPORT.json", "REPORT.csv", "SHEET.png"):
        cli, lib = tmp_path / f"cli-{name}", tmp_path / f"lib-{name}"
        assert cli.exists() == lib.exists()
        if name == "SHEET.png" and cli.exists():
            assert lib.read_bytes() == cli.read_bytes()
        elif cli.exists():
            lib_text = lib.read_text().replace("/lib/", "/cli/")
            assert _timeless(lib_text) == _timeless(cli.read_text())


def test_batch_notes_what_planning_says_and_writes_nothing_before_run(batch_inputs, tmp_path):
    outputs = tmp_path / "out"
    with convcli.batch(batch_inputs / "batch", "box:3", outputs) as planned:
        assert planned.notes == []
        assert planned.records is None
    assert list(outputs.iterdir()) == []  # the folder made, nothing filtered, no report
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "a.npy", np.zeros((4, 4)))
    np.save(tmp_path / "in" / "a_box-size-3.npy", np.zeros((4, 4)))  # named as an output
    with convcli.batch(tmp_path / "in", "box:3", dry_run=True) as planned:
        assert len(planned) == 1
        assert planned.notes == [
            f"left out 1 file named as convcli names its outputs ({tmp_path}/in/a_box-size-3.npy:"
            " its format cannot say who made it; name a file to filter it)"
        ]
        assert [r.status for r in planned.run()] == ["planned"]


def test_batch_says_which_input_failed_and_names_its_parameters(batch_inputs, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with convcli.batch([tmp_path / "broken.png", batch_inputs / "batch" / "rgb8.png"], "box:3",
                       tmp_path / "out") as planned:  # fmt: skip
        reports = planned.run()
    assert [r.status for r in reports] == ["error", "ok"]
    assert "broken.png" in (reports[0].error or "")
    assert planned.failed
    for keywords, parameter in (({"jobs": 0}, "jobs"), ({"tile": 0}, "tile"),
                                ({"report": tmp_path / "r.txt"}, "report"),
                                ({"template": "{size}.png"}, "template"),
                                ({"montage": "sheet.nothing", "bank": True}, "montage"),
                                ({"montage_scale": "all", "montage": "s.png", "bank": True,
                                  "colormap": "gray"}, "montage_scale")):  # fmt: skip
        with (pytest.raises(ParameterError) as caught,
              convcli.batch(batch_inputs / "batch", ["box:3", "sobel-x"], tmp_path / "o",
                            **keywords)):  # fmt: skip
            pass
        assert caught.value.parameter == parameter, keywords
    with (pytest.raises(UsageError, match=r"^montage draws a bank's responses side by side"),
          convcli.batch(batch_inputs / "batch", "box:3", tmp_path / "o", montage="s.png")):  # fmt: skip
        pass


def test_apply_carries_the_notes_of_planning_as_the_command_line_prints_them(tmp_path):
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "icon.ico")
    done = run("apply", str(tmp_path / "icon.ico"), "-k", "box:3", "-o", f"{tmp_path}/cli/")
    assert done.exit_code == 0, done.output
    noted = [line.removeprefix("convcli: note: ") for line in done.stderr.splitlines()
             if line.startswith("convcli: note: ")]  # fmt: skip
    assert any("ICO as PNG" in note for note in noted), noted
    image, record = convcli.apply(tmp_path / "icon.ico", "box:3", output=f"{tmp_path}/lib/")
    assert list(image.notes) == [note.replace("--format", "format") for note in noted]
    assert record["output"].endswith("icon_box-size-3.png")


def test_apply_notes_a_kernel_that_replaces_a_built_in_one(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text("[sobel-x]\nmatrix = [1, -1]\n")
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", str(tmp_path))
    image, _ = convcli.apply(np.arange(6.0), "sobel-x", padding="valid")
    assert image.notes[0] == (f"kernel 'sobel-x' is the one in {tmp_path / 'mine.toml'} "
                              "(CONVCLI_KERNEL_PATH comes before the built-in kernels)")  # fmt: skip


# explain's and kernels show's pictures and JSON, from Python


def test_explain_draws_what_explain_animate_and_html_draw(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = run("explain", "-k", "sobel-x", "-p", "1", "-s", "2", "--input", "[[1,2,3],[4,5,6]]",
               "--animate", "cli.gif", "--frames", "2", "--html", "cli.html")  # fmt: skip
    assert done.exit_code == 0, done.output
    e = convcli.explain("sobel-x", "[[1,2,3],[4,5,6]]", padding=1, stride=(2,), animate="lib.gif",
                        frames=2, html="lib.html")  # fmt: skip
    assert len(e.steps) == 3 - 1  # 2 outputs of 2 x 3, stride 2: what there is
    assert (tmp_path / "lib.gif").read_bytes() == (tmp_path / "cli.gif").read_bytes()
    assert (tmp_path / "lib.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    with pytest.raises(UsageError, match=r"^frames counts the frames of animate"):
        convcli.explain("sobel-x", frames=2)


def test_explain_takes_the_padding_and_steps_as_apply_takes_them():
    e = convcli.explain("box:3", "[[1,2,3],[4,5,6],[7,8,9]]", padding=(1, 1, 0, 0), stride=(1, 1))
    assert e.geometry.padding == ((1, 1), (0, 0))
    assert e.output.shape == (3, 1)
    assert e.padded[e.taps(e.steps[0])].shape == (3, 3)
    with pytest.raises(ParameterError) as caught:
        convcli.explain("box:3", padding=(1, 2, 3))
    assert caught.value.parameter == "padding"


def test_kernel_draws_and_prints_what_kernels_show_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = run("kernels", "show", "gaussian:sigma=1", "--json", "--picture", "cli.png")
    assert done.exit_code == 0, done.output
    k = convcli.kernel("gaussian:sigma=1", picture=tmp_path / "lib.png")
    assert (tmp_path / "lib.png").read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert k.to_json() + "\n" == done.stdout
    with pytest.raises(ParameterError) as caught:
        convcli.kernel("box:3", picture=tmp_path / "k.nothing")
    assert caught.value.parameter == "picture"


def test_a_keyword_that_is_no_setting_is_refused_by_its_caller_s_name_with_a_guess(tmp_path):
    with pytest.raises(TypeError, match=r"^apply\(\) got an unexpected keyword argument 'strid': "
                                        r"did you mean stride\?$"):  # fmt: skip
        convcli.apply(np.ones((3, 3)), "box", strid=2)
    with pytest.raises(TypeError, match=r"^batch\(\) got an unexpected keyword argument 'pading'"):
        convcli.batch(tmp_path, "box", pading=1).__enter__()


def test_kernels_inputs_and_tile_out_of_their_kinds_and_bounds_are_parameter_errors(tmp_path):
    with pytest.raises(convcli.ParameterError, match="kernels must be a kernel spec, a Kernel"):
        convcli.apply(np.ones((3, 3)), None)  # type: ignore[arg-type]
    with pytest.raises(convcli.ParameterError, match="inputs must be a path or a list of paths"):
        convcli.batch(None, "box").__enter__()  # type: ignore[arg-type]
    with pytest.raises(convcli.ParameterError, match="tile must be 16 to 65,536, got 8"):
        convcli.batch(tmp_path, "box", tile=8).__enter__()  # the command line's bounds
