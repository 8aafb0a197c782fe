"""An input's decode started ahead, in a thread, while the program imports the rest.

The pixels expected are Pillow's (its own decoder, not imagecodecs'). Every
decode imagecodecs makes for a read is counted (``decodes``: by the
pipeline's read, or ahead of it), and those made ahead apart
(``decoded_ahead``): a file is decoded once.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

import convcli
from convcli.io import readahead
from convcli.io.deep import jpeg_frame
from convcli.io.reading import read_image
from helpers import SAMPLES, count_direct_decodes, encode, run

LARGE = (1100, 1000)  # width, height: over a megapixel, decoded by imagecodecs


def photo(mode: str = "RGB", size: tuple[int, int] = LARGE, turn: int = 0) -> Image.Image:
    with Image.open(SAMPLES / "astronaut.png") as image:
        return image.convert("RGB").resize(size).rotate(turn).convert(mode)


@pytest.fixture
def decodes(monkeypatch):
    """Count the PNGs and JPEGs imagecodecs decodes (their sizes), ahead or not."""
    return count_direct_decodes(monkeypatch, "decode_png"), count_direct_decodes(
        monkeypatch, "decode_jpeg"
    )


@pytest.fixture
def decoded_ahead(monkeypatch) -> list[str]:
    """Count the files decoded ahead (the decoders the thread calls)."""
    calls: list[str] = []

    def counted(name: str):
        decode = getattr(readahead, name)

        def call(data: bytes):
            calls.append(name)
            return decode(data)

        return call

    for name in ("decode_png", "decode_jpeg"):
        monkeypatch.setattr(readahead, name, counted(name))
    return calls


def started(path: Path, max_pixels: int | None = None):
    """Start the decode of ``path`` ahead; return the block and the decode it started (or None)."""
    block = readahead.read_ahead(str(path), max_pixels)
    block.__enter__()
    return block, readahead._pending


def jpeg_with_metadata(path: Path, mode: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112], exif[0x0131] = 6, "a camera"  # turned a quarter; Software
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(photo(mode), "JPEG", exif=exif, icc_profile=profile, dpi=(300, 300))
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_decoded_ahead_is_read_as_the_pipeline_reads_it(
    tmp_path, mode, decodes, decoded_ahead
):
    source = tmp_path / "photo.jpg"
    data = jpeg_with_metadata(source, mode)
    block, pending = started(source)
    assert pending is not None
    ahead = read_image(source)
    block.__exit__(None, None, None)
    assert decodes == ([], [len(data)])
    assert decoded_ahead == ["decode_jpeg"]  # and taken: the read made none
    read = read_image(source)
    assert decodes == ([], [len(data)] * 2)
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray(ImageOps.exif_transpose(image))  # Pillow's, turned upright
    np.testing.assert_array_equal(ahead.pixels, expected)
    assert ahead.metadata == read.metadata
    assert ahead.metadata.software == "a camera"
    assert ahead.header == read.header


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_a_png_decoded_ahead_is_read_as_the_pipeline_reads_it(
    tmp_path, mode, decodes, decoded_ahead
):
    source = tmp_path / "in.png"
    photo(mode).save(source, dpi=(72, 72))
    block, pending = started(source)
    assert pending is not None
    ahead = read_image(source)
    block.__exit__(None, None, None)
    read = read_image(source)
    assert decodes == ([source.stat().st_size] * 2, [])
    assert decoded_ahead == ["decode_png"]
    with Image.open(source) as image:
        expected = np.asarray(image)
    colour = expected[..., :3] if mode == "RGBA" else expected
    np.testing.assert_array_equal(ahead.pixels, colour)
    if mode == "RGBA":
        np.testing.assert_array_equal(ahead.alpha, expected[..., 3])
    assert ahead.metadata == read.metadata
    assert ahead.header == read.header


def test_a_file_replaced_after_its_decode_ahead_is_read_anew(tmp_path, decodes, decoded_ahead):
    source, other = tmp_path / "in.png", tmp_path / "other.png"
    photo().save(source)
    photo(turn=180).save(other)
    block, pending = started(source)
    pending.thread.join()
    assert decoded_ahead == ["decode_png"]  # the old file's pixels
    os.replace(other, source)
    picture = read_image(source)
    block.__exit__(None, None, None)
    assert len(decodes[0]) == 2  # the new file's by the read
    with Image.open(source) as image:
        np.testing.assert_array_equal(picture.pixels, np.asarray(image))


def test_a_file_rewritten_in_place_after_its_decode_ahead_is_read_anew(
    tmp_path, decodes, decoded_ahead
):
    source = tmp_path / "in.jpg"
    source.write_bytes(encode(photo(), "JPEG"))
    block, pending = started(source)
    pending.thread.join()
    with source.open("r+b") as stream:  # the same inode; its pixels another picture's
        stream.write(encode(photo(turn=180), "JPEG"))
        stream.truncate()
    picture = read_image(source)
    block.__exit__(None, None, None)
    assert len(decodes[1]) == 2
    assert decoded_ahead == ["decode_jpeg"]
    with Image.open(source) as image:
        np.testing.assert_array_equal(picture.pixels, np.asarray(image))


def test_another_file_does_not_take_what_was_decoded_ahead(tmp_path, decodes, decoded_ahead):
    source, other = tmp_path / "in.png", tmp_path / "other.png"
    photo().save(source)
    photo(turn=180).save(other)
    block, pending = started(source)
    read_image(other)
    assert readahead._pending is pending  # still there for its own file
    read_image(source)
    block.__exit__(None, None, None)
    assert len(decodes[0]) == 2  # each file once
    assert decoded_ahead == ["decode_png"]


@pytest.mark.parametrize(
    ("name", "make", "max_pixels"),
    [
        ("small.png", lambda p: photo(size=(64, 64)).save(p), None),  # Pillow's to decode
        ("large.png", lambda p: photo().save(p), 1_000_000),  # over --max-pixels
        ("palette.png", lambda p: photo("P").save(p), None),  # Pillow's: read, not decoded
        ("cmyk.jpg", lambda p: photo("CMYK").save(p), None),  # Pillow's inks
        ("cut.jpg", lambda p: p.write_bytes(encode(photo(), "JPEG")[:-500]), None),
        ("text.png", lambda p: p.write_text("not an image"), None),
        ("folder", lambda p: p.mkdir(), None),
        ("pipe.png", os.mkfifo, None),  # not even opened: its bytes are the pipeline's
        ("missing.png", lambda p: None, None),
    ],
)
def test_what_the_pipeline_would_not_decode_directly_is_not_decoded_ahead(
    tmp_path, name, make, max_pixels, decoded_ahead
):
    source = tmp_path / name
    make(source)
    block, pending = started(source, max_pixels)
    block.__exit__(None, None, None)
    assert decoded_ahead == []
    assert pending is None or pending.array is None


def test_a_jpeg_with_absurd_metadata_is_not_decoded_ahead(tmp_path, decoded_ahead):
    segment = b"\xff\xe1" + struct.pack(">H", 65535) + b"Exif\x00\x00" + bytes(65533 - 6)
    data = encode(photo(), "JPEG")
    fat = tmp_path / "fat.jpg"
    fat.write_bytes(data[:2] + segment * 300 + data[2:])
    block, pending = started(fat)
    block.__exit__(None, None, None)
    assert pending is None
    assert decoded_ahead == []


def broken_png(path: Path) -> None:
    data = bytearray(encode(photo(), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 400] = bytes(300)  # zlib's data, not its chunk: IEND follows
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "make", "options"),
    [
        ("broken.png", broken_png, ()),
        ("cut.jpg", lambda p: p.write_bytes(encode(photo(), "JPEG")[:-500]), ()),
        ("large.png", lambda p: photo().save(p), ("--max-pixels", "1000000")),
        ("missing.png", lambda p: None, ()),
    ],
)
def test_bad_input_gives_its_one_line_and_exit_code_as_without_reading_ahead(
    tmp_path, monkeypatch, name, make, options
):
    source = tmp_path / name
    make(source)
    command = ("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.png"), *options)
    ahead = run(*command)
    monkeypatch.setattr(readahead, "_started", lambda path, max_pixels: None)
    without = run(*command)
    assert ahead.exit_code == without.exit_code != 0
    assert ahead.stderr == without.stderr
    assert ahead.stderr.startswith(f"convcli: error: {source}: ")
    assert len(ahead.stderr.splitlines()) == 1


def record_starts(monkeypatch) -> list[str]:
    """Record the files whose decode is started ahead."""
    starts: list[str] = []
    original = readahead._started

    def recorded(path: Path, max_pixels: int):
        pending = original(path, max_pixels)
        if pending is not None:
            starts.append(path.name)
        return pending

    monkeypatch.setattr(readahead, "_started", recorded)
    return starts


def test_the_command_decodes_its_one_input_once(tmp_path, monkeypatch, decodes, decoded_ahead):
    starts = record_starts(monkeypatch)
    source = tmp_path / "in.jpg"
    source.write_bytes(encode(photo(), "JPEG"))
    result = run("apply", str(source), "-k", "identity", "-o", str(tmp_path / "out.png"), "-q")
    assert result.exit_code == 0, result.stderr
    assert starts == ["in.jpg"]
    assert decodes == ([], [source.stat().st_size])
    assert decoded_ahead == ["decode_jpeg"]
    assert readahead._pending is None
    with Image.open(source) as image, Image.open(tmp_path / "out.png") as out:
        np.testing.assert_array_equal(np.asarray(out), np.asarray(image))


@pytest.mark.parametrize(
    "options",
    [("--bank", "-k", "box"), ("--dry-run",), ("--skip-existing",), ("--frame", "1")],
    ids=["bank", "dry-run", "skip-existing", "frame"],
)
def test_runs_that_may_not_read_their_input_once_here_start_nothing(tmp_path, monkeypatch, options):
    starts = record_starts(monkeypatch)
    source = tmp_path / "in.png"
    photo().save(source)
    run("apply", str(source), "-k", "identity", "-o", str(tmp_path / "out/"), "-q", *options)
    assert starts == []


def test_a_batch_starts_nothing_and_writes_what_it_wrote(
    tmp_path, monkeypatch, decodes, decoded_ahead
):
    starts = record_starts(monkeypatch)
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo().save(inputs / "a.png")
    photo(turn=90).save(inputs / "b.png")
    for given in ([str(inputs)], [str(inputs / "a.png"), str(inputs / "b.png")]):
        out = tmp_path / f"out{len(given)}"
        result = run("apply", *given, "-k", "identity", "-o", f"{out}/", "-q", "-j", "1")
        assert result.exit_code == 0, result.stderr
        for name in ("a", "b"):
            (written,) = out.glob(f"{name}_*.png")
            with Image.open(inputs / f"{name}.png") as image, Image.open(written) as o:
                np.testing.assert_array_equal(np.asarray(o), np.asarray(image))
    assert starts == decoded_ahead == []
    assert len(decodes[0]) == 4  # each input decoded by its own read


def test_the_library_finds_no_handoff(tmp_path, decodes, decoded_ahead):
    source = tmp_path / "in.png"
    photo().save(source)
    result = run("apply", str(source), "-k", "identity", "-o", str(tmp_path / "out.png"), "-q")
    assert result.exit_code == 0, result.stderr
    assert readahead._pending is None
    image, _ = convcli.apply(source, "identity")
    assert decodes == ([source.stat().st_size] * 2, [])
    assert decoded_ahead == ["decode_png"]  # the command's alone
    with Image.open(source) as expected:
        np.testing.assert_array_equal(image.samples, np.asarray(expected))


@pytest.mark.parametrize(("mode", "components"), [("L", 1), ("RGB", 3), ("CMYK", 4)])
def test_a_jpegs_frame_header_is_read_as_pillow_reads_it(mode, components):
    data = encode(photo(mode, (301, 207)), "JPEG", exif=Image.Exif(), progressive=True)
    with Image.open(io.BytesIO(data)) as image:
        assert (image.width, image.height, image.mode) == (301, 207, mode)
    assert jpeg_frame(io.BytesIO(data), "photo.jpg") == (301, 207, components, 8)


def test_an_error_in_the_block_does_not_wait_for_the_decode(tmp_path, monkeypatch):
    source = tmp_path / "in.png"
    photo().save(source)
    release = threading.Event()
    decode = readahead.decode_png
    monkeypatch.setattr(readahead, "decode_png", lambda data: (release.wait(60), decode(data))[1])
    block, pending = started(source)
    error = convcli.KernelError("unknown kernel 'no-such-kernel'")
    assert block.__exit__(type(error), error, None) is False  # the error goes on, at once
    assert pending.thread.is_alive()  # left to end with the process
    assert readahead._pending is None
    release.set()
    pending.thread.join()
    assert pending.array is not None


def test_the_switch_interval_is_short_during_the_decode_and_restored_after(tmp_path, monkeypatch):
    """The decoders take the GIL back often: beside the imports, a short interval keeps them busy."""
    source = tmp_path / "photo.jpg"
    jpeg_with_metadata(source, "RGB")
    seen: list[float] = []

    def decode(data: bytes):
        seen.append(sys.getswitchinterval())

    monkeypatch.setattr(readahead, "decode_jpeg", decode)
    before = sys.getswitchinterval()
    block, pending = started(source)
    assert pending is not None
    pending.thread.join()
    block.__exit__(None, None, None)
    assert before > readahead.SWITCH_SECONDS
    assert seen == [readahead.SWITCH_SECONDS]
    assert sys.getswitchinterval() == before
