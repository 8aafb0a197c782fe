"""Metadata that would break an output is left out with a note, never copied (issue 23, item 5).

Each hostile file is made here; each output is read back by Pillow (and the
JPEG's APP2 segments by a few lines of marker parsing written from the
JPEG and ICC standards), and convcli must read it back too.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from helpers import run

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
RGB = np.random.default_rng(5).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def padded_profile(profile: bytes, extra: int) -> bytes:
    """``profile`` with one more tag, a private one of ``extra`` random bytes: still valid."""
    count = struct.unpack_from(">I", profile, 128)[0]
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    body = profile[132 + 12 * count :]
    start = 132 + 12 * (count + 1) + len(body)
    start += -start % 4
    tag = b"zzzz" + bytes(4) + np.random.default_rng(0).bytes(extra)
    table = b"".join(struct.pack(">4sII", sig, at + 12, size) for sig, at, size in entries)
    table += struct.pack(">4sII", b"zzzz", start, len(tag))
    whole = bytearray(profile[:128] + struct.pack(">I", count + 1) + table + body)
    whole += bytes(start - len(whole)) + tag
    whole[:4] = struct.pack(">I", len(whole))
    return bytes(whole)


def grey_profile() -> bytes:
    """A minimal ICC v2 grey display profile (gamma 2.2), written from the ICC specification."""

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    d50 = s15(0.9642, 1.0, 0.8249)
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", 5) + b"Grey\0" + bytes(79)),
        (b"wtpt", b"XYZ " + bytes(4) + d50),
        (b"kTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233) + bytes(2)),
        (b"cprt", b"text" + bytes(4) + b"none\0" + bytes(3)),
    ]
    offset, table, body = 132 + 12 * len(tags), b"", b""
    for signature, data in tags:
        table += struct.pack(">4sII", signature, offset + len(body), len(data))
        body += data
    size = 128 + 4 + len(table) + len(body)
    header = struct.pack(">I4sI4s4s4s12s4s", size, b"lcms", 0x02100000, b"mntr", b"GRAY",
                         b"XYZ ", bytes(12), b"acsp")  # fmt: skip
    header += bytes(28) + d50 + bytes(48)  # platform, flags, device, intent; illuminant; rest
    return header + struct.pack(">I", len(tags)) + table + body


def apply(*args: str) -> list[str]:
    """Run apply; return its notes (stderr lines)."""
    result = run("apply", *args, "-q")
    assert result.exit_code == 0, result.stderr
    return result.stderr.splitlines()


def reads_back(path: Path) -> None:
    """convcli itself reads the output."""
    result = run("apply", str(path), "-k", "identity", "-o", str(path.with_name("again.png")))
    assert result.exit_code == 0, result.stderr


def app2_profile(path: Path) -> tuple[bytes, list[tuple[int, int]]]:
    """The ICC profile of a JPEG's APP2 segments, and each one's (number, count) bytes."""
    data, position, pieces = path.read_bytes(), 2, []
    while data[position] == 0xFF and data[position + 1] != 0xDA:  # up to the scan
        marker, length = data[position + 1], int.from_bytes(data[position + 2 : position + 4])
        segment = data[position + 4 : position + 2 + length]
        if marker == 0xE2 and segment.startswith(b"ICC_PROFILE\0"):
            pieces.append((segment[12], segment[13], segment[14:]))
        position += 2 + length
    return b"".join(p[2] for p in sorted(pieces)), [(p[0], p[1]) for p in pieces]


def test_a_profile_larger_than_png_readers_take_is_left_out(tmp_path):
    big = padded_profile(SRGB, 2 << 20)  # valid: littleCMS parses it
    assert ImageCms.ImageCmsProfile(io.BytesIO(big)).profile.xcolor_space == "RGB "
    source, out = tmp_path / "big.tif", tmp_path / "out.png"
    tifffile.imwrite(source, RGB, photometric="rgb", iccprofile=big)
    notes = apply(str(source), "-k", "box", "-o", str(out))
    assert notes == [
        f"convcli: note: {source}: its colour profile ({len(big):,} bytes) is larger than "
        "PNG readers take (1,048,576): left out"
    ]
    with Image.open(out) as image:  # Pillow refuses a PNG whose iCCP passes MAX_TEXT_CHUNK
        assert "icc_profile" not in image.info
    reads_back(out)


def test_a_profile_of_a_megabyte_still_goes_into_png(tmp_path):
    kept = padded_profile(SRGB, 1 << 19)
    source, out = tmp_path / "kept.tif", tmp_path / "out.png"
    tifffile.imwrite(source, RGB, photometric="rgb", iccprofile=kept)
    assert apply(str(source), "-k", "box", "-o", str(out)) == []
    with Image.open(out) as image:
        assert image.info["icc_profile"] == kept


def test_a_profile_larger_than_a_jpeg_holds_is_left_out_not_wrapped(tmp_path):
    huge = padded_profile(SRGB, 17 << 20)  # 273 APP2 segments: JPEG's count byte holds 255
    source, out = tmp_path / "huge.tif", tmp_path / "out.jpg"
    tifffile.imwrite(source, RGB, photometric="rgb", iccprofile=huge)
    notes = apply(str(source), "-k", "box", "-o", str(out))
    assert len(notes) == 1
    assert notes[0].startswith(f"convcli: note: {source}: its colour profile (17,")
    assert notes[0].endswith("bytes) is larger than a JPEG holds (16,576,307): left out")
    assert app2_profile(out) == (b"", [])
    with Image.open(out) as image:
        assert "icc_profile" not in image.info
        assert image.size == (32, 24)
    reads_back(out)


def test_a_profile_of_many_segments_is_numbered_right(tmp_path):
    large = padded_profile(SRGB, 3 << 20)  # 49 segments of 65,519 bytes
    source, out = tmp_path / "large.tif", tmp_path / "out.jpg"
    tifffile.imwrite(source, RGB, photometric="rgb", iccprofile=large)
    assert apply(str(source), "-k", "box", "-o", str(out)) == []
    profile, numbers = app2_profile(out)
    assert profile == large
    count = -(-len(large) // 65_519)
    assert numbers == [(n, count) for n in range(1, count + 1)]
    reads_back(out)


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp"])
def test_a_profile_littlecms_cannot_parse_is_left_out(tmp_path, suffix):
    source, out = tmp_path / "broken.png", tmp_path / f"out.{suffix}"
    Image.fromarray(RGB).save(source, icc_profile=b"not a colour profile " * 8)
    notes = apply(str(source), "-k", "box", "-o", str(out))
    assert notes == [
        f"convcli: note: {source}: its colour profile does not parse (littleCMS): left out"
    ]
    with Image.open(out) as image:
        assert not image.info.get("icc_profile")


def test_an_rgb_profile_stays_off_a_grey_output(tmp_path):
    source, out = tmp_path / "rgb.png", tmp_path / "out.png"
    Image.fromarray(RGB).save(source, icc_profile=SRGB)
    notes = apply(str(source), "-k", "box", "--gray", "-o", str(out))
    assert notes == [
        f"convcli: note: {source}: its colour profile is for RGB, not the grey output: left out"
    ]
    with Image.open(out) as image:
        assert image.mode == "L"
        assert "icc_profile" not in image.info


def test_a_grey_profile_stays_off_a_colormap_output_and_on_a_grey_one(tmp_path):
    grey = grey_profile()
    assert ImageCms.ImageCmsProfile(io.BytesIO(grey)).profile.xcolor_space == "GRAY"
    source = tmp_path / "grey.png"
    Image.fromarray(RGB[..., 0]).save(source, icc_profile=grey)
    mapped, plain = tmp_path / "mapped.png", tmp_path / "plain.png"
    notes = apply(str(source), "-k", "box", "--colormap", "viridis", "-o", str(mapped))
    assert notes == [
        f"convcli: note: {source}: its colour profile is for grey, not the RGB output: left out"
    ]
    assert apply(str(source), "-k", "box", "-o", str(plain)) == []
    with Image.open(mapped) as image, Image.open(plain) as kept:
        assert image.mode == "RGB"
        assert "icc_profile" not in image.info
        assert kept.info["icc_profile"] == grey


def exif_resolution(dpi: float) -> Image.Exif:
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128] = dpi, dpi, 2  # X, Y, inch
    return exif


@pytest.mark.parametrize(
    ("suffix", "place"),
    [("png", "PNG's pHYs chunk"), ("bmp", "BMP's header"), ("jpg", "JPEG's JFIF density")],
)
def test_a_resolution_the_output_cannot_hold_is_left_out(tmp_path, suffix, place):
    source, out = tmp_path / "fine.jpg", tmp_path / f"out.{suffix}"
    Image.fromarray(RGB).save(source, exif=exif_resolution(1e9))
    notes = [n for n in apply(str(source), "-k", "box", "-o", str(out)) if "resolution" in n]
    assert notes == [
        f"convcli: note: {source}: its resolution (1e+09 x 1e+09 dpi) does not fit {place}: "
        "left out"
    ]
    with Image.open(out) as image:
        if suffix == "jpg":  # no unit, an aspect ratio of 1 (Pillow then says 72 dpi)
            assert (image.info["jfif_unit"], image.info["jfif_density"]) == (0, (1, 1))
        elif suffix == "bmp":  # the header's pixels per metre, read as bytes: 0 is unknown
            assert out.read_bytes()[38:46] == bytes(8)
        else:
            assert "dpi" not in image.info
        assert 0x011A not in image.getexif()  # nor in the EXIF, to say otherwise
    reads_back(out)


def png_with_dpi(path: Path, dpi: float, **options: object) -> None:
    """A PNG whose pHYs says ``dpi`` (Pillow's own writer rounds it the same way)."""
    Image.fromarray(RGB).save(path, dpi=(dpi, dpi), **options)


def test_a_jfif_density_past_16_bits_is_left_out_not_wrapped(tmp_path):
    source, out = tmp_path / "fine.png", tmp_path / "out.jpg"
    png_with_dpi(source, 200_000)  # 100,000 dpi after the stride: modulo 65,536 is 34,464
    notes = apply(str(source), "-k", "box", "-s", "2", "-o", str(out))
    assert notes == [
        f"convcli: note: {source}: its resolution (100000 x 100000 dpi) does not fit JPEG's "
        "JFIF density: left out"
    ]
    with Image.open(out) as image:
        assert (image.info["jfif_unit"], image.info["jfif_density"]) == (0, (1, 1))
        assert 0x011A not in image.getexif()


def test_a_jfif_density_that_fits_after_the_stride_is_kept(tmp_path):
    source, out = tmp_path / "fine.png", tmp_path / "out.jpg"
    png_with_dpi(source, 130_000)
    assert apply(str(source), "-k", "box", "-s", "2", "-o", str(out)) == []
    with Image.open(out) as image:
        assert image.info["jfif_density"] == (65_000, 65_000)


@pytest.mark.parametrize("suffix", ["tif", "webp"])
def test_a_resolution_past_32_bit_fractions_is_left_out(tmp_path, suffix):
    source, out = tmp_path / "fine.tif", tmp_path / f"out.{suffix}"
    tifffile.imwrite(source, RGB, photometric="rgb", resolution=(4e9, 4e9),
                     resolutionunit="CENTIMETER")  # fmt: skip
    notes = apply(str(source), "-k", "box", "-o", str(out))
    assert notes == [
        f"convcli: note: {source}: its resolution (1.016e+10 x 1.016e+10 dpi) does not fit "
        "the 32-bit fractions of TIFF and EXIF: left out"
    ]
    if suffix == "tif":  # tifffile writes 1/1 in no unit when given none
        with tifffile.TiffFile(out) as tiff:
            assert tiff.pages[0].tags["ResolutionUnit"].value == 1
    with Image.open(out) as image:
        assert "dpi" not in image.info
        if suffix == "webp":
            assert 0x011A not in image.getexif()
    reads_back(out)


def test_the_exif_resolution_of_a_png_is_divided_by_the_stride_as_its_phys(tmp_path):
    source, out = tmp_path / "photo.png", tmp_path / "out.png"
    png_with_dpi(source, 300, exif=exif_resolution(300))
    apply(str(source), "-k", "box", "-s", "2,4", "-o", str(out))
    with Image.open(out) as image:
        exif = image.getexif()
        # 300 dpi is 11,811 pixels per metre in the input's pHYs: 299.9994 dpi
        assert (float(exif[0x011A]), float(exif[0x011B])) == pytest.approx((75, 150), abs=0.001)
        assert image.info["dpi"] == pytest.approx((75, 150), abs=0.02)


def test_an_exif_resolution_alone_reaches_a_png_phys(tmp_path):
    source, out = tmp_path / "photo.webp", tmp_path / "out.png"
    Image.fromarray(RGB).save(source, exif=exif_resolution(300), lossless=True)
    apply(str(source), "-k", "box", "-s", "2", "-o", str(out))
    with Image.open(out) as image:
        assert image.info["dpi"] == pytest.approx((150, 150), abs=0.02)  # pHYs: per metre
        assert float(image.getexif()[0x011A]) == 150
