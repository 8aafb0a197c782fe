"""Every frame: animated GIF, PNG and WebP, and multi-page TIFF, filtered frame by frame."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import convcli.io.checks
from helpers import run

EXIFTOOL = shutil.which("exiftool")
DURATIONS = [40, 120, 200]
LEVELS = [30, 120, 220]  # each frame flat at one grey: box leaves it as it is


def frames(mode: str = "RGB") -> list[Image.Image]:
    return [Image.new(mode, (16, 12), (level,) * len(mode)) for level in LEVELS]


def animation(path: Path, **options: object) -> Path:
    first, *rest = frames()
    first.save(path, save_all=True, append_images=rest, duration=DURATIONS, loop=3, **options)
    return path


def apply(*args: str):
    result = run("apply", *args)
    assert result.exit_code == 0, result.stderr
    return result


def read_frames(path: Path) -> tuple[list[np.ndarray], list[int | None], int | None]:
    with Image.open(path) as image:
        pixels, durations = [], []
        for index in range(image.n_frames):
            image.seek(index)
            pixels.append(np.asarray(image.convert("RGB")))
            durations.append(image.info.get("duration"))
        return pixels, durations, image.info.get("loop")


@pytest.mark.parametrize("suffix", ["gif", "png", "webp"])
def test_every_frame_is_filtered_and_the_timing_kept(tmp_path, suffix):
    source = animation(
        tmp_path / f"in.{suffix}", **({"lossless": True} if suffix == "webp" else {})
    )
    out = tmp_path / f"out.{suffix}"
    apply(str(source), "-k", "box", "-o", str(out), "-q")
    pixels, durations, loop = read_frames(out)
    assert [int(frame.mean()) for frame in pixels] == LEVELS
    assert durations == DURATIONS
    assert loop == 3


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_an_independent_reader_counts_the_frames(tmp_path):
    out = tmp_path / "out.png"
    apply(str(animation(tmp_path / "in.gif")), "-k", "box", "-o", str(out), "-q")
    tags = json.loads(subprocess.run([EXIFTOOL, "-j", "-n", str(out)], capture_output=True,
                                     check=True, text=True).stdout)[0]  # fmt: skip
    assert tags["AnimationFrames"] == 3
    assert tags["AnimationPlays"] == 4  # a GIF's loop=3 repeats it 3 times after the first


def test_a_multi_page_16_bit_tiff_keeps_every_page_at_its_depth(tmp_path):
    imagecodecs = pytest.importorskip("imagecodecs", reason="the codecs extra is not installed")
    pages = np.random.default_rng(5).integers(0, 65536, (4, 9, 11, 3), dtype=np.uint16)
    source, out = tmp_path / "stack.tif", tmp_path / "out.tif"
    with tifffile.TiffWriter(source) as writer:
        for page in pages:
            writer.write(page, photometric="rgb")
    apply(str(source), "-k", "identity", "-o", str(out), "-q")
    data = out.read_bytes()
    for index, page in enumerate(pages):  # libtiff reads each page
        np.testing.assert_array_equal(imagecodecs.tiff_decode(data, index=index), page)


def test_frame_takes_one_frame(tmp_path):
    out = tmp_path / "second.png"
    apply(str(animation(tmp_path / "in.gif")), "-k", "box", "--frame", "1", "-o", str(out), "-q")
    with Image.open(out) as image:
        assert not getattr(image, "is_animated", False)
        assert int(np.asarray(image).mean()) == LEVELS[1]


def test_frame_is_named_in_the_default_output(tmp_path):
    source = animation(tmp_path / "in.gif")
    apply(str(source), "-k", "box", "--frame", "2", "-q")
    assert (tmp_path / "in_box_f2.gif").exists()


def test_a_frame_past_the_last_is_a_usage_error(tmp_path):
    result = run("apply", str(animation(tmp_path / "in.gif")), "-k", "box", "--frame", "3")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "--frame 3 is past the last: the input has 3 frames, numbered from 0"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]


def test_a_format_with_one_frame_takes_the_first_and_says_so_once(tmp_path):
    first, second = animation(tmp_path / "a.gif"), animation(tmp_path / "b.gif")
    result = apply(str(first), str(second), "-k", "box", "-o", str(tmp_path / "out"),
                   "--format", "jpg", "-q")  # fmt: skip
    notes = [line for line in result.stderr.splitlines() if "holds one frame" in line]
    assert notes == [
        "convcli: note: jpg holds one frame: wrote the first of each animation or stack; "
        "--frame N writes another"
    ]
    with Image.open(tmp_path / "out" / "a_box.jpg") as image:
        assert abs(int(np.asarray(image).mean()) - LEVELS[0]) <= 1


def test_too_many_frames_are_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(convcli.io.checks, "MAX_FRAMES", 2)  # as imported there
    source = animation(tmp_path / "in.gif")
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.gif"))
    assert result.exit_code == 1
    assert "3 frames is over the limit of 2; --frame N takes one of them" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]
    taken = run("apply", str(source), "-k", "box", "--frame", "0", "-o", str(tmp_path / "o.gif"))
    assert taken.exit_code == 1  # the count is refused whichever frame is asked for


def test_the_dry_run_reports_frames_without_decoding_them(tmp_path):
    result = apply(str(animation(tmp_path / "in.webp")), "-k", "box", "--dry-run", "--json")
    assert json.loads(result.stdout)["input_shape"] == [12, 16, 3]


RGB, RGBA = dict(photometric="rgb"), dict(photometric="rgb", extrasamples=[2])


@pytest.mark.parametrize(
    ("pages", "unlike"),
    [
        ([(np.zeros((8, 8), np.uint8), {}), (np.zeros((6, 9), np.uint8), {})],
         "is 6x9 (rows x columns), unlike the first, 8x8 (rows x columns)"),
        # Same shape, the second page RGBA: the alpha is named, not "3 colour channels,
        # unlike the first, 3 colour channels".
        ([(np.full((5, 6, 3), 0.5, np.float32), RGB), (np.full((5, 6, 4), 0.5, np.float32), RGBA)],
         "has an alpha channel, unlike the first"),
    ],
    ids=["size", "alpha"],
)  # fmt: skip
def test_a_stack_whose_pages_differ_fails_alone_with_one_line(tmp_path, pages, unlike):
    source = tmp_path / "stack.tif"
    with tifffile.TiffWriter(source) as writer:
        for page, options in pages:
            writer.write(page, **options)
    result = run("apply", str(source), "-k", "box", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"convcli: error: {source}: frame 1 {unlike}; --frame 1 takes it alone"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]
    apply(str(source), "-k", "box", "--frame", "1", "-o", str(tmp_path / "one.tif"), "-q")


def with_default_image(path: Path) -> Path:
    """An APNG whose IDAT (frame 0 to Pillow) is a default image, not part of its animation."""
    shown, *animated = [Image.new("RGB", (16, 12), (level,) * 3) for level in [90, *LEVELS]]
    shown.save(path, save_all=True, append_images=animated, default_image=True,
               duration=DURATIONS, loop=2)  # fmt: skip
    with Image.open(path) as image:  # as Pillow shows it: the default image first
        assert image.info["default_image"]
        assert image.n_frames == 4
        image.seek(3)
        assert image.info["duration"] == DURATIONS[2]
    return path


@pytest.mark.parametrize("suffix", ["png", "gif"])
def test_an_apngs_default_image_is_not_one_of_its_frames(tmp_path, suffix):
    out = tmp_path / f"out.{suffix}"
    apply(str(with_default_image(tmp_path / "in.png")), "-k", "box", "-o", str(out), "-q")
    pixels, durations, _ = read_frames(out)
    assert [int(frame.mean()) for frame in pixels] == LEVELS
    assert durations == DURATIONS


def test_an_apngs_first_frame_is_its_animations_first(tmp_path):
    source = with_default_image(tmp_path / "in.png")
    for frame, level in [(None, LEVELS[0]), ("2", LEVELS[2])]:
        out = tmp_path / f"out{frame}.jpg"
        apply(str(source), "-k", "box", "-o", str(out), "-q", *(["--frame", frame] * bool(frame)))
        with Image.open(out) as image:
            assert abs(int(np.asarray(image).mean()) - level) <= 1
    result = run("apply", str(source), "-k", "box", "--frame", "3")
    assert result.exit_code == 2
    assert "the input has 3 frames" in result.stderr


def loops(path: Path) -> int | None:
    with Image.open(path) as image:
        return image.info.get("loop")


# How many times each plays, as its loop field says: a GIF's loop extension counts the plays
# after the first (browsers play loop=N N+1 times), and a GIF without one plays once; APNG's
# num_plays and WebP's loop count count every play. 0 is forever in all three.
PLAYS_AS_WRITTEN = {
    "once": {"gif": None, "png": 1, "webp": 1},
    "twice": {"gif": 1, "png": 2, "webp": 2},
    "forever": {"gif": 0, "png": 0, "webp": 0},
}


@pytest.mark.parametrize("plays", PLAYS_AS_WRITTEN)
@pytest.mark.parametrize("given", ["gif", "png"])
def test_an_animation_plays_as_often_in_every_format(tmp_path, plays, given):
    first, *rest = frames()
    source = tmp_path / f"in.{given}"
    loop = PLAYS_AS_WRITTEN[plays][given]
    first.save(source, save_all=True, append_images=rest, duration=DURATIONS,
               **({} if loop is None else {"loop": loop}))  # fmt: skip
    assert loops(source) == loop  # Pillow leaves out the GIF's loop extension without loop=
    for suffix, expected in PLAYS_AS_WRITTEN[plays].items():
        out = tmp_path / f"out.{suffix}"
        apply(str(source), "-k", "box", "-o", str(out), "-q")
        assert loops(out) == expected, suffix


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_a_gif_without_a_loop_extension_makes_an_apng_of_one_play(tmp_path):
    first, *rest = frames()
    source, out = tmp_path / "once.gif", tmp_path / "out.png"
    first.save(source, save_all=True, append_images=rest, duration=DURATIONS)
    apply(str(source), "-k", "box", "-o", str(out), "-q")
    tags = json.loads(subprocess.run([EXIFTOOL, "-j", "-n", str(out)], capture_output=True,
                                     check=True, text=True).stdout)[0]  # fmt: skip
    assert tags["AnimationPlays"] == 1
