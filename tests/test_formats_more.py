"""PGM/PPM, PFM, TGA, ICO, PSD, FITS, and through their extras HEIC, EXR and camera raw.

Every input is made here: by Pillow (TGA, ICO), by hand from the format's
specification (tests/helpers/formats.py), or by the extra's own library.
Expected samples come from the array written, a reference decoder, or
SciPy's correlation; never from convcli.
"""

from __future__ import annotations

import io
import re
import sys

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms
from scipy import ndimage

from helpers import run
from helpers.formats import dng, exr, fits, heic, pfm, pnm, psd, psd_resource

RNG = np.random.default_rng(23)
BOX = np.full((3, 3), 1 / 9)


def box(values: np.ndarray) -> np.ndarray:
    """convcli's `box` with its default reflect border (SciPy's mirror), per channel."""
    values = values.astype(np.float64)
    weights = BOX if values.ndim == 2 else BOX[..., None]
    return ndimage.correlate(values, weights, mode="mirror")


def apply(source, out, *options: str):
    result = run("apply", str(source), "-o", str(out), *options)
    assert result.exit_code == 0, result.stderr
    return result


def read_pnm(data: bytes) -> np.ndarray:
    """Decode a binary PGM or PPM with comments only after its magic number."""
    found = re.match(rb"(P[56])\s+(?:#[^\n]*\n)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert found is not None
    magic, width, height, most = found.groups()
    rest = data[found.end() :]
    shape = (int(height), int(width)) + ((3,) if magic == b"P6" else ())
    return np.frombuffer(rest, ">u2" if int(most) > 255 else "u1").reshape(shape)


def read_pfm(data: bytes) -> np.ndarray:
    magic, width, height, scale, rest = data.split(maxsplit=4)
    shape = (int(height), int(width)) + ((3,) if magic == b"PF" else ())
    return np.frombuffer(rest, "<f4" if float(scale) < 0 else ">f4").reshape(shape)[::-1]


# PGM and PPM


@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 3)])
def test_16_bit_pgm_and_ppm_keep_their_samples_and_box_filters_them(tmp_path, shape):
    pixels = RNG.integers(0, 65536, shape, dtype=np.uint16)
    source = tmp_path / "in.ppm"
    source.write_bytes(pnm(pixels, comment=b"# a comment\n"))
    apply(source, tmp_path / "same.ppm", "-k", "identity", "-q")
    written = (tmp_path / "same.ppm").read_bytes()
    assert written.startswith(b"P6" if len(shape) == 3 else b"P5")
    np.testing.assert_array_equal(read_pnm(written), pixels)
    apply(source, tmp_path / "box.pgm", "-k", "box", "-q")
    np.testing.assert_array_equal(
        read_pnm((tmp_path / "box.pgm").read_bytes()), np.rint(box(pixels))
    )


def test_an_8_bit_ppm_from_pillow_is_read_as_pillow_reads_it(tmp_path):
    source = tmp_path / "in.ppm"
    Image.fromarray(RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(source)
    apply(source, tmp_path / "out.ppm", "-k", "identity", "-q")
    with Image.open(source) as expected, Image.open(tmp_path / "out.ppm") as written:
        np.testing.assert_array_equal(np.asarray(written), np.asarray(expected))


def test_a_10_bit_pgm_is_scaled_to_16_bits(tmp_path):
    pixels = RNG.integers(0, 1024, (5, 6), dtype=np.uint16)
    source = tmp_path / "in.pgm"
    source.write_bytes(pnm(pixels, maxval=1023))
    apply(source, tmp_path / "out.pgm", "-k", "identity", "-q")
    expected = np.rint(pixels * (65535 / 1023))
    np.testing.assert_array_equal(read_pnm((tmp_path / "out.pgm").read_bytes()), expected)


def test_a_pgm_output_says_what_made_it_so_a_second_run_replaces_it(tmp_path):
    source = tmp_path / "in.pgm"
    source.write_bytes(pnm(RNG.integers(0, 256, (5, 6), dtype=np.uint8)))
    for _ in range(2):
        assert run("apply", str(source), "-k", "box", "-q").exit_code == 0
    assert b"# Software: convcli " in (tmp_path / "in_box.pgm").read_bytes()


# PFM


@pytest.mark.parametrize("little", [True, False])
def test_pfm_keeps_values_above_1_under_range_raw_the_right_way_up(tmp_path, little):
    values = (RNG.random((6, 5, 3)) * 4 - 1).astype(np.float32)
    source = tmp_path / "in.pfm"
    source.write_bytes(pfm(values, little))
    apply(source, tmp_path / "same.pfm", "-k", "identity", "--range", "raw", "-q")
    np.testing.assert_array_equal(read_pfm((tmp_path / "same.pfm").read_bytes()), values)
    apply(source, tmp_path / "box.pfm", "-k", "box", "--range", "raw", "-q")
    written = read_pfm((tmp_path / "box.pfm").read_bytes())
    np.testing.assert_allclose(written, box(values), rtol=1e-5, atol=1e-6)


# TGA


@pytest.mark.parametrize("orientation", [1, -1])  # Pillow: 1 top-left origin, -1 bottom-left
def test_tga_of_either_origin_is_read_the_right_way_up_with_alpha(tmp_path, orientation):
    pixels = RNG.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    source = tmp_path / "in.tga"
    Image.fromarray(pixels).save(source, orientation=orientation)
    apply(source, tmp_path / "out.tga", "-k", "identity", "-q")
    with Image.open(tmp_path / "out.tga") as written:
        np.testing.assert_array_equal(np.asarray(written.convert("RGBA")), pixels)
    apply(source, tmp_path / "box.png", "-k", "box", "-q")
    with Image.open(tmp_path / "box.png") as written:
        filtered = np.asarray(written)
    np.testing.assert_array_equal(filtered[..., :3], np.rint(box(pixels[..., :3])))
    np.testing.assert_array_equal(filtered[..., 3], pixels[..., 3])


# ICO


def test_ico_gives_its_largest_entry_as_png_with_a_note(tmp_path):
    pixels = RNG.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    source = tmp_path / "icon.ico"
    Image.fromarray(pixels).save(source, sizes=[(16, 16), (32, 32)])
    result = run("apply", str(source), "-k", "identity")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "convcli: note: convcli does not write every format it reads: it writes ICO as PNG "
        "(--format chooses)\n"
    )
    with Image.open(source) as expected, Image.open(tmp_path / "icon_identity.png") as written:
        assert written.size == (32, 32)
        np.testing.assert_array_equal(np.asarray(written), np.asarray(expected.convert("RGBA")))


# PSD


@pytest.mark.parametrize("rle", [False, True])
def test_a_16_bit_psd_composite_becomes_a_16_bit_png(tmp_path, rle):
    planes = RNG.integers(0, 65536, (3, 6, 7), dtype=np.uint16)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # littleCMS's
    source = tmp_path / "in.psd"
    source.write_bytes(psd(planes, rle=rle, resources=psd_resource(1039, icc)))
    result = run("apply", str(source), "-k", "identity")
    assert result.exit_code == 0, result.stderr
    assert "it writes PSD as PNG" in result.stderr
    written = (tmp_path / "in_identity.png").read_bytes()
    np.testing.assert_array_equal(imagecodecs.png_decode(written), np.moveaxis(planes, 0, -1))
    with Image.open(io.BytesIO(written)) as image:
        assert image.info["icc_profile"] == icc


def test_an_8_bit_psd_with_an_alpha_channel_keeps_it(tmp_path):
    planes = RNG.integers(0, 256, (4, 6, 7), dtype=np.uint8)
    source = tmp_path / "in.psd"
    source.write_bytes(psd(planes, rle=True))
    apply(source, tmp_path / "out.png", "-k", "box", "-q")
    with Image.open(tmp_path / "out.png") as image:
        written = np.asarray(image)
    rgb = np.moveaxis(planes[:3], 0, -1)
    np.testing.assert_array_equal(written[..., :3], np.rint(box(rgb)))
    np.testing.assert_array_equal(written[..., 3], planes[3])


def test_a_grey_psd_is_grey(tmp_path):
    planes = RNG.integers(0, 256, (1, 5, 4), dtype=np.uint8)
    source = tmp_path / "in.psd"
    source.write_bytes(psd(planes, mode=1))
    apply(source, tmp_path / "out.png", "-k", "identity", "-q")
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), planes[0])


def test_psd_is_not_an_output_format(tmp_path):
    source = tmp_path / "in.pgm"
    source.write_bytes(pnm(np.zeros((3, 3), np.uint8)))
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.psd"))
    assert result.exit_code == 2
    assert "reads psd files but does not write them; write .png" in result.stderr
    assert not (tmp_path / "out.psd").exists()


# FITS


def test_unsigned_16_bit_fits_stays_16_bits_in_tiff_the_right_way_up(tmp_path):
    pixels = RNG.integers(0, 65536, (6, 8), dtype=np.uint16)
    source = tmp_path / "in.fits"
    source.write_bytes(fits(pixels.astype(np.int32) - 32768, 16, bzero=32768))
    result = run("apply", str(source), "-k", "identity")
    assert result.exit_code == 0, result.stderr
    assert "it writes FITS as TIFF" in result.stderr
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "in_identity.tif"), pixels)


@pytest.mark.parametrize(("bitpix", "bscale"), [(-32, 1.0), (-64, 1.0), (16, 0.5), (32, 1.0)])
def test_float_and_scaled_fits_are_physical_values_as_float(tmp_path, bitpix, bscale):
    stored = RNG.integers(-3000, 3000, (5, 7)).astype(np.float64)
    if bitpix < 0:
        stored = stored / 7
    source = tmp_path / "in.fit"
    source.write_bytes(fits(stored, bitpix, bzero=10 if bitpix > 0 else 0, bscale=bscale))
    physical = (stored * bscale + (10 if bitpix > 0 else 0)).astype(np.float32)
    apply(source, tmp_path / "same.tif", "-k", "identity", "--range", "raw", "-q")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "same.tif"), physical)
    apply(source, tmp_path / "box.tif", "-k", "box", "--range", "raw", "-q")
    np.testing.assert_allclose(tifffile.imread(tmp_path / "box.tif"), box(physical), rtol=1e-5)


def test_three_plane_fits_is_colour(tmp_path):
    planes = RNG.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    source = tmp_path / "in.fits"
    source.write_bytes(fits(planes, 8))
    apply(source, tmp_path / "out.png", "-k", "identity", "-q")
    with Image.open(tmp_path / "out.png") as image:
        np.testing.assert_array_equal(np.asarray(image), np.moveaxis(planes, 0, -1))


def test_a_fits_of_other_plane_counts_is_refused_not_cut_to_one_plane(tmp_path):
    source = tmp_path / "cube.fits"
    source.write_bytes(fits(np.zeros((2, 4, 5), np.uint8), 8))
    result = run("apply", str(source), "-k", "identity", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "2 planes: convcli reads one (grey) or three (colour)" in result.stderr
    assert not (tmp_path / "out.tif").exists()


# Hostile inputs: one line, exit 1, nothing written


def _hostile() -> list[tuple[str, bytes, str]]:
    grey = np.zeros((40, 50), np.uint8)
    return [
        ("cut.pgm", pnm(grey)[:-10], "truncated"),
        ("cut.pfm", pfm(grey.astype(np.float32))[:-1], "truncated"),
        ("cut.fits", fits(grey, 8)[:2880 + 100], "truncated"),
        ("cut.psd", psd(grey[None], mode=1)[:-5], "truncated"),
        ("cut-rle.psd", psd(grey[None], mode=1, rle=True)[:-5], "truncated"),
        ("huge.pgm", b"P5\n1000000 1000000\n255\n" + bytes(10), "over the limit"),
        ("huge.fits", fits(grey, 8).replace(b"NAXIS1  =                   50",
                                            b"NAXIS1  =            100000000"), "over the limit"),
        ("huge.psd", psd(grey[None], mode=1)[:14] + b"\x00\x0f\x42\x40" * 2
         + psd(grey[None], mode=1)[22:], "over the limit"),
        ("digits.pgm", b"P5\n" + b"9" * 5000 + b" 1\n255\n\x00", "not a size"),
        ("endless.fits", b"SIMPLE  =                    T".ljust(2880 * 400, b" "), "longer than"),
        ("lab.psd", psd(np.zeros((3, 2, 2), np.uint8), mode=9), "Lab mode"),
        # Found by fuzzing: a literal run that reaches past the compressed data's end.
        ("run.psd", psd(grey[None, :1, :6], mode=1, rle=True)[:-4] + b"\x00\x02\x05\x01",
         "corrupt"),
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "reason"), _hostile(), ids=lambda v: str(v)[:12])
def test_a_hostile_file_is_one_line_and_exit_1(tmp_path, name, content, reason):
    source = tmp_path / name
    source.write_bytes(content)
    result = run("apply", str(source), "-k", "box", "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("convcli: ") for line in lines)  # a note that PSD becomes PNG
    errors = [line for line in lines if line.startswith("convcli: error: ")]
    assert len(errors) == 1
    assert reason in errors[0]
    assert not any((tmp_path / "out").iterdir())


# The extras: HEIC, EXR, camera raw


def heic_frames(source) -> list[np.ndarray]:
    """Every top-level image, as libheif decodes it (10 bits shifted up to 16)."""
    pillow_heif = pytest.importorskip("pillow_heif")
    return [np.asarray(image) for image in pillow_heif.open_heif(source, convert_hdr_to_8bit=False)]


def encoded_alone(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as a HEIC of pillow-heif's own at convcli's default quality (95) gives them back.

    HEIC is lossy (x265 moves noise by up to ~200 of 255), so no tolerance
    would tell frames apart; each top-level image is encoded on its own, so
    a frame of convcli's output must decode to exactly this.
    """
    return heic_frames(io.BytesIO(heic(pixels, quality=95)))[0]


def test_10_bit_heic_is_read_as_libheif_gives_it_and_written_back_as_10_bit_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pixels = (RNG.integers(0, 1024, (8, 10, 3)) << 6).astype("<u2")
    exif = Image.Exif()
    exif[0x010F] = "convcli test camera"
    source = tmp_path / "in.heic"
    source.write_bytes(heic(pixels, exif=exif.tobytes()))
    reference = np.asarray(pillow_heif.open_heif(source, convert_hdr_to_8bit=False))
    apply(source, tmp_path / "same.png", "-k", "identity", "-q")
    written = (tmp_path / "same.png").read_bytes()
    np.testing.assert_array_equal(imagecodecs.png_decode(written), reference)
    with Image.open(io.BytesIO(written)) as image:
        assert image.getexif()[0x010F] == "convcli test camera"
    apply(source, tmp_path / "box.png", "-k", "box", "-q")
    filtered = imagecodecs.png_decode((tmp_path / "box.png").read_bytes())
    np.testing.assert_array_equal(filtered, np.rint(box(reference)))
    assert run("apply", str(source), "-k", "identity", "-q").exit_code == 0
    again = pillow_heif.open_heif(tmp_path / "in_identity.heic", convert_hdr_to_8bit=False)
    assert again.info["bit_depth"] == 10
    assert again.mode == "RGB;16"


def test_8_bit_heic_keeps_its_alpha(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    source = tmp_path / "in.heif"
    source.write_bytes(heic(RNG.integers(0, 256, (6, 8, 4), dtype=np.uint8)))
    reference = np.asarray(pillow_heif.open_heif(source))
    apply(source, tmp_path / "out.png", "-k", "identity", "-q")
    with Image.open(tmp_path / "out.png") as image:
        np.testing.assert_array_equal(np.asarray(image), reference)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_page_of_a_tiff_stack_is_a_heic_image_in_order_metadata_on_the_first(tmp_path, dtype):
    pillow_heif = pytest.importorskip("pillow_heif")
    top = np.iinfo(dtype).max + 1
    pages = RNG.integers(0, top, (3, 16, 24, 3)).astype(dtype)
    tifffile.imwrite(tmp_path / "in.tif", pages, photometric="rgb")
    apply(tmp_path / "in.tif", tmp_path / "out.heic", "-k", "identity", "-q")
    written = heic_frames(tmp_path / "out.heic")
    assert len(written) == 3
    for page, frame in zip(pages, written, strict=True):
        np.testing.assert_array_equal(frame, encoded_alone(page))
    heif = pillow_heif.open_heif(tmp_path / "out.heic", convert_hdr_to_8bit=False)
    assert [image.info["bit_depth"] for image in heif] == [8 if dtype == np.uint8 else 10] * 3
    exif = Image.Exif()
    exif.load(heif[0].info["exif"])
    assert exif[0x0131].startswith("convcli")  # Software, on the primary image alone
    assert [bool(image.info.get("exif")) for image in heif] == [True, False, False]


def test_every_frame_of_an_animated_gif_is_a_heic_image_in_order(tmp_path):
    pytest.importorskip("pillow_heif")
    colours = [(250, 20, 20), (20, 250, 20), (20, 20, 250), (240, 240, 30)]
    frames = [Image.new("RGB", (24, 16), colour) for colour in colours]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:],
                   duration=[40, 80, 120, 160], loop=0)  # fmt: skip
    apply(tmp_path / "in.gif", tmp_path / "out.heic", "-k", "identity", "-q")
    written = heic_frames(tmp_path / "out.heic")
    with Image.open(tmp_path / "in.gif") as gif:
        expected = []
        for index in range(gif.n_frames):
            gif.seek(index)
            expected.append(encoded_alone(np.asarray(gif.convert("RGB"))))
    assert len(written) == len(expected) == 4
    for frame, reference in zip(written, expected, strict=True):
        np.testing.assert_array_equal(frame, reference)


def test_a_heic_of_several_images_keeps_them_all_through_heic(tmp_path):
    pytest.importorskip("pillow_heif")
    source = tmp_path / "in.heic"
    source.write_bytes(heic(*RNG.integers(0, 256, (3, 8, 12, 3), dtype=np.uint8)))
    apply(source, tmp_path / "out.heic", "-k", "identity", "-q")
    written = heic_frames(tmp_path / "out.heic")
    assert len(written) == 3
    for frame, read in zip(written, heic_frames(source), strict=True):
        np.testing.assert_array_equal(frame, encoded_alone(read))


def test_half_exr_keeps_values_above_1_under_range_raw(tmp_path):
    openexr = pytest.importorskip("OpenEXR")
    values = (RNG.random((6, 7, 3)) * 5).astype(np.float16)
    source = tmp_path / "in.exr"
    source.write_bytes(exr({name: values[..., i] for i, name in enumerate("RGB")}))
    apply(source, tmp_path / "same.exr", "-k", "identity", "--range", "raw", "-q")
    written = openexr.File(str(tmp_path / "same.exr")).channels()["RGB"].pixels
    np.testing.assert_array_equal(written, values.astype(np.float32))
    apply(source, tmp_path / "box.tif", "-k", "box", "--range", "raw", "-q")
    np.testing.assert_allclose(tifffile.imread(tmp_path / "box.tif"), box(values), rtol=1e-5)


def test_exr_alpha_is_unpremultiplied_when_read_and_premultiplied_when_written(tmp_path):
    openexr = pytest.importorskip("OpenEXR")
    colour = RNG.random((5, 6, 3)).astype(np.float32)
    alpha = np.full((5, 6), 0.5, np.float32)
    stored = {name: colour[..., i] * alpha for i, name in enumerate("RGB")} | {"A": alpha}
    source = tmp_path / "in.exr"
    source.write_bytes(exr(stored))
    apply(source, tmp_path / "out.tif", "-k", "identity", "--range", "raw", "-q")
    written = tifffile.imread(tmp_path / "out.tif")
    np.testing.assert_allclose(written[..., :3], colour, rtol=1e-6)  # straight colour
    np.testing.assert_array_equal(written[..., 3], alpha)
    apply(source, tmp_path / "out.exr", "-k", "identity", "--range", "raw", "-q")
    again = openexr.File(str(tmp_path / "out.exr"), separate_channels=True).channels()
    for name in "RGBA":
        np.testing.assert_allclose(again[name].pixels, stored[name], rtol=1e-6)


def test_a_dng_is_demosaiced_by_libraw_to_16_bit_rgb_tiff(tmp_path):
    rawpy = pytest.importorskip("rawpy")
    source = tmp_path / "in.dng"
    source.write_bytes(dng(RNG.integers(200, 4000, (32, 48), dtype=np.uint16)))
    result = run("apply", str(source), "-k", "identity")
    assert result.exit_code == 0, result.stderr
    assert "it writes DNG as TIFF" in result.stderr
    with rawpy.imread(str(source)) as raw:
        expected = raw.postprocess(output_bps=16, use_camera_wb=True)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "in_identity.tif"), expected)


@pytest.mark.parametrize(
    ("module", "extra", "name", "content"),
    [
        ("pillow_heif", "heic", "in.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
        ("OpenEXR", "exr", "in.exr", b"v/1\x01" + bytes(60)),
        ("rawpy", "raw", "in.dng", dng(np.zeros((8, 8), np.uint16))),
        ("rawpy", "raw", "in.tif", dng(np.zeros((8, 8), np.uint16))),  # a DNG by its tags
    ],
)
def test_a_missing_extra_fails_that_input_alone_naming_it(
    tmp_path, monkeypatch, module, extra, name, content
):
    source, other = tmp_path / name, tmp_path / "other.pgm"
    source.write_bytes(content)
    other.write_bytes(pnm(np.zeros((4, 4), np.uint8)))
    monkeypatch.setitem(sys.modules, module, None)  # its import fails, as when not installed
    result = run("apply", str(source), str(other), "-k", "box", "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("convcli: error")]
    assert lines == [
        f"convcli: error: {source}: reading it needs {module}, which comes with the {extra} "
        f'extra: pip install "convcli[{extra}]"'
    ]
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["other_box.pgm"]


def test_an_uncompressed_16_bit_dng_is_never_filtered_as_a_grey_tiff(tmp_path, monkeypatch):
    source = tmp_path / "photo.tif"
    source.write_bytes(dng(RNG.integers(0, 4096, (16, 16), dtype=np.uint16)))
    monkeypatch.setitem(sys.modules, "rawpy", None)
    result = run("apply", str(source), "-k", "box", "--format", "png")
    assert result.exit_code == 1
    assert 'pip install "convcli[raw]"' in result.stderr
    assert not list(tmp_path.glob("*.png"))


def test_a_psd_from_standard_input_goes_out_as_png(tmp_path):
    planes = RNG.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    result = run("apply", "-", "-k", "identity", "-q", stdin=psd(planes))
    assert result.exit_code == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert image.format == "PNG"
        np.testing.assert_array_equal(np.asarray(image), np.moveaxis(planes, 0, -1))
