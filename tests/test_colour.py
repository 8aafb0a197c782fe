"""CMYK stays CMYK where the format holds it, and becomes RGB through its profile elsewhere."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from helpers import SAMPLES, run

CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture
def inks() -> Image.Image:
    photo = Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((64, 48))
    return photo.convert("CMYK")


def tags(path: Path) -> dict:
    assert EXIFTOOL is not None
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-G1", str(path)], capture_output=True,
                         check=True, text=True)  # fmt: skip
    return json.loads(out.stdout)[0]


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_a_cmyk_tiff_stays_cmyk_exactly(tmp_path, inks):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    inks.save(source)
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    assert tags(out)["IFD0:PhotometricInterpretation"] == 5  # separated: inks
    with Image.open(out) as written:  # Pillow's reader; tifffile wrote it
        assert written.mode == "CMYK"
        np.testing.assert_array_equal(np.asarray(written), np.asarray(inks))


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_a_cmyk_jpeg_stays_cmyk_and_each_ink_is_filtered(tmp_path, inks):
    source, out = tmp_path / "in.jpg", tmp_path / "out.jpg"
    inks.save(source, quality=100)
    result = run("apply", str(source), "-k", "box", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    assert tags(out)["File:ColorComponents"] == 4
    with Image.open(source) as original, Image.open(out) as written:
        assert written.mode == "CMYK"
        # Each ink blurred on its own, from the definition (3x3 mean, reflected borders).
        padded = np.pad(np.asarray(original).astype(float), ((1, 1), (1, 1), (0, 0)), "reflect")
        mean = sum(padded[r : r + 48, c : c + 64] for r in range(3) for c in range(3)) / 9
        assert np.abs(np.asarray(written).astype(float) - mean).mean() < 2  # JPEG's error


@pytest.mark.skipif(not CMYK_PROFILE.exists(), reason=f"no CMYK profile at {CMYK_PROFILE}")
@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_cmyk_into_png_goes_through_its_profile_and_carries_srgb(tmp_path, inks):
    profile = CMYK_PROFILE.read_bytes()
    source, out = tmp_path / "in.jpg", tmp_path / "out.png"
    inks.save(source, quality=100, icc_profile=profile)
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"{source}: CMYK made RGB through its colour profile" in result.stderr
    assert tags(out)["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    with Image.open(source) as original:  # littleCMS, as an independent conversion would
        expected = ImageCms.profileToProfile(
            original, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"), outputMode="RGB",
        )  # fmt: skip
        with Image.open(out) as written:
            np.testing.assert_array_equal(np.asarray(written), np.asarray(expected))


def test_cmyk_without_a_profile_into_png_says_how_it_was_made_rgb(tmp_path, inks):
    source, out = tmp_path / "in.tif", tmp_path / "out.png"
    inks.save(source)
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0
    assert "CMYK made RGB without a colour profile (Pillow's formula)" in result.stderr
    with Image.open(out) as written:
        assert written.mode == "RGB"
        assert "icc_profile" not in written.info
        np.testing.assert_array_equal(np.asarray(written), np.asarray(inks.convert("RGB")))


def test_gray_on_cmyk_works_on_its_rgb(tmp_path, inks):
    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    inks.save(source)
    result = run("apply", str(source), "-k", "identity", "--gray", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as written:
        assert written.mode == "L"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def keyed_png(samples: np.ndarray, bits: int, key: tuple[int, ...]) -> bytes:
    """A grey or RGB PNG with a tRNS colour key, written from the PNG specification."""
    rows, cols = samples.shape[:2]
    colour_type = 0 if samples.ndim == 2 else 2
    if bits < 8:  # samples packed into bytes, leftmost first
        per_byte = 8 // bits
        padded = np.zeros((rows, -(-cols // per_byte) * per_byte), np.uint8)
        padded[:, :cols] = samples
        shifts = np.arange(per_byte - 1, -1, -1) * bits
        packed = (padded.reshape(rows, -1, per_byte) << shifts).sum(axis=2).astype(np.uint8)
        lines = [row.tobytes() for row in packed]
    else:
        lines = [row.astype(">u2" if bits == 16 else np.uint8).tobytes() for row in samples]
    header = struct.pack(">IIBBBBB", cols, rows, bits, colour_type, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + line for line in lines))  # filter 0: none
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"tRNS", struct.pack(f">{len(key)}H", *key))
            + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b""))  # fmt: skip


KEYED = {  # samples of (bits, channels), and the key: about a third of the pixels match it
    "grey 1-bit": (1, 1, (1,)),
    "grey 2-bit": (2, 1, (2,)),
    "grey 4-bit": (4, 1, (9,)),
    "grey 8-bit": (8, 1, (7,)),
    "grey 16-bit": (16, 1, (1000,)),
    "RGB 8-bit": (8, 3, (1, 2, 3)),
    "RGB 16-bit": (16, 3, (1000, 2, 3)),
}


@pytest.mark.parametrize("kind", KEYED)
def test_a_png_colour_key_becomes_alpha_at_its_depth(tmp_path, kind):
    bits, channels, key = KEYED[kind]
    rng = np.random.default_rng(bits * channels)
    shape = (9, 13) if channels == 1 else (9, 13, 3)
    samples = rng.integers(0, 2**bits, shape).astype(np.uint16 if bits == 16 else np.uint8)
    matches = rng.random((9, 13)) < 0.3
    samples[matches] = key if channels == 3 else key[0]
    matches = np.all(samples == np.array(key), axis=-1) if channels == 3 else samples == key[0]
    source, out = tmp_path / "keyed.png", tmp_path / "out.tif"
    source.write_bytes(keyed_png(samples, bits, key))
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    written = tifffile.imread(out)  # a TIFF keeps the depth and the alpha beside the colour
    white = 65535 if bits == 16 else 255
    scale = 1 if bits in (8, 16) else white // (2**bits - 1)  # 1, 2, 4 bits: spread to 0..255
    np.testing.assert_array_equal(written[..., -1], np.where(matches, 0, white))
    np.testing.assert_array_equal(written[..., :-1].squeeze(-1) if channels == 1
                                  else written[..., :3], samples * scale)  # fmt: skip
    assert written.dtype == (np.uint16 if bits == 16 else np.uint8)
