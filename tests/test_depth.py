"""Full depth, end to end: 16-bit and float samples are filtered and written at their depth.

Outputs are decoded by imagecodecs (libpng, libtiff), which shares no code
with convcli's PNG writer or with tifffile, which writes convcli's TIFFs.
"""

from __future__ import annotations

import io
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage

from convcli.io.reading import read_image
from helpers import SAMPLES, count_direct_decodes, run
from helpers.contract import png_chunks, png_from_chunks

RNG = np.random.default_rng(16)


def deep(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.integers(0, 65536, size=shape, dtype=np.uint16)


def png16(array: np.ndarray) -> bytes:
    return imagecodecs.png_encode(array)  # libpng, not convcli's writer


def identity(path: Path, out: Path, *options: str):
    result = run("apply", str(path), "-k", "identity", "-o", str(out), "-q", *options)
    assert result.exit_code == 0, result.stderr
    return result


SHAPES = {"grey": (9, 11), "grey+alpha": (9, 11, 2), "rgb": (9, 11, 3), "rgba": (9, 11, 4)}


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_16_bit_png_stays_16_bit_exactly(tmp_path, kind, suffix):
    pixels = deep(SHAPES[kind])
    source = tmp_path / "in.png"
    source.write_bytes(png16(pixels))
    out = tmp_path / f"out.{suffix}"
    identity(source, out)
    decode = imagecodecs.png_decode if suffix == "png" else imagecodecs.tiff_decode
    written = decode(out.read_bytes())
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written, pixels)


@pytest.mark.parametrize("kind", SHAPES)
def test_16_bit_tiff_stays_16_bit_exactly(tmp_path, kind):
    pixels = deep(SHAPES[kind])
    source = tmp_path / "in.tif"
    extra = {"extrasamples": ["unassalpha"]} if kind in ("grey+alpha", "rgba") else {}
    photometric = "rgb" if pixels.ndim == 3 and pixels.shape[2] >= 3 else "minisblack"
    tifffile.imwrite(source, pixels, photometric=photometric, compression="zlib", **extra)
    out = tmp_path / "out.png"
    identity(source, out)
    np.testing.assert_array_equal(imagecodecs.png_decode(out.read_bytes()), pixels)


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 3)])
def test_float_tiff_stays_float_exactly(tmp_path, shape):
    values = RNG.random(shape, dtype=np.float32)
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, values, photometric="rgb" if len(shape) == 3 else "minisblack")
    identity(source, out)
    written = imagecodecs.tiff_decode(out.read_bytes())
    assert written.dtype == np.float32
    np.testing.assert_array_equal(written, values)


def test_lzw_compressed_16_bit_tiff_is_read_at_full_depth(tmp_path):
    pixels = deep((9, 11, 3))
    source, out = tmp_path / "in.tif", tmp_path / "out.png"
    tifffile.imwrite(source, pixels, photometric="rgb", compression="lzw")
    identity(source, out)
    np.testing.assert_array_equal(imagecodecs.png_decode(out.read_bytes()), pixels)


def test_a_filter_on_16_bits_is_computed_on_16_bits(tmp_path):
    pixels = deep((9, 11, 3))
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    source.write_bytes(png16(pixels))
    result = run("apply", str(source), "-k", "box", "--pad-mode", "wrap", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    # The mean of each 3x3 wrapped neighbourhood, from the definition.
    expected = sum(np.roll(pixels.astype(float), (dr, dc), axis=(0, 1))
                   for dr in (-1, 0, 1) for dc in (-1, 0, 1)) / 9  # fmt: skip
    np.testing.assert_array_equal(imagecodecs.png_decode(out.read_bytes()), np.rint(expected))


def test_16_bits_into_jpeg_are_mapped_with_a_note(tmp_path):
    smooth = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((32, 32)))
    pixels = smooth.astype(np.uint16) * 257 + RNG.integers(0, 257, smooth.shape, dtype=np.uint16)
    source, out = tmp_path / "in.png", tmp_path / "out.jpg"
    source.write_bytes(png16(pixels))
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "--quality", "100")
    assert result.exit_code == 0
    assert "convcli: note: jpg holds 8 bits per sample: 16-bit inputs were mapped to 8" in (
        result.stderr
    )
    # Mapped to 8 bits by rounding, then JPEG's own error: the same as Pillow encoding that.
    reference = io.BytesIO()
    Image.fromarray(np.rint(pixels / 257).astype(np.uint8)).save(reference, "JPEG", quality=100)
    with Image.open(out) as written, Image.open(reference) as expected:
        np.testing.assert_array_equal(np.asarray(written), np.asarray(expected))


def test_a_16_bit_png_with_exif_orientation_is_turned_at_full_depth(tmp_path):
    pixels = deep((9, 11, 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    chunks = png_chunks(png16(pixels))
    data = png_from_chunks([chunks[0], (b"eXIf", exif.tobytes()[6:]), *chunks[1:]])
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    source.write_bytes(data)
    identity(source, out)
    np.testing.assert_array_equal(imagecodecs.png_decode(out.read_bytes()), np.rot90(pixels, -1))


def test_the_header_check_sees_16_bits_before_decoding(tmp_path):
    source = tmp_path / "in.png"
    source.write_bytes(png16(deep((9, 11, 3))))
    result = run("apply", str(source), "-k", "identity", "--dry-run", "--json",
                 "-o", str(tmp_path / "o.png"))  # fmt: skip
    assert result.exit_code == 0
    assert '"input_shape": [9, 11, 3]' in result.stdout


def test_pillow_reads_what_convcli_writes_as_16_bit_grey(tmp_path):
    pixels = deep((9, 11))
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    source.write_bytes(png16(pixels))
    identity(source, out)
    with Image.open(io.BytesIO(out.read_bytes())) as image:
        np.testing.assert_array_equal(np.asarray(image).astype(np.uint16), pixels)


@pytest.mark.parametrize("compression", ["zlib", "lzw", None])
def test_a_truncated_full_depth_file_is_one_clear_error(tmp_path, compression):
    pixels = deep((40, 50, 3))
    png = png16(pixels)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb", compression=compression)
    for name, data in (("cut.png", png[: len(png) // 2]), ("cut.tif", buffer.getvalue()[:-300])):
        path = tmp_path / name
        path.write_bytes(data)
        result = run("apply", str(path), "-k", "box", "-o", str(tmp_path / f"out-{name}"))
        assert result.exit_code == 1, name
        assert result.stderr.startswith(f"convcli: error: {path}: cannot read image: ")
        assert "internal error" not in result.stderr
        assert not (tmp_path / f"out-{name}").exists()


# Large plain PNGs: imagecodecs decodes them straight into the array.
LARGE = (1024, 1024)  # at DIRECT_PIXELS


def smooth_large(mode: str) -> Image.Image:
    """A large image of the astronaut in ``mode``: compresses fast, unlike noise."""
    with Image.open(SAMPLES / "astronaut.png") as image:
        return image.convert("RGBA").resize(LARGE).convert(mode)


@pytest.fixture
def direct_decodes(monkeypatch):
    """Count the PNGs decoded without Pillow."""
    return count_direct_decodes(monkeypatch, "decode_png")


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_a_large_plain_png_decoded_directly_has_pillows_pixels(tmp_path, mode, direct_decodes):
    source = tmp_path / "in.png"
    image = smooth_large("L" if mode == "I;16" else mode)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
    image.save(source)
    picture = read_image(source)
    assert direct_decodes == [source.stat().st_size]
    with Image.open(source) as reread:
        expected = np.asarray(reread)
    colour = expected[..., 0] if mode == "LA" else expected[..., :3] if mode == "RGBA" else expected
    np.testing.assert_array_equal(picture.pixels, colour)
    if mode in ("LA", "RGBA"):
        np.testing.assert_array_equal(picture.alpha, expected[..., -1])


def with_exif_chunk(data: bytes, orientation: int, after_pixels: bool) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    chunks = png_chunks(data)
    at = len(chunks) - 1 if after_pixels else 1
    return png_from_chunks([*chunks[:at], (b"eXIf", exif.tobytes()[6:]), *chunks[at:]])


@pytest.mark.parametrize("after_pixels", [False, True])
def test_exif_before_or_after_a_large_pngs_pixels_is_read(tmp_path, after_pixels, direct_decodes):
    buffer = io.BytesIO()
    smooth_large("RGB").save(buffer, "PNG")
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    source.write_bytes(with_exif_chunk(buffer.getvalue(), 6, after_pixels))
    identity(source, out)
    # Metadata after the pixels is Pillow's to read while decoding: it decodes those.
    assert len(direct_decodes) == (0 if after_pixels else 1)
    with Image.open(source) as image:
        turned = np.rot90(np.asarray(image.convert("RGB")), -1)
    with Image.open(out) as written:
        np.testing.assert_array_equal(np.asarray(written), turned)
        assert written.getexif().get(0x0112, 1) == 1  # applied, so no longer asked for


@pytest.mark.parametrize(
    ("mode", "info"),
    [("P", {}), ("RGB", {"transparency": (0, 0, 0)}), ("L", {"transparency": 0})],
    ids=["palette", "rgb-transparency", "grey-transparency"],
)
def test_pngs_libpng_would_read_otherwise_stay_with_pillow(tmp_path, mode, info, direct_decodes):
    source = tmp_path / "in.png"
    smooth_large(mode).save(source, **info)
    picture = read_image(source)
    assert direct_decodes == []
    assert picture.pixels.shape[:2] == LARGE


def test_a_large_png_padded_with_chunks_is_left_to_pillow(tmp_path, direct_decodes):
    """The direct decoder reads the file whole: one far larger than its pixels is streamed."""
    buffer = io.BytesIO()
    smooth_large("L").save(buffer, "PNG")
    chunks = png_chunks(buffer.getvalue())
    filler = (b"zzZz", bytes(9 << 20))  # an unknown ancillary chunk: skipped by any decoder
    source = tmp_path / "in.png"
    source.write_bytes(png_from_chunks([chunks[0], *[filler] * 3, *chunks[1:]]))
    picture = read_image(source)
    assert direct_decodes == []
    with Image.open(buffer) as image:
        np.testing.assert_array_equal(picture.pixels, np.asarray(image))


# TIFF samples Pillow would misread, and compressions that once needed the codecs extra.


@pytest.mark.parametrize(
    "values",
    [np.array([[-63, 5], [100, -128]], np.int8), np.array([[-30000, 7], [0, 32767]], np.int16),
     np.array([[3_000_000_000, 5], [1, 2]], np.uint32), np.array([[-2**31, 5], [1, 2**24]], np.int32)],
    ids=["int8", "int16", "uint32", "int32"],
)  # fmt: skip
def test_signed_and_32_bit_tiff_samples_keep_their_values(tmp_path, values):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, values)
    identity(source, out, "--range", "raw")
    written = tifffile.imread(out)
    assert written.dtype == np.float32
    np.testing.assert_array_equal(written, values.astype(np.float32))  # uint32: float32's rounding


@pytest.mark.parametrize(
    "options",
    [{"compression": "zstd"}, {"compression": "zlib", "predictor": 3},
     {"compression": "packbits"}, {"compression": "lzw", "predictor": 2}],
    ids=["zstd", "float-predictor", "packbits", "lzw-predictor"],
)  # fmt: skip
def test_compressed_tiff_decodes_at_full_depth(tmp_path, options):
    floating = options.get("predictor") == 3
    values = RNG.random((9, 11), dtype=np.float32) if floating else deep((9, 11, 3))
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, values, photometric="minisblack" if floating else "rgb", **options)
    identity(source, out)
    np.testing.assert_array_equal(imagecodecs.tiff_decode(out.read_bytes()), values)


def test_a_bigtiff_stack_is_read_whole_and_written_as_bigtiff(tmp_path):
    pages = deep((3, 9, 11, 3))
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, pages, photometric="rgb", bigtiff=True)
    identity(source, out)
    with tifffile.TiffFile(out) as written:
        assert written.is_bigtiff
        np.testing.assert_array_equal(written.asarray(), pages)


def mixed_stack(path: Path, shape: tuple[int, ...] = (9, 11), order: int = 1) -> list[np.ndarray]:
    """Write a TIFF stack of an 8-bit, a 16-bit and a float page (``order`` -1: reversed)."""
    pages = [RNG.integers(0, 256, shape, dtype=np.uint8), deep(shape),
             RNG.random(shape, dtype=np.float32)][::order]  # fmt: skip
    with tifffile.TiffWriter(path) as writer:
        for page in pages:
            writer.write(page, photometric="rgb" if len(shape) == 3 else "minisblack")
    return pages


def box3(page: np.ndarray) -> np.ndarray:
    # convcli's default border, reflect, is SciPy's mirror (README, "Border modes")
    size = (3, 3, 1)[: page.ndim]  # each channel alone
    return ndimage.uniform_filter(page.astype(np.float64), size=size, mode="mirror")


@pytest.mark.parametrize("kernel", ["identity", "box"])
@pytest.mark.parametrize(
    ("shape", "order"),
    [((9, 11), 1), ((9, 11, 3), -1)],
    ids=["grey-8-bit-first", "rgb-float-first"],
)  # a float RGB first page is read by tifffile alone, the others by Pillow first
def test_a_tiff_stack_keeps_each_pages_depth(tmp_path, kernel, shape, order):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    pages = mixed_stack(source, shape, order)
    result = run("apply", str(source), "-k", kernel, "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    assert "unlike the first page" not in result.stderr
    with tifffile.TiffFile(out) as written:
        outputs = [page.asarray() for page in written.pages]
    assert [o.dtype for o in outputs] == [p.dtype for p in pages]
    for page, output in zip(pages, outputs, strict=True):
        expected = page if kernel == "identity" else box3(page)
        if page.dtype.kind == "u":  # each page mapped with its own white: nothing clipped at 255
            expected = np.rint(expected)  # half to even (README, "Output range")
        level = 1.0 if page.dtype.kind == "u" else 1e-6
        np.testing.assert_allclose(output, expected, rtol=0, atol=level)


def test_a_stack_of_mixed_depths_in_range_raw_keeps_every_pages_values(tmp_path):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    pages = mixed_stack(source)
    result = run("apply", str(source), "-k", "identity", "--range", "raw", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    assert "unlike the first page" not in result.stderr  # float holds every page's values
    with tifffile.TiffFile(out) as written:
        for page, output in zip(pages, written.pages, strict=True):
            assert output.dtype == np.float32
            np.testing.assert_array_equal(output.asarray(), page.astype(np.float32))


@pytest.mark.parametrize("suffix", ["png", "gif"])
def test_a_stack_of_mixed_depths_into_8_bits_says_so(tmp_path, suffix):
    source, out = tmp_path / "in.tif", tmp_path / f"out.{suffix}"
    pages = mixed_stack(source)
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    for index, depth in ((1, "16-bit"), (2, "float")):
        message = f"page {index} is {depth}, unlike the first page (8-bit): written at 8 bits"
        assert message in " ".join(result.stderr.split())
    with Image.open(out) as animation:
        assert animation.n_frames == 3
        if suffix == "png":  # grey, exactly: each page from its own white to 255, rounded
            for index, white in ((1, 65535), (2, 1.0)):
                animation.seek(index)
                grey = np.asarray(animation.convert("L"))
                np.testing.assert_array_equal(grey, np.rint(pages[index] * (255 / white)))


def test_clipping_a_float_tiff_points_to_range_raw(tmp_path):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    values = np.linspace(-2, 3, 99, dtype=np.float32).reshape(9, 11)
    tifffile.imwrite(source, values)
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    share = np.mean((values < 0) | (values > 1))  # identity: the output's values are the input's
    assert result.stderr == (
        f"convcli: note: {source} with identity -> {out}: {share:.0%} of the values fell outside "
        "0 to 1 and were clipped; --range raw keeps them\n"
    )
    identity(source, out, "--range", "raw")
    np.testing.assert_array_equal(tifffile.imread(out), values)
