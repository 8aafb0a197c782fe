"""Reading and writing every mode and format, and the output range mapping."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from convcli.choices import FileFormat
from convcli.errors import InputError, UsageError
from convcli.io.atomic import write_atomically
from convcli.io.colour import as_rgb
from convcli.io.formats import output_format
from convcli.io.reading import probe_image, read_image
from convcli.io.writing import write_image
from convcli.ranges import map_range
from helpers import count_direct_decodes, encode, run

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, size=(6, 7), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "BMP", "WEBP"])
def test_lossless_formats_read_back_exactly(fmt):
    options = {"lossless": True} if fmt == "WEBP" else {}
    picture = read_image(encode(Image.fromarray(RGB), fmt, **options), "x")
    np.testing.assert_array_equal(picture.pixels, RGB)
    assert picture.alpha is None
    assert picture.white == 255


def test_jpeg_reads_as_rgb():
    picture = read_image(encode(Image.fromarray(RGB), "JPEG"), "x")
    assert picture.pixels.shape == (6, 7, 3)
    assert picture.format == "jpg"


def test_grey_grey_alpha_and_rgba_keep_alpha_apart():
    grey = RGB[..., 0]
    assert read_image(encode(Image.fromarray(grey), "PNG")).pixels.shape == (6, 7)
    la = read_image(encode(Image.fromarray(np.dstack([grey, ALPHA]), "LA"), "PNG"))
    np.testing.assert_array_equal(la.pixels, grey)
    np.testing.assert_array_equal(la.alpha, ALPHA)
    rgba = read_image(encode(Image.fromarray(np.dstack([RGB, ALPHA])), "PNG"))
    np.testing.assert_array_equal(rgba.pixels, RGB)
    np.testing.assert_array_equal(rgba.alpha, ALPHA)


def test_palette_images_are_expanded_never_filtered_as_indices():
    palette = Image.fromarray(RGB).quantize(colors=8)
    picture = read_image(encode(palette, "PNG"))
    np.testing.assert_array_equal(picture.pixels, np.asarray(palette.convert("RGB")))
    palette.info["transparency"] = 0
    transparent = read_image(encode(palette, "PNG", transparency=0))
    assert transparent.alpha is not None
    np.testing.assert_array_equal(transparent.alpha == 0, np.asarray(palette) == 0)


def test_cmyk_is_read_as_four_inks_and_made_rgb_on_request():
    cmyk = Image.fromarray(RGB).convert("CMYK")
    picture = read_image(encode(cmyk, "JPEG"))
    assert picture.pixels.shape == (6, 7, 4)
    rgb, note = as_rgb(picture)
    assert rgb.pixels.shape == (6, 7, 3)
    assert note == "CMYK made RGB without a colour profile (Pillow's formula)"


def test_sixteen_bit_grey_stays_sixteen_bit():
    deep = (RNG.integers(0, 65536, size=(5, 4))).astype(np.uint16)
    picture = read_image(encode(Image.fromarray(deep), "PNG"))
    assert picture.pixels.dtype == np.uint16
    assert picture.white == 65535
    np.testing.assert_array_equal(picture.pixels, deep)


def test_float_tiff_reads_as_float_with_white_one():
    values = RNG.random((4, 5)).astype(np.float32)
    picture = read_image(encode(Image.fromarray(values), "TIFF"))
    np.testing.assert_array_equal(picture.pixels, values)
    assert picture.white == 1.0


def test_bilevel_reads_as_grey():
    picture = read_image(encode(Image.fromarray(RGB[..., 0] > 127), "PNG"))
    assert set(np.unique(picture.pixels)) <= {0, 255}


def test_a_gif_reads_one_frame_and_counts_them_all():
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)).convert("P") for v in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    first = read_image(buffer.getvalue(), "anim.gif")
    assert first.frames == 2
    assert first.note is None
    assert (first.pixels == first.pixels[0, 0]).all()
    assert first.pixels[0, 0, 0] == 10
    assert read_image(buffer.getvalue(), "anim.gif", frame=1).pixels[0, 0, 0] == 200


def test_exif_orientation_is_applied():
    image = Image.fromarray(RGB)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    picture = read_image(encode(image, "JPEG", exif=exif, quality=100))
    assert picture.pixels.shape == (7, 6, 3)


@pytest.mark.parametrize("shape", [(9,), (4, 5), (3, 4, 5)])
def test_npy_arrays_pass_through(shape, tmp_path):
    array = RNG.random(shape)
    path = tmp_path / "a.npy"
    np.save(path, array)
    picture = read_image(path)
    np.testing.assert_array_equal(picture.pixels, array)
    assert not picture.header.is_image
    assert picture.white == 1.0


def test_npy_with_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"objects.npy: a .npy input must be .* of object$"):
        read_image(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            r"^empty.png: an empty file \(convcli reads PNG, JPEG, TIFF, BMP, GIF, WebP, AVIF, "
            r"JPEG XL, JPEG 2000, QOI, PGM, PPM, PFM, TGA, ICO, PSD, FITS, HEIC, EXR, camera raw "
            r"and .npy\)$",
        ),
        (b"hello, I am text", r"^empty.png: not an image convcli can read \(convcli reads PNG, "),
        (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
            r"^empty.png: not an image convcli can read",
        ),
        (b"8BPS\x00\x02" + bytes(20), r"^empty.png: not an image convcli can read"),  # PSB
        (encode(Image.fromarray(RGB), "PNG")[:60], r"^empty.png: cannot read image: "),
    ],
)
def test_bad_inputs_name_themselves(content, message, tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_image(path, "empty.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"nope.png: no such file$"):
        read_image(tmp_path / "nope.png", "nope.png")
    with pytest.raises(InputError, match=r"is a folder, not an image$"):
        read_image(tmp_path, "here")


# --- writing -----------------------------------------------------------------------------


def test_output_formats_from_names_and_suffixes():
    assert output_format(".PNG").name == "png"
    assert output_format("jpeg").name == output_format(".jpg").name == "jpg"
    assert output_format("tiff").name == "tif"
    with pytest.raises(
        UsageError, match=r"^unknown output format '.xyz'; convcli writes avif, bmp, "
    ):
        output_format(".xyz")


@pytest.mark.parametrize("fmt", ["png", "tif", "webp"])
def test_alpha_is_written_where_the_format_holds_it(fmt):
    buffer = io.BytesIO()
    write_image(buffer, RGB, ALPHA, output_format(fmt))
    image = Image.open(io.BytesIO(buffer.getvalue()))
    assert image.mode == "RGBA"
    if fmt != "webp":
        np.testing.assert_array_equal(np.asarray(image)[..., 3], ALPHA)


@pytest.mark.parametrize("fmt", ["jpg", "bmp", "gif"])
def test_alpha_is_flattened_onto_white_where_the_format_has_none(fmt):
    pixels = np.zeros((4, 4), np.uint8)
    alpha = np.array([[0, 255, 0, 255]] * 4, np.uint8)
    buffer = io.BytesIO()
    write_image(buffer, pixels, alpha, output_format(fmt))
    flat = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L")).astype(int)
    # Transparent black over white is white; opaque black stays black.
    assert (flat[:, 0] > 240).all()
    assert (flat[:, 1] < 15).all()


def test_sixteen_bit_and_float_outputs():
    deep = np.array([[0, 1000, 65535]], dtype=np.uint16)
    buffer = io.BytesIO()
    write_image(buffer, deep, None, output_format("png"))
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))), deep)
    values = np.array([[-1.5, 0.25, 300.0]], dtype=np.float32)
    buffer = io.BytesIO()
    write_image(buffer, values, None, output_format("tif"))
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))), values)


def test_atomic_write_leaves_the_old_file_and_no_temporary_on_failure(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def fail(stream):
        stream.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomically(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


# --- range mapping ----------------------------------------------------------------------


def test_clip_abs_offset_and_rounding_to_nearest():
    r = np.array([-10.0, 0.4, 0.5, 1.5, 254.6, 255.0, 400.0])
    np.testing.assert_array_equal(
        map_range(r, "clip", white=255, depth="uint8").values, [0, 0, 0, 2, 255, 255, 255]
    )  # 0.5 and 1.5 round half to even, as numpy.rint
    np.testing.assert_array_equal(
        map_range(r, "abs", white=255, depth="uint8").values, [10, 0, 0, 2, 255, 255, 255]
    )
    offset = map_range(np.array([-127.5, 0.0, 127.5]), "offset", white=255, depth="uint8")
    np.testing.assert_array_equal(offset.values, [0, 128, 255])


def test_rescale_spans_the_full_range_of_the_output():
    r = np.array([[-3.0, 1.0], [5.0, 1.0]])
    assert map_range(r, "rescale", white=255, depth="uint8").values.tolist() == [
        [0, 128],
        [255, 128],
    ]
    deep = map_range(r, "rescale", white=65535, depth="uint16").values
    assert deep.dtype == np.uint16
    assert deep.max() == 65535
    flat = map_range(np.full((2, 2), 7.0), "rescale", white=255, depth="uint8")
    assert (flat.values == 0).all()


def test_clipped_fraction_counts_what_was_lost():
    r = np.array([-1.0, 10.0, 20.0, 300.0])
    assert map_range(r, "clip", white=255, depth="uint8").clipped == 0.5
    assert map_range(r, "abs", white=255, depth="uint8").clipped == 0.25
    assert map_range(r, "rescale", white=255, depth="uint8").clipped == 0.0


def test_float_outputs_keep_the_input_units_and_raw_keeps_everything():
    r = np.array([-1.0, 100.0, 300.0])
    assert map_range(r, "clip", white=255, depth="float32").values.tolist() == [0, 100, 255]
    assert map_range(r, "raw", white=255, depth="float32").values.tolist() == [-1, 100, 300]


def test_the_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an image over the limit")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    for reader in (read_image, probe_image):
        with pytest.raises(
            InputError,
            # the library names its parameter; the command line says --max-pixels
            match=r"40x30 \(width x height\) is 1200 pixels, over the limit of 1199 "
            r"\(raise it with max_pixels\)$",
        ):
            reader(path, "big.png", max_pixels=1199)


def test_the_pixel_limit_also_bounds_npy_arrays(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((10, 10, 4)))
    assert read_image(tmp_path / "a.npy", max_pixels=100).pixels.shape == (10, 10, 4)
    with pytest.raises(InputError, match=r"400 values is over the limit of 396"):
        read_image(tmp_path / "a.npy", max_pixels=99)


def _saved(tmp_path, image, fmt, **options):
    path = tmp_path / f"x.{fmt.lower()}"
    image.save(path, format=fmt, **options)
    return path


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: Image.fromarray(RGB[..., 0]), "PNG"),
        (lambda: Image.fromarray(RGB), "JPEG"),
        (lambda: Image.fromarray(np.dstack([RGB, ALPHA])), "PNG"),
        (lambda: Image.fromarray(np.dstack([RGB[..., 0], ALPHA]), "LA"), "PNG"),
        (lambda: Image.fromarray(RGB).quantize(8), "GIF"),
        (lambda: Image.fromarray(RGB).convert("CMYK"), "TIFF"),
        (lambda: Image.fromarray(RGB[..., 0].astype(np.uint16) * 200), "PNG"),
        (lambda: Image.fromarray(RGB[..., 0].astype(np.float32)), "TIFF"),
        (lambda: Image.fromarray(RGB[..., 0] > 100), "BMP"),
        (lambda: Image.fromarray(RGB), "WEBP"),
    ],
)
def test_probe_agrees_with_read_for_every_mode(tmp_path, make, fmt):
    path = _saved(tmp_path, make(), fmt)
    assert probe_image(path) == read_image(path).header


def test_probe_sees_exif_rotation(tmp_path):
    image = Image.fromarray(RGB)
    exif = image.getexif()
    exif[0x0112] = 8
    path = _saved(tmp_path, image, "JPEG", exif=exif)
    assert probe_image(path).shape == read_image(path).pixels.shape == (7, 6, 3)


def test_rounding_noise_at_the_ends_of_the_range_is_not_clipping():
    r = np.array([-0.4, 0.0, 255.00002, 255.4, 255.6, -0.6])
    mapped = map_range(r, "clip", white=255, depth="uint8")
    assert mapped.values.tolist() == [0, 0, 255, 255, 255, 0]
    assert mapped.clipped == pytest.approx(2 / 6)  # only 255.6 and -0.6 changed


def test_max_pixels_lets_pillow_decode_a_tiled_tiff_past_its_own_limit(tmp_path, monkeypatch):
    # Found by benchmarks/huge.py: a gigapixel tiled TIFF with --max-pixels 2000000000 was
    # refused by Pillow's own bomb check, made again while decoding its tiles.
    import tifffile

    pixels = (np.arange(300 * 320) % 251).astype(np.uint8).reshape(300, 320)
    tifffile.imwrite(tmp_path / "tiled.tif", pixels, tile=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # Pillow's limit, far below the image
    picture = read_image(tmp_path / "tiled.tif", max_pixels=100_000)
    assert np.array_equal(picture.pixels, pixels)
    with pytest.raises(InputError, match="over the limit of 90000"):
        read_image(tmp_path / "tiled.tif", max_pixels=90_000)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "I", "F", "CMYK"])
def test_pixels_leave_pillow_a_band_at_a_time_unchanged(mode, monkeypatch):
    from convcli.io import pillow

    monkeypatch.setattr(pillow, "BAND_PIXELS", 700)  # bands of 7 rows of 100, the last of 2
    size = (100, 23)
    data = np.random.default_rng(1).integers(0, 250, size=(23, 100, 4), dtype=np.uint8)
    image = Image.fromarray(data, "RGBA").convert(mode)
    np.testing.assert_array_equal(pillow._array(image), np.asarray(image))
    assert image.size == size


def test_luminance_is_worked_out_in_bands_as_it_would_be_whole(monkeypatch):
    from convcli.io import colour
    from convcli.io.picture import Picture

    rgb = np.random.default_rng(7).integers(0, 256, (61, 37, 3), dtype=np.uint8)
    picture = Picture(rgb, None, 255.0, FileFormat.PNG)
    whole = colour.luminance(picture, np.float64)  # one band: 61 x 37 is under 2**20 pixels
    monkeypatch.setattr(colour, "BAND_PIXELS", 5 * 37)  # bands of 5 rows, the last of 1
    banded = colour.luminance(picture, np.float64)
    np.testing.assert_array_equal(banded, whole)
    # ITU-R 601, written out here (convcli keeps the weights in float32: 1e-7 of them)
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(banded, expected, rtol=1e-7)
    assert banded.dtype == np.float64


def test_an_array_over_the_limit_names_the_parameters_and_the_command_line_the_options(tmp_path):
    import convcli
    from convcli.cli.text import option

    np.save(tmp_path / "w.npy", np.zeros((30, 30), np.float32))
    with pytest.raises(convcli.InputError) as refused:
        convcli.read(tmp_path / "w.npy", max_pixels=100)
    said = f"{tmp_path / 'w.npy'}: 900 values is over the limit of 400 (4 x {{}}; {{}} N filters "
    assert str(refused.value) == said.format("max_pixels", "tile") + "a .npy of any size in tiles)"
    assert refused.value.worded(option) == (
        said.format("--max-pixels", "--tile") + "a .npy of any size in tiles)"
    )


# Large JPEGs: imagecodecs decodes the pixels (libjpeg-turbo, as Pillow's), Pillow the rest.
ASTRONAUT = Path(__file__).resolve().parents[1] / "sample_images" / "astronaut.png"


@pytest.fixture
def jpeg_decodes(monkeypatch):
    """Count the JPEGs whose pixels imagecodecs decoded."""
    return count_direct_decodes(monkeypatch, "decode_jpeg")


def large_photo(mode: str) -> Image.Image:
    with Image.open(ASTRONAUT) as image:
        return image.convert("RGB").resize((1300, 900)).convert(mode)  # over DIRECT_PIXELS


@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {}), ("RGB", {"progressive": True}), ("RGB", {"subsampling": 0}), ("L", {})],
    ids=["rgb", "progressive", "4:4:4", "grey"],
)
def test_a_large_jpeg_has_pillows_pixels_and_keeps_its_metadata(mode, options, jpeg_decodes):
    exif = Image.Exif()
    exif[0x0112], exif[0x0131] = 6, "a camera"  # turned a quarter; Software
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(large_photo(mode), "JPEG", exif=exif, icc_profile=profile, dpi=(300, 300),
                  **options)  # fmt: skip
    picture = read_image(data, "photo.jpg")
    assert jpeg_decodes == [len(data)]
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(picture.pixels, expected)
    assert picture.metadata.icc == profile
    assert picture.metadata.dpi == pytest.approx((300, 300))
    assert picture.metadata.software == "a camera"
    kept = Image.Exif()
    kept.load(picture.metadata.exif)
    assert kept.get(0x0112, 1) == 1  # applied, so no longer asked for


def test_a_large_cmyk_jpeg_stays_with_pillow_as_inks(jpeg_decodes):
    data = encode(large_photo("CMYK"), "JPEG")
    picture = read_image(data, "inks.jpg")
    assert jpeg_decodes == []
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(picture.pixels, np.asarray(image))


def test_a_large_jpeg_cut_short_is_refused_as_before(tmp_path, jpeg_decodes):
    # imagecodecs would fill the missing rows in grey: a file without its end is Pillow's.
    source = tmp_path / "cut.jpg"
    source.write_bytes(encode(large_photo("RGB"), "JPEG")[:-500])
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"convcli: error: {source}: cannot read image: ")
    assert "truncated" in result.stderr
    assert jpeg_decodes == []
    assert not (tmp_path / "out.png").exists()
