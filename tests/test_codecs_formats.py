"""AVIF, JPEG XL, JPEG 2000 and QOI, end to end, with files imagecodecs' encoders make.

The reference is imagecodecs' own decode of the input; outputs are read back
with imagecodecs too (never convcli's reader), at the depth they were written.
Samples of 10 or 12 bits are held at 16 inside convcli, scaled so that white
is white: round(v * 65535 / (2**bits - 1)), the README's formula.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from convcli.io.codecs import layout
from convcli.io.formats import sniff_format
from helpers import run

RNG = np.random.default_rng(23)
H, W = 12, 17


def samples(bits: int, channels: int) -> np.ndarray:
    shape = (H, W) if channels == 1 else (H, W, channels)
    dtype = np.uint8 if bits == 8 else np.uint16
    return RNG.integers(0, 1 << bits, size=shape, dtype=dtype)


def widened(values: np.ndarray, bits: int) -> np.ndarray:
    """The README's scaling of ``bits``-bit samples to 16 bits."""
    if bits in (8, 16):
        return values
    return np.rint(values.astype(float) * 65535 / (2**bits - 1)).astype(np.uint16)


def narrowed(values: np.ndarray, bits: int) -> np.ndarray:
    if bits in (8, 16):
        return values
    return np.rint(values.astype(float) * (2**bits - 1) / 65535).astype(np.uint16)


# name -> (suffix, encoder, bits, channels); every one lossless, so the reference is the array
ENCODERS = {
    "avif-8-rgb": ("avif", lambda a: imagecodecs.avif_encode(a, level=100), 8, 3),
    "avif-10-rgb": (
        "avif",
        lambda a: imagecodecs.avif_encode(a, level=100, bitspersample=10),
        10,
        3,
    ),
    "avif-12-grey": (
        "avif",
        lambda a: imagecodecs.avif_encode(a, level=100, bitspersample=12),
        12,
        1,
    ),
    "avif-8-grey-alpha": ("avif", lambda a: imagecodecs.avif_encode(a, level=100), 8, 2),
    "jxl-8-rgba": ("jxl", lambda a: imagecodecs.jpegxl_encode(a, lossless=True), 8, 4),
    "jxl-16-rgb": ("jxl", lambda a: imagecodecs.jpegxl_encode(a, lossless=True), 16, 3),
    "jxl-16-grey": ("jxl", lambda a: imagecodecs.jpegxl_encode(a, lossless=True), 16, 1),
    "jp2-8-rgb": ("jp2", lambda a: imagecodecs.jpeg2k_encode(a, reversible=True), 8, 3),
    "jp2-16-rgba": ("jp2", lambda a: imagecodecs.jpeg2k_encode(a, reversible=True), 16, 4),
    "jp2-12-grey": (
        "jp2",
        lambda a: imagecodecs.jpeg2k_encode(a, reversible=True, bitspersample=12),
        12,
        1,
    ),
    "j2k-16-grey": (
        "j2k",
        lambda a: imagecodecs.jpeg2k_encode(a, reversible=True, codecformat="J2K"),
        16,
        1,
    ),
    "qoi-rgb": ("qoi", imagecodecs.qoi_encode, 8, 3),
    "qoi-rgba": ("qoi", imagecodecs.qoi_encode, 8, 4),
}


def made(tmp_path: Path, name: str) -> tuple[Path, np.ndarray, int]:
    suffix, encoder, bits, channels = ENCODERS[name]
    array = samples(bits, channels)
    source = tmp_path / f"in.{suffix}"
    source.write_bytes(encoder(array))
    reference = imagecodecs.imread(source)  # the reference decode
    return source, reference, bits


def apply(*args: str):
    result = run("apply", *args, "-q")
    assert result.exit_code == 0, result.stderr
    return result


def written_bits(path: Path) -> int:
    data = path.read_bytes()
    return layout(data[: 1 << 20], sniff_format(data[:32])).bits


@pytest.mark.parametrize("name", ENCODERS)
def test_identity_into_its_own_format_gives_the_reference_samples_at_their_depth(tmp_path, name):
    source, reference, bits = made(tmp_path, name)
    out = tmp_path / f"out{source.suffix}"
    # AVIF is written lossy unless --quality 100 asks for lossless
    apply(
        str(source),
        "-k",
        "[[1]]",
        "-o",
        str(out),
        *(["--quality", "100"] * (out.suffix == ".avif")),
    )
    back = imagecodecs.imread(out)
    assert back.dtype == reference.dtype
    assert written_bits(out) == bits
    np.testing.assert_array_equal(back, reference)  # alpha included: it is the last channel


@pytest.mark.parametrize(
    "name", ["avif-10-rgb", "avif-12-grey", "jp2-12-grey", "jxl-16-rgb", "qoi-rgba"]
)
def test_identity_into_png_holds_the_samples_at_16_bits_scaled(tmp_path, name):
    source, reference, bits = made(tmp_path, name)
    out = tmp_path / "out.png"
    apply(str(source), "-k", "identity", "-o", str(out))
    np.testing.assert_array_equal(
        imagecodecs.png_decode(out.read_bytes()), widened(reference, bits)
    )


def box3(values: np.ndarray) -> np.ndarray:
    """A 3x3 mean with convcli's reflect border (SciPy's mirror), per channel."""
    weights = np.ones((3, 3) + (1,) * (values.ndim - 2)) / 9
    return ndimage.correlate(values.astype(float), weights, mode="mirror")


@pytest.mark.parametrize(
    "name", ["avif-10-rgb", "jxl-16-rgb", "jp2-8-rgb", "j2k-16-grey", "qoi-rgb"]
)
def test_box_gives_the_box_filter_of_the_reference_decode(tmp_path, name):
    source, reference, bits = made(tmp_path, name)
    out = tmp_path / f"out{source.suffix}"
    apply(
        str(source), "-k", "box", "-o", str(out), *(["--quality", "100"] * (out.suffix == ".avif"))
    )
    expected = narrowed(np.rint(box3(widened(reference, bits))), bits)
    back = imagecodecs.imread(out)
    assert back.dtype == reference.dtype
    np.testing.assert_allclose(back, expected, atol=1)  # float32 against float64 at halves
    assert np.mean(back == expected) > 0.99


def test_alpha_is_carried_unfiltered(tmp_path):
    source, reference, _ = made(tmp_path, "jxl-8-rgba")
    out = tmp_path / "out.jxl"
    apply(str(source), "-k", "box", "-o", str(out))
    np.testing.assert_array_equal(imagecodecs.imread(out)[..., 3], reference[..., 3])


def test_a_lossy_avif_is_read_as_its_decoder_gives_it(tmp_path):
    photo = np.asarray(
        Image.open(Path(__file__).parents[1] / "sample_images/astronaut.png").resize((64, 48))
    )
    source, out = tmp_path / "in.avif", tmp_path / "out.tif"
    source.write_bytes(
        imagecodecs.avif_encode(photo.astype(np.uint16) * 4, level=50, bitspersample=10)
    )
    apply(str(source), "-k", "identity", "-o", str(out))
    np.testing.assert_array_equal(imagecodecs.imread(out), widened(imagecodecs.imread(source), 10))


def test_a_lossy_avif_output_is_small_and_near(tmp_path):
    source, reference, _ = made(tmp_path, "avif-10-rgb")
    out = tmp_path / "out.avif"
    apply(str(source), "-k", "identity", "-o", str(out))
    back = imagecodecs.imread(out)
    assert back.dtype == np.uint16
    assert written_bits(out) == 10
    assert np.abs(back.astype(int) - reference).mean() < 1023 / 4  # noise compresses badly


@pytest.mark.parametrize("suffix", ["avif", "jxl", "jp2", "j2k", "qoi"])
def test_format_and_suffix_choose_the_new_outputs(tmp_path, suffix):
    source = tmp_path / "in.png"
    Image.fromarray(samples(8, 3)).save(source)
    apply(str(source), "-k", "identity", "--format", suffix, "-o", f"{tmp_path}/")
    out = tmp_path / f"in_identity.{suffix}"
    assert sniff_format(out.read_bytes()[:32]) == suffix
    back = imagecodecs.imread(out)
    assert back.shape == (H, W, 3)
    if suffix != "avif":  # lossless
        np.testing.assert_array_equal(back, np.asarray(Image.open(source)))


def test_jxl_and_jp2_outputs_carry_exif_and_provenance(tmp_path):
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"  # Artist
    source = tmp_path / "in.jpg"
    Image.fromarray(samples(8, 3)).save(source, exif=exif.tobytes(), dpi=(300, 300))
    for suffix in ("jxl", "jp2"):
        out = tmp_path / f"out.{suffix}"
        apply(str(source), "-k", "identity", "-s", "2", "-o", str(out))
        tags = json.loads(subprocess.run(["exiftool", "-j", "-n", str(out)], capture_output=True,
                                         check=True, text=True).stdout)[0]  # fmt: skip
        assert tags["Artist"] == "A. Photographer"
        assert tags["XResolution"] == 150  # divided by the stride
        assert tags["Software"].startswith("convcli ")
        assert json.loads(tags["ImageDescription"])["kernels"] == ["identity"]
        apply(str(source), "-k", "identity", "-s", "2", "-o", str(out))  # its own: replaced


def test_an_avif_inputs_profile_and_exif_reach_a_png(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"
    source, out = tmp_path / "in.avif", tmp_path / "out.png"
    Image.fromarray(samples(8, 3)).save(source, "AVIF", icc_profile=icc, exif=exif.tobytes())
    apply(str(source), "-k", "identity", "-o", str(out))
    with Image.open(out) as image:
        assert image.info["icc_profile"] == icc
        assert image.getexif()[0x013B] == "A. Photographer"


def test_what_an_avif_cannot_hold_is_noted(tmp_path):
    source, out = tmp_path / "in.png", tmp_path / "out.avif"
    Image.fromarray(samples(8, 3)).save(source, dpi=(300, 300))
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert "avif outputs cannot hold the resolution of their inputs: left out" in result.stderr


def test_the_header_is_probed_without_pixels(tmp_path):
    source, _, _ = made(tmp_path, "avif-10-rgb")
    result = apply(
        str(source), "-k", "identity", "--dry-run", "--json", "-o", str(tmp_path / "o.png")
    )
    assert json.loads(result.stdout)["input_shape"] == [H, W, 3]


# Hostile inputs: one line, exit 1, no output.


def refused(tmp_path: Path, name: str, data: bytes, *options: str) -> str:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / f"out-{name}"
    result = run("apply", str(source), "-k", "box", "-o", str(out), *options)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(f"convcli: error: {source}: ")
    assert len(result.stderr.splitlines()) == 1
    assert "internal error" not in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == []
    return result.stderr


@pytest.mark.parametrize(
    "name", ["avif-10-rgb", "jxl-16-rgb", "jp2-8-rgb", "j2k-16-grey", "qoi-rgba"]
)
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_file_is_one_line(tmp_path, name, keep):
    source, _, _ = made(tmp_path, name)
    data = source.read_bytes()
    source.unlink()
    message = refused(tmp_path, f"cut{source.suffix}", data[: int(len(data) * keep)])
    assert "cannot read image" in message


@pytest.mark.parametrize("name", ["avif-8-rgb", "jxl-16-rgb", "jp2-8-rgb", "qoi-rgb"])
def test_a_file_far_larger_than_its_samples_is_not_read(tmp_path, name):
    source, _, _ = made(tmp_path, name)
    data = source.read_bytes()
    source.unlink()
    padded = data + bytes(17 << 20)  # past twice the samples of a small picture and 16 MiB
    message = refused(tmp_path, f"padded{source.suffix}", padded)
    assert f"{len(padded):,} bytes is more than a" in message


def jxl_claiming(side: int) -> bytes:
    """A JPEG XL codestream whose size header says side x side, then nothing sensible."""
    bits = [0] + [1, 1] + [(side - 1) >> i & 1 for i in range(30)] + [1, 0, 0]  # ratio 1: square
    packed = bytes(
        sum(bit << i for i, bit in enumerate(bits[at : at + 8])) for at in range(0, len(bits), 8)
    )
    return b"\xff\x0a" + packed + bytes(64)


def claiming_huge(name: str, data: bytes) -> bytes:
    """The same file with its header's size made 100000 x 100000, found independently."""
    huge = struct.pack(">II", 100_000, 100_000)
    if name.startswith("qoi"):
        return data[:4] + huge + data[12:]
    if name.startswith("j2k"):
        return data[:8] + huge + data[16:]
    if name.startswith("jp2"):
        at = data.index(b"ihdr") + 4
        return data[:at] + huge + data[at + 8 :]
    at = data.index(b"ispe") + 8  # AVIF: after the box's version and flags
    return data[:at] + huge + data[at + 8 :]


@pytest.mark.parametrize("name", ["avif-8-rgb", "jp2-8-rgb", "j2k-16-grey", "qoi-rgb", "jxl"])
def test_a_header_claiming_a_huge_size_is_refused_before_decoding(tmp_path, name):
    if name == "jxl":
        data, suffix = jxl_claiming(100_000), ".jxl"
    else:
        source, _, _ = made(tmp_path, name)
        data, suffix = claiming_huge(name, source.read_bytes()), source.suffix
        source.unlink()
    message = refused(tmp_path, f"huge{suffix}", data)
    assert "100000x100000 (width x height) is 10000000000 pixels, over the limit" in message


def test_the_jxl_size_header_is_read_as_the_specification_says():
    claimed = layout(jxl_claiming(300), "jxl")
    assert (claimed.width, claimed.height) == (300, 300)
    encoded = layout(imagecodecs.jpegxl_encode(np.zeros((1000, 17, 3), np.uint8)), "jxl")
    assert (encoded.width, encoded.height) == (17, 1000)  # a 1000/17 ratio: no shortcut


def test_a_stream_of_each_reads_from_standard_input(tmp_path):
    source, reference, _ = made(tmp_path, "jxl-16-rgb")
    result = run("apply", "-", "-k", "identity", "-q", stdin=source.read_bytes())
    assert result.exit_code == 0
    np.testing.assert_array_equal(imagecodecs.jpegxl_decode(result.stdout_bytes), reference)


# EXIF orientation -> how the stored picture is shown (JEITA CP-3451C), which Pillow's
# AVIF writer stores as irot and imir properties
SHOWN = {
    2: np.fliplr,
    4: np.flipud,
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(SHOWN))
def test_an_avifs_irot_and_imir_turn_its_pixels(tmp_path, orientation):
    source, out = tmp_path / "in.avif", tmp_path / "out.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(samples(8, 3)).save(source, "AVIF", exif=exif.tobytes())
    data = source.read_bytes()
    assert (b"irot" in data) == (orientation > 4), "the writer stores a turn"
    expected = SHOWN[orientation](imagecodecs.avif_decode(data))
    result = apply(str(source), "-k", "identity", "-o", str(out), "--json")
    assert json.loads(result.stdout)["input_shape"] == list(expected.shape)
    with Image.open(out) as image:
        assert np.array_equal(np.asarray(image), expected)
        assert image.getexif().get(0x0112, 1) == 1


def test_every_picture_of_an_avif_sequence_is_filtered(tmp_path):
    source, out, one = tmp_path / "in.avif", tmp_path / "out.tif", tmp_path / "one.png"
    frames = np.stack([samples(8, 3) for _ in range(3)])
    source.write_bytes(imagecodecs.avif_encode(frames, level=100))
    reference = imagecodecs.avif_decode(source.read_bytes())
    assert reference.shape == (3, H, W, 3)
    apply(str(source), "-k", "identity", "-o", str(out))
    import tifffile

    assert np.array_equal(tifffile.imread(out), reference)
    apply(str(source), "-k", "identity", "--frame", "2", "-o", str(one))
    with Image.open(one) as image:
        assert np.array_equal(np.asarray(image), reference[2])
    # decoded together: the sequence's pixels count against --max-pixels
    result = run("apply", str(source), "-k", "identity", "-o", str(one), "--max-pixels", "500")
    assert result.exit_code == 1
    assert result.stderr == (
        f"convcli: error: {source}: 3 pictures of 17x12 are 612 pixels, decoded together, over "
        "the limit of 500 (raise it with --max-pixels)\n"
    )
