"""What the input carried reaches the output: colour profile, EXIF, resolution, provenance.

Outputs are read back with exiftool (an independent reader; `.ci/run`
installs it), and JPEG quantisation tables with a few lines of marker
parsing written here from the JPEG standard.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from convcli import __version__
from helpers import SAMPLES, run

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool is not installed (Debian: libimage-exiftool-perl)"
)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exiftool(path: Path) -> dict:
    assert EXIFTOOL is not None
    out = subprocess.run(
        [EXIFTOOL, "-j", "-n", "-G1", str(path)], capture_output=True, check=True, text=True
    )
    return json.loads(out.stdout)[0]


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS 5D", 6  # turn 90° clockwise
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    return exif


@pytest.fixture
def photo(tmp_path) -> Path:
    """A 120x200 JPEG, shown turned a quarter, with a camera's EXIF, sRGB profile, 300 dpi."""
    image = Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((200, 120))
    path = tmp_path / "photo.jpg"
    image.save(path, exif=camera_exif(), icc_profile=ICC, dpi=(300, 300), quality=80)
    return path


def apply(*args: str) -> None:
    result = run("apply", *args, "-q")
    assert result.exit_code == 0, result.stderr


def value(tags: dict, *names: str) -> object:
    """The first of ``names`` (``Group:Tag``) that exiftool reported."""
    return next((tags[name] for name in names if name in tags), None)


RESOLUTION = {  # where each format keeps it, as exiftool names it
    "png": ("PNG-pHYs:PixelsPerUnitX", 300 / 0.0254),
    "jpg": ("JFIF:XResolution", 300),
    "tif": ("IFD0:XResolution", 300),
    "webp": ("IFD0:XResolution", 300),
}


@needs_exiftool
@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp"])
def test_profile_exif_resolution_and_provenance_reach_the_output(photo, suffix):
    out = photo.with_name(f"out.{suffix}")
    apply(str(photo), "-k", "box", "-o", str(out))
    tags = exiftool(out)
    assert tags["Composite:ImageSize"] == "120 200"  # turned upright
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    assert tags["IFD0:Make"] == "Canon"
    assert tags["IFD0:Model"] == "EOS 5D"
    assert tags["IFD0:Orientation"] == 1  # applied to the pixels: not turned again
    if suffix != "tif":  # a TIFF keeps IFD0's descriptive tags, not the EXIF directory
        assert tags["ExifIFD:DateTimeOriginal"] == "2024:05:06 07:08:09"
    tag, expected = RESOLUTION[suffix]
    assert tags[tag] == pytest.approx(expected, abs=0.5)
    assert value(tags, "PNG:Software", "IFD0:Software") == f"convcli {__version__}"
    described = json.loads(value(tags, "PNG:Description", "IFD0:ImageDescription"))
    assert described["kernels"] == ["box"]
    assert described["pad_mode"] == "reflect"


@needs_exiftool
def test_strip_leaves_out_what_the_input_carried_but_not_the_provenance(photo):
    out = photo.with_name("out.png")
    apply(str(photo), "-k", "box", "-o", str(out), "--strip")
    tags = exiftool(out)
    assert not [name for name in tags if name.startswith(("ICC", "IFD0", "ExifIFD", "PNG-pHYs"))]
    assert tags["PNG:Software"] == f"convcli {__version__}"


@needs_exiftool
def test_a_stride_divides_the_resolution(photo):
    out = photo.with_name("out.tif")
    apply(str(photo), "-k", "box", "-s", "2,4", "-o", str(out))
    tags = exiftool(out)
    assert (tags["IFD0:XResolution"], tags["IFD0:YResolution"]) == (75, 150)


def test_formats_that_cannot_hold_the_metadata_say_so_once(photo, tmp_path):
    second = shutil.copy(photo, tmp_path / "second.jpg")
    result = run("apply", str(photo), str(second), "-k", "box", "-o", str(tmp_path / "gif"),
                 "--format", "gif", "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "cannot hold" in line]
    assert notes == [
        "convcli: note: gif outputs cannot hold the colour profile, EXIF and resolution "
        "of their inputs: left out"
    ]


def test_an_input_without_metadata_gets_no_note(tmp_path):
    result = run("apply", str(SAMPLES / "coins.png"), "-k", "box", "-o", str(tmp_path / "c.gif"))
    assert result.exit_code == 0
    assert "cannot hold" not in result.stderr


def quantisation_tables(path: Path) -> list[bytes]:
    """The DQT segments' tables, in file order (JPEG, ITU T.81 B.2.4.1)."""
    data, tables, at = path.read_bytes(), [], 2
    while at < len(data) and data[at] == 0xFF and data[at + 1] != 0xDA:  # until start of scan
        marker, (length,) = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])
        if marker == 0xDB:
            tables.append(data[at + 4 : at + 2 + length])
        at += 2 + length
    return tables


def test_a_jpeg_from_a_jpeg_keeps_its_quantisation_unless_quality_is_given(photo):
    kept, low = photo.with_name("kept.jpg"), photo.with_name("low.jpg")
    apply(str(photo), "-k", "box", "-o", str(kept))
    apply(str(photo), "-k", "box", "-o", str(low), "--quality", "30")
    assert quantisation_tables(kept) == quantisation_tables(photo)
    assert quantisation_tables(low) != quantisation_tables(photo)
    assert low.stat().st_size < kept.stat().st_size


def test_quality_sets_webp_compression(tmp_path):
    sizes = []
    for quality in ("20", "90"):
        out = tmp_path / f"q{quality}.webp"
        apply(str(SAMPLES / "astronaut.png"), "-k", "box", "-o", str(out), "--quality", quality)
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1]


@pytest.mark.parametrize("bad", ["0", "101", "high"])
def test_quality_out_of_range_is_a_usage_error(photo, bad):
    result = run("apply", str(photo), "-k", "box", "--quality", bad)
    assert result.exit_code == 2
    assert "--quality" in result.stderr


def test_the_orientation_is_applied_to_the_pixels_once(photo, tmp_path):
    out = tmp_path / "out.png"
    apply(str(photo), "-k", "identity", "-o", str(out))
    with Image.open(photo) as original, Image.open(out) as written:
        upright = np.asarray(original.transpose(Image.Transpose.ROTATE_270)).astype(int)
        assert np.abs(np.asarray(written).astype(int) - upright).max() == 0
