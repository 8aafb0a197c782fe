"""An output encoded beside its filtering (run/streaming.py) is the file written after it.

The encoder reads each band of rows once the pipeline says it is final. The
writers are fed rows that exist only once asked for (anything read sooner
is garbage, and changes the bytes); the command line's files are compared
with the same run written after the filtering, whatever ``-j``; failures on
either side leave no file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import mmap
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import convcli.io.png
import convcli.ranges
import convcli.run.filtering
import convcli.run.pipeline
from convcli.io.formats import output_format
from convcli.io.png import write_png
from convcli.io.writing import write_image
from convcli.run.streaming import Abandoned, Rows, Writer
from helpers import run

RNG = np.random.default_rng(25)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


class LateRows:
    """Rows that hold garbage until the writer waits for them, and again once it took them."""

    def __init__(self, final: np.ndarray) -> None:
        self.final = final
        self.pixels = np.full_like(final, 77)  # what an early or a late read would see
        self.made = 0
        self.gone = 0
        self.lock = threading.Lock()

    def wait(self, stop: int) -> None:
        with self.lock:
            assert stop > self.gone, "asked again for rows it said it took"
            self.pixels[self.made : stop] = self.final[self.made : stop]
            self.made = max(self.made, stop)

    def taken(self, stop: int) -> None:
        with self.lock:
            self.pixels[self.gone : stop] = 99
            self.gone = max(self.gone, stop)


def png_bytes(pixels: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    write_png(buffer, pixels, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("dtype", "level", "threads"),
    [(np.uint8, None, 1), (np.uint8, None, 2), (np.uint8, 6, None), (np.uint16, None, 3)],
)
def test_the_png_writer_reads_each_band_only_once_it_is_ready(dtype, level, threads):
    high = 256 if dtype == np.uint8 else 65536
    final = RNG.integers(0, high, size=(1300, 1400, 3), dtype=dtype)  # 3 to 11 MB: 1 to 2 groups
    final[200:700] = 0  # a band left unfiltered beside bands filtered with Up
    late = LateRows(final)
    streamed = png_bytes(late.pixels, level=level, threads=threads, arriving=late)
    assert late.made == late.gone == len(final)
    assert streamed == png_bytes(final, level=level, threads=threads)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(streamed))).astype(dtype), final) or (
        dtype == np.uint16  # Pillow reads 16-bit RGB at 8 bits: the bytes are the test there
    )


@pytest.mark.parametrize("shape", [(900, 1300, 3), (900, 1300)])
def test_pillow_takes_the_rows_of_a_jpeg_as_they_come(shape):
    final = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    late = LateRows(final)
    streamed, whole = io.BytesIO(), io.BytesIO()
    jpeg = output_format("jpg")
    write_image(streamed, late.pixels, None, jpeg, quality=80, arriving=late)
    write_image(whole, final, None, jpeg, quality=80)
    assert late.made == len(final)
    assert late.gone == (len(final) if len(shape) == 3 else 0)  # grey: Pillow reads the array
    assert streamed.getvalue() == whole.getvalue()


def test_a_writer_waits_for_rows_made_in_another_thread():
    rows = Rows((8, 2), np.dtype(np.uint8))
    seen: list[int] = []

    def make() -> None:
        for stop in range(1, 9):
            rows.values[stop - 1] = stop
            rows.finish(stop)

    maker = threading.Thread(target=make)
    maker.start()
    for stop in (3, 8):
        rows.wait(stop)
        seen.append(int(rows.values[:stop, 0].sum()))
    maker.join()
    assert seen == [1 + 2 + 3, sum(range(1, 9))]


def test_rows_taken_are_let_go_in_whole_pages():
    page = mmap.PAGESIZE
    rows = Rows((5, page // 2 * 3), np.dtype(np.uint16))  # three pages a row
    rows.values[:] = 9
    rows.taken(2)  # six pages
    assert not rows.values[:2].any()  # given back: they read as zeros
    assert (rows.values[2:] == 9).all()
    rows.values[1] = 4  # written again, they are memory again
    assert (rows.values[1] == 4).all()


def test_abandoned_rows_stop_both_sides():
    rows = Rows((4, 1), np.dtype(np.uint8))
    rows.abandon()
    with pytest.raises(Abandoned):
        rows.wait(1)
    with pytest.raises(Abandoned):
        rows.finish(1)


# --- through the command line -------------------------------------------------------------


@pytest.fixture
def photo(tmp_path) -> Path:
    """A 1500x2000 RGB photo-to-be: 9 MB of rows, two of the PNG writer's groups."""
    smooth = ndimage.uniform_filter(RNG.integers(0, 256, size=(1500, 2000, 3)), size=(9, 9, 1))
    path = tmp_path / "photo.png"
    Image.fromarray(smooth.astype(np.uint8)).save(path)
    return path


def streamed_runs(monkeypatch) -> list[bool]:
    """Record, for each output, whether it was written beside its filtering."""
    started: list[bool] = []
    start = Writer.start

    def spy(self, *args, **kwargs):
        rows = start(self, *args, **kwargs)
        started.append(rows is not None)
        return rows

    monkeypatch.setattr(Writer, "start", spy)
    return started


def written(source: Path, target: Path, *options: str) -> bytes:
    done = run("apply", str(source), "-o", str(target), "-q", *options)
    assert done.exit_code == 0, done.stderr
    return target.read_bytes()


@pytest.mark.parametrize(
    ("suffix", "options"),
    [
        (".png", ("-k", "sobel-x", "--range", "clip")),  # the exact integer path
        (".png", ("-k", "sobel-x", "--range", "rescale")),  # two passes: bounds, then rows
        (".png", ("-k", "sobel", "--gray")),  # two components, float, grey
        (".jpg", ("-k", "sobel-x", "--range", "abs")),
        (".jpg", ("-k", "box:5", "--gray")),
    ],
)
def test_an_output_written_beside_its_filtering_is_the_file_written_after_it(
    photo, tmp_path, monkeypatch, suffix, options
):
    started = streamed_runs(monkeypatch)
    beside = [written(photo, tmp_path / f"j{jobs}{suffix}", *options, "-j", jobs)
              for jobs in ("1", "2")]  # fmt: skip
    assert True in started  # one of them was written beside its filtering
    monkeypatch.setattr(Writer, "wanted", staticmethod(lambda *args: False))
    after = written(photo, tmp_path / f"after{suffix}", *options)
    assert beside == [after, after]


def test_the_streamed_png_holds_the_clipped_sobel_response(photo, tmp_path, monkeypatch):
    started = streamed_runs(monkeypatch)
    data = written(photo, tmp_path / "out.png", "-k", "sobel-x", "--range", "clip", "-j", "1")
    assert started == [True]
    pixels = np.asarray(Image.open(photo)).astype(np.int32)
    sums = np.stack([ndimage.correlate(pixels[..., c], SOBEL_X, mode="mirror") for c in range(3)],
                    axis=-1)  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.clip(sums, 0, 255))


def test_a_sixteen_bit_png_streams_at_its_depth(tmp_path, monkeypatch):
    ramp = np.add.outer(np.arange(1400), np.arange(1500)).astype(np.uint16) * 20
    source = tmp_path / "deep.png"
    Image.fromarray(ramp).save(source)
    started = streamed_runs(monkeypatch)
    beside = written(source, tmp_path / "beside.png", "-k", "sobel-y", "--range", "abs")
    monkeypatch.setattr(Writer, "wanted", staticmethod(lambda *args: False))
    after = written(source, tmp_path / "after.png", "-k", "sobel-y", "--range", "abs")
    assert started == [True]
    assert beside == after
    assert Image.open(io.BytesIO(beside)).mode == "I;16"


def failing_after(monkeypatch, bands: int, error: BaseException) -> list[int]:
    """Make the mapping of exact sums raise ``error`` at its band number ``bands``; count calls."""
    calls: list[int] = []
    mapped = convcli.ranges.Levels.map

    def failing(self, sums, out):
        calls.append(len(sums))
        if len(calls) == bands:
            raise error
        return mapped(self, sums, out)

    monkeypatch.setattr(convcli.ranges.Levels, "map", failing)
    return calls


@pytest.mark.parametrize(
    ("error", "code", "said"),
    [(MemoryError(), 1, "photo.png: out of memory"), (KeyboardInterrupt(), 130, "interrupted")],
)
def test_filtering_that_fails_beside_its_writer_leaves_no_file(
    photo, tmp_path, monkeypatch, error, code, said
):
    started = streamed_runs(monkeypatch)
    failing_after(monkeypatch, 5, error)
    threads = threading.active_count()
    done = run("apply", str(photo), "-k", "sobel-x", "-o", str(tmp_path / "out.png"), "-q")
    assert started == [True]
    assert done.exit_code == code
    assert said in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]  # no file, no .part
    assert threading.active_count() == threads  # the writer stopped


def test_a_writer_that_fails_stops_the_filtering_and_says_why(photo, tmp_path, monkeypatch):
    started = streamed_runs(monkeypatch)
    calls = failing_after(monkeypatch, 0, AssertionError("never"))  # counts the bands only

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convcli.io.png, "_deflate", full)
    target = tmp_path / "out.png"
    done = run("apply", str(photo), "-k", "sobel-x", "-o", str(target), "-q")
    assert started == [True]
    assert done.exit_code == 1
    assert done.stderr.strip() == f"convcli: error: {target}: cannot write: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
    assert sum(calls) < 1500  # it stopped before the last rows (unless they were all made)


def test_a_batch_with_one_thread_each_writes_after_filtering(photo, tmp_path, monkeypatch):
    """``-j 2`` on several inputs gives each one thread: nothing runs beside it."""
    second = tmp_path / "second.png"
    second.write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    done = run("apply", str(photo), str(second), "-k", "sobel-x", "-o", f"{out}/", "-j", "2",
               "-q")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert len(digests) == 1  # the same pixels, the same bytes
    assert Writer.wanted(out / "x.png", 1, make_folder=True) is False


def test_rows_made_elsewhere_are_written_after_the_filtering(photo, tmp_path, monkeypatch):
    """A last stage that fills its own array, not the writer's: no hang, the usual file."""
    after = written(photo, tmp_path / "after.png", "-k", "sobel-x", "-j", "1")
    started = streamed_runs(monkeypatch)
    mapped = convcli.run.filtering.filter_and_map

    def elsewhere(*args, **kwargs):
        return mapped(*args[:6])  # without the writer's rows

    monkeypatch.setattr(convcli.run.pipeline, "filter_and_map", elsewhere)
    threads = threading.active_count()
    assert written(photo, tmp_path / "out.png", "-k", "sobel-x", "-j", "1") == after
    assert started == [True]
    assert threading.active_count() == threads


def test_a_small_output_is_written_after_its_filtering(tmp_path, monkeypatch):
    source = tmp_path / "small.png"
    Image.fromarray(RNG.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)).save(source)
    started = streamed_runs(monkeypatch)
    written(source, tmp_path / "out.png", "-k", "sobel-x", "-j", "1")
    assert started == [False]  # 360 KB of samples: no thread for it


def test_a_pillow_that_copies_shared_images_still_gets_the_rows(monkeypatch):
    """Should ``frombytes`` stop writing through a shared image, the array is copied whole."""
    final = RNG.integers(0, 256, size=(700, 1600, 3), dtype=np.uint8)
    late = LateRows(final)
    whole = io.BytesIO()
    write_image(whole, final, None, output_format("jpg"), quality=90)
    unpack = Image.Image.frombytes

    def copying(self, *args, **kwargs):
        self._copy()  # what Image._ensure_mutable does to a shared, read-only image
        return unpack(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "frombytes", copying)
    streamed = io.BytesIO()
    write_image(streamed, late.pixels, None, output_format("jpg"), quality=90, arriving=late)
    assert streamed.getvalue() == whole.getvalue()
