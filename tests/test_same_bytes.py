"""`-j N` writes the same bytes as `-j 1`, in every output format.

People hash, cache and sync outputs: a rerun with another `-j` must not look
like a change. `-j 1` filters in this process with one thread per CPU; `-j 2`
in two worker processes of one thread each, so a writer that let the thread
count shape its file (the PNG writer's groups of rows did) shows here.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli.io.png import write_png
from helpers import run

RNG = np.random.default_rng(24)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def written_with(jobs: str, inputs: list[Path], folder: Path, *options: str) -> dict[str, str]:
    done = run("apply", *map(str, inputs), "-k", "sobel-x", "-o", f"{folder}/", "-j", jobs, "-q",
               *options)  # fmt: skip
    assert done.exit_code == 0, done.stderr
    return digests(folder)


@pytest.fixture
def pictures(tmp_path) -> list[Path]:
    """Two small photos-to-be, one with alpha (the writers that composite it run too)."""
    paths = []
    for name, shape in (("rgb.png", (60, 80, 3)), ("rgba.png", (50, 40, 4))):
        Image.fromarray(RNG.integers(0, 256, size=shape, dtype=np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif", "webp", "bmp", "gif", "npy"])
def test_every_format_is_the_same_bytes_with_one_or_two_workers(tmp_path, pictures, fmt):
    one = written_with("1", pictures, tmp_path / "one", "--format", fmt)
    two = written_with("2", pictures, tmp_path / "two", "--format", fmt)
    assert len(one) == 2
    assert one == two


@pytest.mark.parametrize("suffix", [".png", ".gif", ".webp", ".tif"])
def test_animations_and_stacks_are_the_same_bytes_with_one_or_two_workers(tmp_path, suffix):
    frames = [RNG.integers(0, 256, size=(30, 40, 3), dtype=np.uint8) for _ in range(3)]
    inputs = [tmp_path / f"{name}{suffix}" for name in ("a", "b")]
    for path in inputs:
        if suffix == ".tif":
            tifffile.imwrite(path, np.stack(frames), photometric="rgb")
        else:
            first, *rest = (Image.fromarray(frame) for frame in frames)
            first.save(path, save_all=True, append_images=rest, duration=80, loop=0)
    one = written_with("1", inputs, tmp_path / "one")
    two = written_with("2", inputs, tmp_path / "two")
    assert one == two
    with Image.open(tmp_path / "one" / f"a_sobel-x{suffix}") as written:
        assert getattr(written, "n_frames", 1) == 3  # the frames were written, not one


def test_a_large_sixteen_bit_png_is_the_same_bytes_with_one_or_two_workers(tmp_path):
    # 2100 x 2100 16-bit: 8.8 MB of rows, two of the writer's groups, compressed in two
    # threads with -j 1 on two CPUs and in one with -j 2. Pixels equal was never the question.
    ramp = np.add.outer(np.arange(2100), np.arange(2100)).astype(np.uint16) * 15
    inputs = [tmp_path / "a.tif", tmp_path / "b.tif"]
    for path, offset in zip(inputs, (0, 1000), strict=True):
        tifffile.imwrite(path, ramp + np.uint16(offset))
    one = written_with("1", inputs, tmp_path / "one", "--format", "png")
    two = written_with("2", inputs, tmp_path / "two", "--format", "png")
    assert one == two
    with Image.open(tmp_path / "one" / "a_sobel-x.png") as written:
        assert written.mode == "I;16"  # the depth the case is about


@pytest.mark.parametrize("level", [None, 6])
def test_the_png_writer_writes_the_same_bytes_in_any_number_of_threads(level):
    pixels = RNG.integers(0, 4096, size=(1700, 1500, 3), dtype=np.uint16)  # 15 MB: 3 groups
    files = []
    for threads in (1, 2, 3, None):
        buffer = io.BytesIO()
        write_png(buffer, pixels, level, threads)
        files.append(buffer.getvalue())
    assert all(data == files[0] for data in files[1:])
    assert Image.open(io.BytesIO(files[0])).size == (1500, 1700)


@pytest.mark.parametrize("suffix", ["tif", "npy", "zarr"])
def test_tiles_computed_in_one_or_two_threads_are_the_same_bytes(tmp_path, suffix):
    pytest.importorskip("dask")
    source = tmp_path / "scan.npy"
    np.save(source, RNG.random((300, 260), dtype=np.float32) * 255)
    written = []
    for jobs in ("1", "2"):
        target = tmp_path / f"out{jobs}.{suffix}"
        done = run("apply", str(source), "-k", "sobel-x", "--tile", "64", "-j", jobs, "-o",
                   str(target), "-q")  # fmt: skip
        assert done.exit_code == 0, done.stderr
        files = sorted(target.rglob("*")) if target.is_dir() else [target]
        written.append({str(p.relative_to(target)): p.read_bytes() for p in files if p.is_file()})
    assert written[0]
    assert written[0] == written[1]
