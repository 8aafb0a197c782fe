"""The shell's hostile corners, through real processes: closed and full streams, special
files, odd names, reports, and runs that share a folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from convcli.io.atomic import RUN_VARIABLE
from helpers import SAMPLES, run

COINS = SAMPLES / "coins.png"


def convcli(*args: str | bytes, env: dict | None = None, **options: object):
    """Run the installed program as a shell would, with a run token of its own."""
    environment = {k: v for k, v in (env or os.environ).items() if k != RUN_VARIABLE}
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "convcli", *args], env=environment,
                          timeout=120, **options)  # type: ignore[call-overload]  # fmt: skip


def one_error_line(result: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.decode().splitlines() if line.startswith("convcli:")]
    errors = [line for line in lines if line.startswith("convcli: error:")]
    assert len(errors) == 1, result.stderr
    assert "internal error" not in errors[0]
    assert "Traceback" not in result.stderr.decode()
    return errors[0]


# --- standard streams ---------------------------------------------------------------------


def test_a_closed_standard_input_is_one_line():
    result = convcli("apply", "-", "-k", "box", "-o", "/tmp/never.png",
                     stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))  # fmt: skip
    assert one_error_line(result).endswith("-: standard input is closed")


def test_a_closed_standard_output_is_one_line():
    result = convcli("apply", str(COINS), "-k", "box", "-o", "-", preexec_fn=lambda: os.close(1))
    assert one_error_line(result).endswith("-: standard output is closed")


def test_an_exr_is_read_while_standard_output_is_closed(tmp_path):
    """OpenEXR's printed lines are caught on the streams that are open: a closed one's
    descriptor number may be another file's by then (the input's), not to be taken over."""
    openexr = pytest.importorskip("OpenEXR")
    values = np.linspace(0, 2, 6 * 7 * 3, dtype=np.float32).reshape(6, 7, 3)
    source, out = tmp_path / "in.exr", tmp_path / "out.exr"
    header = {"compression": openexr.ZIP_COMPRESSION, "type": openexr.scanlineimage}
    openexr.File(header, {"RGB": values}).write(str(source))
    result = convcli("apply", str(source), "-k", "identity", "--range", "raw", "-o", str(out),
                     preexec_fn=lambda: os.close(1))  # fmt: skip
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(openexr.File(str(out)).channels()["RGB"].pixels, values)


def test_a_full_standard_output_is_one_line(tmp_path):
    with open("/dev/full", "wb") as full:
        result = convcli("apply", str(COINS), "-k", "box", "-o", "-", stdout=full)
    assert one_error_line(result).endswith(
        "-: cannot write to standard output: No space left on device"
    )


def test_json_records_to_a_closed_or_full_output_fail(tmp_path):
    out = tmp_path / "o.png"
    closed = convcli("apply", str(COINS), "-k", "box", "-o", str(out), "--json",
                     preexec_fn=lambda: os.close(1))  # fmt: skip
    assert one_error_line(closed).endswith(
        "cannot write the --json records: standard output is closed"
    )
    assert not out.exists()  # refused before any work
    with open("/dev/full", "wb") as full:
        result = convcli("apply", str(COINS), "-k", "box", "-o", str(out), "--json", stdout=full)
    assert one_error_line(result).endswith(
        "cannot write the --json records to standard output: No space left on device"
    )


def test_an_endless_standard_input_is_refused_at_its_first_bytes():
    with open("/dev/zero", "rb") as zeros:
        result = convcli("apply", "-", "-k", "box", "-o", "/tmp/never.png", stdin=zeros)
    assert one_error_line(result).endswith("-: standard input is not an image convcli can read")


def test_an_endless_image_on_standard_input_stops_at_the_limit():
    endless = subprocess.Popen(
        [sys.executable, "-c", "import sys\nsys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n')\n"
         "while True: sys.stdout.buffer.write(bytes(65536))"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    result = convcli("apply", "-", "-k", "box", "--max-pixels", "1000", "-o", "/tmp/never.png",
                     stdin=endless.stdout)  # fmt: skip
    endless.kill()
    endless.wait()
    endless.stdout.close()
    assert one_error_line(result).endswith(
        "-: standard input holds more than 8,000 bytes, the limit for --max-pixels"
    )


# --- names --------------------------------------------------------------------------------


def test_an_output_name_as_long_as_the_file_system_allows_is_written(tmp_path):
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / ("x" * (longest - 4) + ".png")  # the temporary name is longer
    result = run("apply", str(COINS), "-k", "box", "-o", str(target), "-q")
    assert result.exit_code == 0, result.stderr
    assert target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path):
    odd = tmp_path / "two\nlines.png"
    odd.write_bytes(b"not an image")
    result = run("apply", str(odd), "-k", "box")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"convcli: error: {tmp_path}/two\\nlines.png: not an image convcli can read "
        "(convcli reads PNG, JPEG, TIFF, BMP, GIF, WebP, AVIF, JPEG XL, JPEG 2000, QOI, PGM, PPM, "
        "PFM, TGA, ICO, PSD, FITS, HEIC, EXR, camera raw and .npy)"
    )


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_a_name_that_is_not_utf8_reaches_the_report(tmp_path, suffix):
    folder = os.fsencode(tmp_path)
    odd = folder + b"/caf\xe9.png"
    shutil.copy(COINS, odd)
    report = tmp_path / f"report.{suffix}"
    result = convcli("apply", odd, "-k", "box", "-o", str(tmp_path / "out.png"), "-q",
                     "--report", str(report), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # valid JSON, the byte escaped
    assert os.fsencode(record["input"]) == odd
    text = report.read_bytes()
    if suffix == "json":
        assert os.fsencode(json.loads(text)[0]["input"]) == odd
    else:
        assert odd in text  # CSV: the name's own bytes


# --- reports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("nowhere/report.json", "the folder {tmp}/nowhere does not exist"),
        ("folder.json", "is a folder; name a file"),
        ("out.png.json", None),
    ],
)
def test_report_paths_are_checked_before_anything_is_written(tmp_path, report, message):
    (tmp_path / "folder.json").mkdir()
    out = tmp_path / "out.png"
    result = run("apply", str(COINS), "-k", "box", "-o", str(out), "--report",
                 str(tmp_path / report), "-q")  # fmt: skip
    if message is None:
        assert result.exit_code == 0
        return
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(message.format(tmp=tmp_path))
    assert not out.exists()


def test_a_report_that_is_also_an_output_is_refused(tmp_path):
    same = tmp_path / "both.json"  # an image written under a report's name, by --format
    result = run("apply", str(COINS), "-k", "box", "-o", str(same), "--format", "png",
                 "--report", str(same), "-q")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"--report {same} is also an output of the run")
    assert not same.exists()


# --- special files as kernels -------------------------------------------------------------


def test_a_fifo_in_a_kernel_folder_is_skipped_not_waited_for(tmp_path):
    folder = tmp_path / "kernels"
    folder.mkdir()
    os.mkfifo(folder / "blocking.toml")
    (folder / "mine.toml").write_text("[mine]\nmatrix = [[1]]\n")
    env = {**os.environ, "CONVCLI_KERNEL_PATH": str(folder)}
    result = convcli("kernels", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "mine" in [entry["name"] for entry in json.loads(result.stdout)]


def test_a_kernel_file_that_is_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    result = convcli("apply", str(COINS), "-k", str(link), "-o", str(tmp_path / "o.png"))
    assert one_error_line(result, code=2).endswith(
        f"{link} is not a regular file, not a kernel file"
    )


def test_a_fifo_named_as_a_kernel_file_is_refused(tmp_path):
    fifo = tmp_path / "k.toml"
    os.mkfifo(fifo)
    result = convcli("apply", str(COINS), "-k", str(fifo), "-o", str(tmp_path / "o.png"))
    assert one_error_line(result, code=2).endswith(
        f"{fifo} is not a regular file, not a kernel file"
    )


# --- runs that share a folder -------------------------------------------------------------


def test_an_interrupted_run_removes_only_its_own_temporary_files(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    base = np.asarray(Image.open(SAMPLES / "astronaut.png").resize((768, 768)))
    for i in range(12):
        Image.fromarray(np.roll(base, 5 * i, axis=1)).save(folder / f"img{i:02d}.png",
                                                            compress_level=1)  # fmt: skip
    # Another run's temporary files, as both the old and the new naming would have them.
    others = [out / ".img00_gaussian-sigma-3.png.otherrun.12345678.part",
              out / ".img00_gaussian-sigma-3.png.abcdef.part"]  # fmt: skip
    for other in others:
        other.write_bytes(b"another run's half-written file")
    process = subprocess.Popen([sys.executable, "-m", "convcli", "apply", str(folder), "-k",
                                "gaussian:sigma=3", "-o", str(out), "-j", "2", "-q"],
                               stderr=subprocess.PIPE)  # fmt: skip
    import time

    deadline = time.monotonic() + 60
    while not list(out.glob("img*.png")) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(2)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert all(other.exists() for other in others)
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".part") and p not in others]
    assert leftovers == []


# --- options ------------------------------------------------------------------------------


def test_every_integer_option_is_bounded():
    for args in (["explain", "-k", "box", "--steps", "99999999999999999999"],
                 ["apply", str(COINS), "-k", "box", "-j", "99999999999999999999"],
                 ["apply", str(COINS), "-k", "box", "--frame", "99999999999999999999"],
                 ["apply", str(COINS), "-k", "box", "--max-pixels", "99999999999999999999"]):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1
        assert "internal error" not in result.stderr


# --- decoders that talk -------------------------------------------------------------------


def test_what_libtiff_writes_becomes_part_of_the_one_line(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    good = tmp_path / "good.tif"
    Image.fromarray(pixels).save(good, compression="tiff_adobe_deflate")
    data = bytearray(good.read_bytes())
    for at in range(300, 900, 7):
        data[at] ^= 0x5A
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    result = convcli("apply", str(bad), "-k", "box", "-o", str(tmp_path / "o.png"), "-q")
    line = one_error_line(result)
    assert "(libtiff: ZIPDecode: Decoding error" in line
    assert result.stderr.decode().count("\n") == 1  # libtiff's own line is not beside it


# --- special files as inputs --------------------------------------------------------------


def test_a_named_pipe_is_read_once(tmp_path):
    fifo = tmp_path / "in.png"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat '{COINS}' > '{fifo}'"])
    out = tmp_path / "out.png"
    result = convcli("apply", str(fifo), "-k", "box", "-o", str(out), "-q")
    writer.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    direct = tmp_path / "direct.png"
    assert run("apply", str(COINS), "-k", "box", "-o", str(direct), "-q").exit_code == 0
    with Image.open(out) as piped, Image.open(direct) as read:
        assert np.array_equal(np.asarray(piped), np.asarray(read))


def test_process_substitution_works(tmp_path):
    out = tmp_path / "out.png"
    command = f"{sys.executable} -m convcli apply <(cat '{COINS}') -k box -o '{out}' -q"
    result = subprocess.run(["bash", "-c", command], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (384, 303)


def test_a_pipe_that_is_not_an_image_fails_alone(tmp_path):
    fifo = tmp_path / "noise.png"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf 'hello' > '{fifo}'"])
    result = convcli("apply", str(fifo), str(COINS), "-k", "box", "-o", str(tmp_path / "out"),
                     "-q", "-j", "2")  # fmt: skip
    writer.wait(timeout=60)
    assert one_error_line(result).endswith(f"{fifo} is not an image convcli can read")
    assert (tmp_path / "out" / "coins_box.png").exists()


def test_ctrl_c_while_planning_says_so(tmp_path):
    fifo = tmp_path / "waiting.png"
    os.mkfifo(fifo)  # no writer: planning waits in open()
    env = {k: v for k, v in os.environ.items() if k != RUN_VARIABLE}
    process = subprocess.Popen([sys.executable, "-m", "convcli", "apply", str(fifo), "-k", "box",
                                "-o", str(tmp_path / "o.png")], stderr=subprocess.PIPE, env=env)  # fmt: skip
    import time

    time.sleep(1.5)  # well into planning
    process.send_signal(2)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.decode().strip() == (
        "convcli: error: interrupted by SIGINT before any output was written"
    )


# --- the worker pool ----------------------------------------------------------------------


def test_workers_end_by_themselves_after_a_successful_batch(tmp_path, monkeypatch):
    import convcli.run.executors

    stopped = []
    monkeypatch.setattr(convcli.run.executors, "_stop_workers", lambda pool: stopped.append(pool))
    for name in ("a", "b", "c"):
        shutil.copy(COINS, tmp_path / f"{name}.png")
    result = run("apply", str(tmp_path), "-k", "box", "-o", str(tmp_path / "out"), "-j", "2", "-q")
    assert result.exit_code == 0, result.stderr
    assert stopped == []  # no signal was needed: the queue was empty and they left


def test_workers_are_stopped_when_the_batch_stops_early(tmp_path, monkeypatch):
    import convcli.run.executors

    stopped = []
    original = convcli.run.executors._stop_workers
    monkeypatch.setattr(convcli.run.executors, "_stop_workers",
                        lambda pool: (stopped.append(pool), original(pool)))  # fmt: skip
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    for name in ("b", "c", "d"):
        shutil.copy(COINS, tmp_path / f"{name}.png")
    result = run("apply", str(tmp_path), "-k", "box", "-o", str(tmp_path / "out"), "-j", "2",
                 "--fail-fast", "-q")  # fmt: skip
    assert result.exit_code == 1
    assert len(stopped) == 1


def test_a_jpeg_with_absurd_metadata_is_refused_unread(tmp_path):
    import io
    import struct

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    segment = b"\xff\xe1" + struct.pack(">H", 65535) + b"Exif\x00\x00" + bytes(65533 - 6)
    fat = tmp_path / "fat.jpg"
    fat.write_bytes(buffer.getvalue()[:2] + segment * 1600 + buffer.getvalue()[2:])
    result = convcli("apply", str(fat), "-k", "box", "-o", str(tmp_path / "o.jpg"))
    assert one_error_line(result).endswith(
        "more than 256 metadata segments or 16,777,216 bytes of metadata before the pixels; "
        "refused unread"
    )


def test_a_reader_that_leaves_early_is_the_quiet_exit_1(tmp_path):
    big = tmp_path / "big.png"
    with Image.open(SAMPLES / "astronaut.png") as image:
        image.resize((1024, 1024)).save(big)
    env = {k: v for k, v in os.environ.items() if k != RUN_VARIABLE}
    process = subprocess.Popen([sys.executable, "-m", "convcli", "apply", str(big), "-k", "box",
                                "-o", "-", "-q", "--compress-level", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert len(process.stdout.read(100)) == 100  # like `| head -c 100`: 3 MB were on their way
    process.stdout.close()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == 1  # was 0: the short write went unnoticed
    assert stderr == b""


def test_a_pipe_without_an_output_is_a_usage_error_before_it_is_read(tmp_path):
    command = f"{sys.executable} -m convcli apply <(cat '{COINS}') -k box -q"
    result = subprocess.run(["bash", "-c", command], capture_output=True, timeout=120)
    assert result.returncode == 2
    assert (
        result.stderr.decode()
        .strip()
        .endswith(
            "is a pipe or a device: there is no folder beside it to write into; "
            "use -o FILE, -o FOLDER/ or -o -"
        )
    )
