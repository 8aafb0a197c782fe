"""Issue 23's last gaps: JPEG XL animations, AVIF sequences' timing, JPEG 2000 colour profiles, raw.

References: imagecodecs' decode for the pixels; libjxl itself (``helpers.libjxl``,
through ctypes) for a JPEG XL's frames, durations and loop count; the
ISOBMFF boxes a test writes for an AVIF's timing; Pillow's JPEG 2000 plugin
for a JP2's colour profile.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from convcli.choices import FileFormat
from convcli.io import jxl
from convcli.io.codecs import encode_animation, read_layout
from convcli.io.metadata import Metadata
from helpers import run
from helpers.formats import dng
from helpers.libjxl import LIBJXL, Layer, encode, read

RNG = np.random.default_rng(29)
needs_libjxl = pytest.mark.skipif(LIBJXL is None, reason="libjxl is not a separate library here")


def pixels(height: int, width: int, channels: int = 4) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, channels), dtype=np.uint8)


def frames_of(path: Path) -> tuple[np.ndarray, list[float], int | None]:
    """An APNG's or GIF's frames (as RGBA), durations and loop, as Pillow reads them."""
    with Image.open(path) as image:
        found, durations = [], []
        for index in range(image.n_frames):
            image.seek(index)
            found.append(np.array(image.convert("RGBA")))
            durations.append(image.info["duration"])
        return np.stack(found), durations, image.info.get("loop")


def milliseconds(data: bytes) -> list[float]:
    """Each frame's duration as libjxl reads it: ticks over ticks a second."""
    found = read(data)
    numerator, denominator = found.ticks
    return [ticks * 1000 * denominator / numerator for ticks in found.durations]


def test_every_frame_of_an_imagecodecs_animation_is_read(tmp_path):
    source = tmp_path / "in.jxl"
    frames = np.stack([pixels(9, 11) for _ in range(4)])
    source.write_bytes(imagecodecs.jpegxl_encode(frames, lossless=True))
    reference = imagecodecs.jpegxl_decode(source.read_bytes())  # all four at once
    out = tmp_path / "out.png"
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    found, durations, loop = frames_of(out)
    assert found.shape == reference.shape == (4, 9, 11, 4)
    np.testing.assert_array_equal(found, reference)
    assert durations == [100, 100, 100, 100]  # imagecodecs writes 10 ticks a second, 1 a frame
    assert loop == 0


@needs_libjxl
@pytest.mark.parametrize("container", [False, True])
def test_frame_durations_and_loops_are_libjxls(tmp_path, container):
    layers = [Layer(pixels(20, 30), 5), Layer(pixels(20, 30), 0, save_as_reference=1),
              Layer(pixels(20, 30), 7), Layer(pixels(20, 30), 30)]  # fmt: skip
    data = encode(layers, size=(30, 20), ticks=(100, 1), loops=3, container=container)
    source = tmp_path / "in.jxl"
    source.write_bytes(data)
    out = tmp_path / "out.gif"
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    _, durations, loop = frames_of(out)
    assert durations == milliseconds(data) == [50, 70, 300]  # the layer of 0 is composed in
    assert loop == read(data).loops - 1 == 2  # a GIF counts the plays after the first


@needs_libjxl
def test_cropped_and_blended_frames_are_the_decoders_whole_pictures(tmp_path):
    layers = [Layer(pixels(20, 30), 4), Layer(pixels(5, 6), 2, crop=(3, 4), blend=True),
              Layer(pixels(8, 9), 9, crop=(-2, 1)), Layer(pixels(300, 270), 3, crop=(0, 0))]  # fmt: skip
    data = encode(layers, size=(30, 20), ticks=(30000, 1001))
    source = tmp_path / "in.jxl"
    source.write_bytes(data)
    out = tmp_path / "out.png"
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    found, durations, _ = frames_of(out)
    np.testing.assert_array_equal(found, imagecodecs.jpegxl_decode(data))
    assert durations == [round(d) for d in milliseconds(data)]


def still_with_its_own_profile(folder: Path) -> tuple[Path, bytes]:
    """A JPEG XL whose colour profile is its own (in the codestream), and libjxl's reading of it."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode([Layer(pixels(20, 30, 3), 0)], size=(30, 20), icc=profile, animated=False)
    source = folder / "in.jxl"
    source.write_bytes(data)
    return source, data


@needs_libjxl
@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_a_stills_own_profile_is_carried_through_the_jxl_extra(tmp_path, suffix):
    pytest.importorskip("pillow_jxl")
    source, data = still_with_its_own_profile(tmp_path)
    assert read(data).icc  # libjxl reads it from the codestream
    out = tmp_path / f"out.{suffix}"
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "colour profile" not in result.stderr
    with Image.open(out) as image:
        np.testing.assert_array_equal(np.array(image), imagecodecs.jpegxl_decode(data))
        assert image.info["icc_profile"] == read(data).icc


@needs_libjxl
def test_without_the_jxl_extra_a_stills_own_profile_is_a_note_naming_it(tmp_path, monkeypatch):
    source, data = still_with_its_own_profile(tmp_path)
    monkeypatch.setitem(sys.modules, "pillow_jxl", None)  # its import fails, as when not installed
    out = tmp_path / "out.png"
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert (
        "its own colour profile needs pillow_jxl, which comes with the jxl extra: "
        'pip install "convcli[jxl]"; the output carries none'
    ) in result.stderr
    with Image.open(out) as image:
        np.testing.assert_array_equal(np.array(image), imagecodecs.jpegxl_decode(data))
        assert "icc_profile" not in image.info


def test_a_jxl_without_a_profile_of_its_own_gets_none_made_up(tmp_path):
    source = tmp_path / "in.jxl"  # sRGB by its colour encoding: the plugin would make a profile
    source.write_bytes(imagecodecs.jpegxl_encode(pixels(20, 30, 3), lossless=True))
    out = tmp_path / "out.png"
    assert run("apply", str(source), "-k", "identity", "-o", str(out)).exit_code == 0
    with Image.open(out) as image:
        assert "icc_profile" not in image.info


@needs_libjxl
def test_an_animation_with_its_own_profile_is_read_as_its_first_frame_with_a_note(tmp_path):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode([Layer(pixels(20, 30, 3), 5), Layer(pixels(20, 30, 3), 6)], size=(30, 20),
                  icc=profile)  # fmt: skip
    assert read(data).icc  # libjxl reads an ICC profile before the frames
    source = tmp_path / "in.jxl"
    source.write_bytes(data)
    out = tmp_path / "out.png"
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "its own colour profile before its frames: its first frame is read" in result.stderr
    with Image.open(out) as image:
        assert getattr(image, "n_frames", 1) == 1
        np.testing.assert_array_equal(np.array(image), imagecodecs.jpegxl_decode(data, index=0))


def test_an_animation_over_max_pixels_is_refused_before_decoding(tmp_path):
    source = tmp_path / "in.jxl"
    source.write_bytes(imagecodecs.jpegxl_encode(pixels(20, 30)[None].repeat(3, 0), lossless=True))
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "o.png"),
                 "--max-pixels", "1500")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("convcli: ")
    assert "3 pictures of 30x20 are 1800 pixels" in result.stderr


def test_an_animation_cut_inside_a_later_frame_is_one_line(tmp_path):
    data = bytes(imagecodecs.jpegxl_encode(pixels(40, 50)[None].repeat(3, 0), lossless=True))
    source = tmp_path / "in.jxl"
    source.write_bytes(data[: len(data) * 2 // 3])
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "truncated: a frame runs past the end of the file" in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_more_frames_than_the_limit_are_refused_unread(tmp_path, monkeypatch):
    import convcli.io.checks as checks

    monkeypatch.setattr(checks, "MAX_FRAMES", 4)
    source = tmp_path / "in.jxl"
    source.write_bytes(imagecodecs.jpegxl_encode(pixels(8, 8)[None].repeat(5, 0), lossless=True))
    monkeypatch.setattr(imagecodecs, "jpegxl_decode", None)  # never reached
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 1
    assert "5 frames is over the limit of 4" in result.stderr


def test_a_still_picture_is_not_walked():
    data = bytes(imagecodecs.jpegxl_encode(pixels(8, 8), lossless=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = jxl.read_header(io.BytesIO(data + b"\xff" * 100))  # bytes after: never read
    assert (found.frames, found.durations, found.plays) == (1, (), None)


def test_an_avif_sequences_durations_reach_an_animated_output(tmp_path):
    source = tmp_path / "in.avif"
    pictures = [Image.fromarray(pixels(20, 30, 3)) for _ in range(3)]
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=[50, 70, 300])
    with Image.open(source) as image:  # libavif's reading, through Pillow
        expected = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            expected.append(image.info["duration"])
    assert expected == [50, 70, 300]
    out = tmp_path / "out.gif"
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    _, durations, _ = frames_of(out)
    assert durations == expected


needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")


def jp2_with_profile(tmp_path: Path, profile: bytes) -> Path:
    """A JP2 (OpenJPEG's) given ``profile`` by ExifTool: a colr box of method 2."""
    source, icc = tmp_path / "in.jp2", tmp_path / "in.icc"
    source.write_bytes(imagecodecs.jpeg2k_encode(pixels(12, 17, 3), reversible=True))
    icc.write_bytes(profile)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-icc_profile<={icc}", str(source)],
                   check=True)  # fmt: skip
    return source


def exiftool_profile(path: Path) -> bytes:
    return subprocess.run(["exiftool", "-b", "-icc_profile", str(path)], check=True,
                          capture_output=True).stdout  # fmt: skip


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@needs_exiftool
def test_a_jp2s_profile_is_read_and_written_into_a_jp2s_colr_box(tmp_path):
    profile = srgb_profile()
    source = jp2_with_profile(tmp_path, profile)
    assert exiftool_profile(source) == profile
    for suffix in ("png", "jp2"):
        out = tmp_path / f"out.{suffix}"
        result = run("apply", str(source), "-k", "identity", "-o", str(out))
        assert result.exit_code == 0, result.stderr
        assert "colour profile" not in result.stderr  # nothing left out
        np.testing.assert_array_equal(imagecodecs.imread(out), imagecodecs.imread(source))
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == profile
    assert exiftool_profile(tmp_path / "out.jp2") == profile


@needs_exiftool
def test_a_profile_a_jp2_cannot_hold_is_left_out_with_a_note(tmp_path):
    from PIL import ImageCms

    profile = srgb_profile().replace(b"rTRC", b"rTRX", 1)  # no red curve: not restricted ICC
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # littleCMS still parses it
    source = jp2_with_profile(tmp_path, profile)
    out = tmp_path / "out.jp2"
    result = run("apply", str(source), "-k", "identity", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "is not a matrix or grey curve profile (the restricted ICC a JP2 holds)" in result.stderr
    assert exiftool_profile(out) == b""


def test_what_libraw_prints_is_said_in_the_one_line(tmp_path):
    pytest.importorskip("rawpy")
    data = dng(RNG.integers(200, 4000, (32, 48), dtype=np.uint16))
    source = tmp_path / "cut.dng"
    source.write_bytes(data[: len(data) - 100])  # its mosaic cut short
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"convcli: error: {source}: cannot read image: corrupt: Input/output error "
        "(Unexpected end of file)"
    ]


def tiff_marked(mark: bytes) -> bytes:
    """A 1x1 RGB TIFF whose bytes 8 to 11 are ``mark``: Phase One's IIQ puts IIII there."""
    entries = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (262, 3, 1, 2),
               (273, 4, 1, 16 + 2 + 9 * 12 + 4), (277, 3, 1, 3), (278, 3, 1, 1),
               (279, 4, 1, 3), (259, 3, 1, 1)]  # fmt: skip
    directory = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", *entry) for entry in sorted(entries)
    )
    return (
        b"II*\x00"
        + struct.pack("<I", 16)
        + mark
        + bytes(4)
        + directory
        + bytes(4)
        + b"\x10\x20\x30"
    )


def test_a_phase_one_iiq_is_camera_raw_not_its_tiff_thumbnail(tmp_path, monkeypatch):
    plain, marked = tmp_path / "plain.tif", tmp_path / "photo.iiq"
    plain.write_bytes(tiff_marked(bytes(4)))
    marked.write_bytes(tiff_marked(b"IIII"))
    assert run("apply", str(plain), "-k", "identity", "-q").exit_code == 0  # a TIFF
    monkeypatch.setitem(sys.modules, "rawpy", None)
    result = run("apply", str(marked), "-k", "identity")
    assert result.exit_code == 1
    assert 'which comes with the raw extra: pip install "convcli[raw]"' in result.stderr


def gif_animation(path: Path, durations: list[int], loop: int | None) -> np.ndarray:
    """Write an animated GIF (``loop``: Pillow's, plays after the first); return its RGB frames."""
    pictures = [Image.fromarray(pixels(20, 30, 3)) for _ in durations]
    extra = {} if loop is None else {"loop": loop}
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, **extra)
    with Image.open(path) as image:  # the frames as Pillow decodes them
        found = []
        for index in range(image.n_frames):
            image.seek(index)
            found.append(np.array(image.convert("RGB")))
    return np.stack(found)


def avif_timing(data: bytes) -> tuple[list[int], int]:
    """Each picture's duration (ms, Pillow's libavif) and the plays, from the ISO boxes' formula.

    The plays: the track's duration (tkhd) over its edit's (elst) when the
    edit repeats (ISO/IEC 14496-12 8.6.6: flags 1), 0 for an unknown track duration.
    """
    with Image.open(io.BytesIO(data)) as image:
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            durations.append(image.info["duration"])
    tkhd, elst = data.index(b"tkhd"), data.index(b"elst")
    assert data[tkhd + 4] == 1
    assert data[elst + 4] == 1
    (track,) = struct.unpack_from(">Q", data, tkhd + 4 + 28)
    (edit,) = struct.unpack_from(">Q", data, elst + 4 + 8)
    repeats = data[elst + 7] & 1
    plays = 1 if not repeats else 0 if track == (1 << 64) - 1 else -(-track // edit)
    return durations, plays


@needs_libjxl
def test_an_animation_written_as_jpeg_xl_keeps_its_frames_durations_and_plays(tmp_path):
    source, out = tmp_path / "in.gif", tmp_path / "out.jxl"
    expected = gif_animation(source, [50, 120, 300], loop=2)  # plays three times
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert np.array_equal(imagecodecs.jpegxl_decode(data), expected)  # lossless: every frame
    assert milliseconds(data) == [50, 120, 300]
    assert read(data).loops == 3
    found = jxl.read_header(io.BytesIO(data))  # convcli's own reading agrees
    assert (found.frames, found.durations, found.plays) == (3, (50, 120, 300), 3)


def test_an_animation_written_as_avif_keeps_its_frames_durations_and_plays(tmp_path):
    source, out = tmp_path / "in.gif", tmp_path / "out.avif"
    expected = gif_animation(source, [50, 120, 300], loop=2)
    result = run("apply", str(source), "-k", "identity", "--quality", "100", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert np.array_equal(imagecodecs.avif_decode(data), expected)  # --quality 100: lossless
    assert avif_timing(data) == ([50, 120, 300], 3)
    back = tmp_path / "back.gif"
    assert run("apply", str(out), "-k", "identity", "-o", str(back), "-q").exit_code == 0
    _, durations, loop = frames_of(back)
    assert (durations, loop) == ([50, 120, 300], 2)  # read back by convcli: plays three times


def test_an_animation_with_alpha_keeps_it_in_avif_on_both_tracks(tmp_path):
    source, out = tmp_path / "in.png", tmp_path / "out.avif"
    frames = [pixels(8, 9, 4) for _ in range(3)]
    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=[30, 60, 90],
                     loop=4)  # fmt: skip
    expected, _, _ = frames_of(source)
    result = run("apply", str(source), "-k", "identity", "--quality", "100", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert data.count(b"trak") == 2  # colour, and alpha beside it
    assert np.array_equal(imagecodecs.avif_decode(data), expected)
    assert avif_timing(data) == ([30, 60, 90], 4)


@pytest.mark.parametrize(("loop", "plays"), [(None, 1), (0, 0)])
def test_an_avif_plays_once_or_forever_as_its_input(tmp_path, loop, plays):
    source, out = tmp_path / "in.gif", tmp_path / "out.avif"
    gif_animation(source, [40, 40], loop=loop)  # no loop extension: plays once
    assert run("apply", str(source), "-k", "identity", "-o", str(out), "-q").exit_code == 0
    assert avif_timing(out.read_bytes()) == ([40, 40], plays)


def test_a_10_bit_avif_sequence_keeps_its_bits_frames_and_durations(tmp_path):
    source, out = tmp_path / "in.avif", tmp_path / "out.avif"
    frames = RNG.integers(0, 1024, (3, 10, 14, 3), dtype=np.uint16)
    source.write_bytes(imagecodecs.avif_encode(frames, level=100, speed=8, bitspersample=10))
    reference = imagecodecs.avif_decode(source.read_bytes())
    result = run("apply", str(source), "-k", "identity", "--quality", "100", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    written = imagecodecs.avif_decode(out.read_bytes())
    assert written.dtype == np.uint16
    assert np.array_equal(written, reference)
    assert avif_timing(out.read_bytes()) == ([1000] * 3, 0)  # imagecodecs' 1 s each, forever


@needs_libjxl
def test_a_16_bit_jpeg_xl_animation_is_filtered_frame_by_frame(tmp_path):
    source, out = tmp_path / "in.jxl", tmp_path / "out.jxl"
    frames = RNG.integers(0, 65536, (3, 12, 16, 3), dtype=np.uint16)
    source.write_bytes(imagecodecs.jpegxl_encode(frames, lossless=True))
    reference = imagecodecs.jpegxl_decode(source.read_bytes()).astype(np.float64) / 65535
    result = run("apply", str(source), "-k", "box", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    written = imagecodecs.jpegxl_decode(out.read_bytes())
    box = np.ones((3, 3, 1)) / 9
    expected = [ndimage.correlate(frame, box, mode="mirror") for frame in reference]
    assert written.dtype == np.uint16
    assert np.abs(written / 65535 - np.stack(expected)).max() <= 1 / 65535
    assert milliseconds(out.read_bytes()) == [100.0] * 3  # imagecodecs' 10 ticks a second


@needs_libjxl
def test_grey_pages_of_any_width_and_mixed_depths_stay_grey_frames(tmp_path):
    import tifffile

    source, out = tmp_path / "in.tif", tmp_path / "out.jxl"
    narrow = RNG.integers(0, 256, (5, 3), dtype=np.uint8)  # 3 wide: not to be taken for RGB
    deep = RNG.integers(0, 65536, (5, 3), dtype=np.uint16)
    with tifffile.TiffWriter(source) as tiff:
        tiff.write(narrow)
        tiff.write(deep)
    result = run("apply", str(source), "-k", "identity", "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    written = imagecodecs.jpegxl_decode(out.read_bytes())
    assert np.array_equal(written, np.stack([narrow.astype(np.uint16) * 257, deep]))
    assert milliseconds(out.read_bytes()) == [100.0, 100.0]  # a page has no duration of its own


@needs_libjxl
def test_a_frame_of_no_duration_stays_a_frame_in_jpeg_xl(tmp_path):
    source, out = tmp_path / "in.gif", tmp_path / "out.jxl"
    expected = gif_animation(source, [80, 0, 80], loop=0)
    _, durations, _ = frames_of(source)
    assert durations == [80, 0, 80]  # as Pillow reads the GIF
    assert run("apply", str(source), "-k", "identity", "-o", str(out), "-q").exit_code == 0
    assert np.array_equal(imagecodecs.jpegxl_decode(out.read_bytes()), expected)
    assert milliseconds(out.read_bytes()) == [80, 1, 80]  # (0 would make it a layer of the next)


@given(
    st.lists(st.integers(1, 1 << 20), min_size=2, max_size=4),
    st.integers(0, 1 << 16),
    st.sampled_from([FileFormat.AVIF, FileFormat.JXL]),
)
@settings(max_examples=25, deadline=None)
def test_any_durations_and_plays_are_written_as_given(durations, plays, kind):
    frames = [pixels(6, 7, 3) for _ in durations]
    stream = io.BytesIO()
    encode_animation(stream, frames, durations, plays, Metadata(), None, kind)
    data = stream.getvalue()
    if kind == FileFormat.AVIF:
        assert avif_timing(data) == (durations, plays)
    elif LIBJXL is not None:
        assert milliseconds(data) == durations
        assert read(data).loops == plays
    found = read_layout(io.BytesIO(data), kind)  # convcli's own reading
    assert (found.frames, found.durations, found.plays) == (len(durations), tuple(durations), plays)


RAW_HEADERS = {
    "photo.crw": b"II\x1a\x00\x00\x00HEAPCCDR\x01\x00\x01\x00" + bytes(64),  # Canon CIFF
    "photo.mrw": b"\x00MRM\x00\x00\x00\x40" + bytes(64),  # Minolta
    "photo.x3f": b"FOVb\x00\x00\x02\x00" + bytes(64),  # Sigma
}


@pytest.mark.parametrize("name", sorted(RAW_HEADERS))
def test_crw_mrw_and_x3f_are_camera_raw_and_need_the_raw_extra(tmp_path, monkeypatch, name):
    raw_file, picture = tmp_path / name, tmp_path / "fine.png"
    raw_file.write_bytes(RAW_HEADERS[name])
    Image.fromarray(pixels(4, 5, 3)).save(picture)
    monkeypatch.setitem(sys.modules, "rawpy", None)
    result = run("apply", str(raw_file), str(picture), "-k", "identity", "-q")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        f"convcli: error: {raw_file}: reading it needs rawpy, which comes with the raw extra: "
        'pip install "convcli[raw]"'
    ]
    assert any(tmp_path.glob("fine*.png"))  # the other input ran


@pytest.mark.parametrize("name", sorted(RAW_HEADERS))
def test_a_crw_mrw_or_x3f_libraw_refuses_is_one_line(tmp_path, name):
    pytest.importorskip("rawpy")
    source = tmp_path / name
    source.write_bytes(RAW_HEADERS[name])
    result = run("apply", str(source), "-k", "identity", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"convcli: error: {source}: cannot read image: LibRaw cannot read it: ")
