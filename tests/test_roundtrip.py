"""The round-trip matrix: each kind of input, in each format that holds it, through identity.

``apply -k identity`` must give the input's pixels exactly (JPEG: within its
re-encoding error) at the input's depth, with the colour profile, EXIF and
resolution still there where the format holds them, read back by exiftool
and by decoders that share no code with convcli's writers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, JpegImagePlugin

from helpers import run

imagecodecs = pytest.importorskip("imagecodecs", reason="the codecs extra is not installed")
EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
RNG = np.random.default_rng(2026)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
H, W = 10, 13


def u8(*channels: int) -> np.ndarray:
    return RNG.integers(0, 256, (H, W, *channels), dtype=np.uint8)


def u16(*channels: int) -> np.ndarray:
    return RNG.integers(0, 65536, (H, W, *channels), dtype=np.uint16)


def f32(*channels: int) -> np.ndarray:
    return RNG.random((H, W, *channels), dtype=np.float32)


def exif() -> Image.Exif:
    tags = Image.Exif()
    tags[0x010F] = "Nikon"
    return tags


def pillow(array: np.ndarray, mode: str | None = None) -> Callable[[Path, str], None]:
    def write(path: Path, fmt: str) -> None:
        image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
        keeps = fmt in ("PNG", "JPEG", "WEBP")
        options: dict = {"icc_profile": ICC, "exif": exif()} if keeps else {}
        if fmt in ("PNG", "JPEG", "BMP"):
            options["dpi"] = (240, 240)
        if fmt == "WEBP":
            options["lossless"] = True
        image.save(path, format=fmt, **options)

    return write


def png16(array: np.ndarray) -> Callable[[Path, str], None]:
    return lambda path, fmt: path.write_bytes(imagecodecs.png_encode(array))


def tiff(array: np.ndarray) -> Callable[[Path, str], None]:
    def write(path: Path, fmt: str) -> None:
        samples = 1 if array.ndim == 2 else array.shape[2]
        extra = {"extrasamples": ["unassalpha"]} if samples in (2, 4) else {}
        tifffile.imwrite(path, array, photometric="rgb" if samples >= 3 else "minisblack",
                         iccprofile=ICC, resolution=(240, 240), resolutionunit="INCH",
                         extratags=[(271, "s", 0, "Nikon", True)], metadata=None, **extra)  # fmt: skip

    return write


def grey_alpha_8() -> np.ndarray:
    return u8(2)


palette = np.arange(H * W, dtype=np.uint8).reshape(H, W) % 16


def transparent_palette(path: Path, fmt: str) -> None:
    image = Image.fromarray(palette, "L").convert("P")
    image.save(path, format=fmt, transparency=3, icc_profile=ICC, dpi=(240, 240))


# kind: (writer, format, expected pixels as decoded after identity, depth)
CASES = {
    "1-bit grey png": (pillow(u8() > 127, None), "PNG", None, np.uint8),
    "8-bit grey png": (pillow(u8()), "PNG", None, np.uint8),
    "8-bit grey+alpha png": (pillow(grey_alpha_8(), "LA"), "PNG", None, np.uint8),
    "8-bit rgb png": (pillow(u8(3)), "PNG", None, np.uint8),
    "8-bit rgba png": (pillow(u8(4)), "PNG", None, np.uint8),
    "16-bit grey png": (png16(u16()), "PNG", None, np.uint16),
    "16-bit grey+alpha png": (png16(u16(2)), "PNG", None, np.uint16),
    "16-bit rgb png": (png16(u16(3)), "PNG", None, np.uint16),
    "16-bit rgba png": (png16(u16(4)), "PNG", None, np.uint16),
    "8-bit rgb tiff": (tiff(u8(3)), "TIFF", None, np.uint8),
    "8-bit rgba tiff": (tiff(u8(4)), "TIFF", None, np.uint8),
    "16-bit grey tiff": (tiff(u16()), "TIFF", None, np.uint16),
    "16-bit rgb tiff": (tiff(u16(3)), "TIFF", None, np.uint16),
    "16-bit rgba tiff": (tiff(u16(4)), "TIFF", None, np.uint16),
    "float grey tiff": (tiff(f32()), "TIFF", None, np.float32),
    "float rgb tiff": (tiff(f32(3)), "TIFF", None, np.float32),
    "rgb webp": (pillow(u8(3)), "WEBP", None, np.uint8),
    "rgba webp": (pillow(u8(4)), "WEBP", None, np.uint8),
    "rgb bmp": (pillow(u8(3)), "BMP", None, np.uint8),
    "palette gif": (pillow(palette, "P"), "GIF", None, np.uint8),
    "palette+transparency png": (transparent_palette, "PNG", None, np.uint8),
    "rgb jpeg": (pillow(u8(3)), "JPEG", "lossy", np.uint8),
}
SUFFIX = {"PNG": "png", "TIFF": "tif", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "JPEG": "jpg"}
HOLDS = {"PNG": {"icc", "exif", "dpi"}, "TIFF": {"icc", "exif", "dpi"}, "JPEG": {"icc", "exif", "dpi"},
         "WEBP": {"icc", "exif"}, "BMP": {"dpi"}, "GIF": set()}  # fmt: skip


def decode(path: Path, fmt: str) -> np.ndarray:
    """Decode with libraries that share no code with the writer of that format."""
    data = path.read_bytes()
    if fmt == "PNG":
        return imagecodecs.png_decode(data)  # libpng; convcli wrote it
    if fmt == "TIFF":
        return imagecodecs.tiff_decode(data)  # libtiff; tifffile wrote it
    with Image.open(path) as image:  # Pillow decodes what libwebp, Pillow's BMP/GIF encode
        return np.asarray(image.convert("RGBA") if image.mode == "P" else image)


def tags(path: Path) -> dict:
    assert EXIFTOOL is not None
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-G1", str(path)], capture_output=True,
                         check=True, text=True)  # fmt: skip
    return json.loads(out.stdout)[0]


@pytest.mark.parametrize("kind", CASES)
def test_identity_gives_the_inputs_pixels_depth_and_metadata(tmp_path, kind):
    write, fmt, lossy, depth = CASES[kind]
    source = tmp_path / f"in.{SUFFIX[fmt]}"
    write(source, fmt)
    out = tmp_path / f"out.{SUFFIX[fmt]}"
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    expected, written = decode(source, fmt), decode(out, fmt)
    assert written.dtype == depth
    if lossy:  # JPEG: what encoding the input's pixels again with its own tables gives
        with Image.open(source) as original:
            again = tmp_path / "again.jpg"
            original.save(again, qtables=original.quantization,
                          subsampling=JpegImagePlugin.get_sampling(original))  # fmt: skip
        np.testing.assert_array_equal(written, decode(again, fmt))
    else:
        np.testing.assert_array_equal(written, expected)
    found, carried = tags(out), tags(source)
    if "icc" in HOLDS[fmt] and "ICC_Profile:ProfileDescription" in carried:
        grey = written.ndim == 2 or written.shape[2] == 2  # an RGB profile stays off grey
        assert found.get("ICC_Profile:ProfileDescription") == (None if grey else "sRGB built-in")
    if "exif" in HOLDS[fmt] and "IFD0:Make" in carried:
        assert found["IFD0:Make"] == "Nikon"
    resolution = [name for name in carried if name.endswith(("XResolution", "PixelsPerUnitX"))]
    if "dpi" in HOLDS[fmt] and resolution:
        assert any(found.get(name) == carried[name] for name in resolution), resolution
