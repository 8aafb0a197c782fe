"""CMYK stays CMYK where the format holds it, and becomes RGB through its profile elsewhere."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
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
