"""Batches: folders, workers, reports, failures, interrupts and memory."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.cli import app
from convcli.report import RECORD_KEYS
from convcli.run import executors
from helpers import SAMPLES, run, runner


def records(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def decode(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture
def photos(tmp_path) -> Path:
    """The folder of issue 4: good images, broken ones, a text file, a sub-folder."""
    folder = tmp_path / "photos"
    (folder / "sub" / "deeper").mkdir(parents=True)
    png = (SAMPLES / "coins.png").read_bytes()
    (folder / "coins.png").write_bytes(png)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("I am not a picture")
    (folder / "truncated.png").write_bytes(png[: len(png) // 3])
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    with Image.open(SAMPLES / "astronaut.png") as image:
        image.resize((64, 64)).save(folder / "astronaut.jpg")
    (folder / "sub" / "été photo.png").write_bytes(png)
    (folder / "sub" / "deeper" / "-dash.png").write_bytes(png)
    return folder


def test_a_folder_takes_images_by_content_and_failures_fail_alone(photos, tmp_path):
    out = tmp_path / "out"
    result = run("apply", str(photos), "-k", "box", "-o", str(out), "--json")
    assert result.exit_code == 1
    status = {Path(r["input"]).name: r["status"] for r in records(result)}
    assert status == {
        ".DS_Store": "skipped",
        "astronaut.jpg": "ok",
        "coins.png": "ok",
        "empty.png": "error",
        "notes.txt": "skipped",
        "text.png": "error",
        "truncated.png": "error",
    }  # fmt: skip (without -r: sub/ is not entered)
    errors = [line for line in result.stderr.splitlines() if line.startswith("convcli: error:")]
    assert len(errors) == 3
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_box.jpg", "coins_box.png"]
    assert "2 done, 2 skipped, 3 failed" in result.stderr.splitlines()[-1]


def test_recursive_mirrors_the_folders_and_keeps_unicode_and_dashes(photos, tmp_path):
    out = tmp_path / "out"
    result = run("apply", str(photos), "-r", "-k", "box", "-o", str(out), "-q")
    assert result.exit_code == 1
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [
        "astronaut_box.jpg", "coins_box.png", "sub/deeper/-dash_box.png", "sub/été photo_box.png"
    ]  # fmt: skip


def test_an_input_that_fails_leaves_no_empty_mirrored_folder(photos, tmp_path):
    (photos / "broken").mkdir()
    (photos / "broken" / "cut.png").write_bytes((photos / "coins.png").read_bytes()[:100])
    out = tmp_path / "out"
    result = run("apply", str(photos), "-r", "-k", "box", "-o", str(out), "-q")
    assert result.exit_code == 1
    assert "broken/cut.png" in result.stderr
    assert not (out / "broken").exists()  # made only for an output that is written
    assert (out / "sub" / "deeper" / "-dash_box.png").is_file()


def test_one_and_two_workers_give_identical_outputs_and_reports(photos, tmp_path):
    results = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        result = run(
            "apply", str(photos), "-r", "-k", "sobel", "-o", str(out), "-j", jobs, "--json"
        )
        for record in (found := records(result)):
            record.pop("seconds")
            record["output"] = (
                record["output"] and Path(record["output"]).relative_to(out).as_posix()
            )
        files = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        results[jobs] = (found, files)
    assert results["1"] == results["2"]
    # A folder's files in name order, then its sub-folders, depth first.
    assert [Path(r["input"]).relative_to(photos).as_posix() for r in results["2"][0]] == [
        ".DS_Store", "astronaut.jpg", "coins.png", "empty.png", "notes.txt", "text.png",
        "truncated.png", "sub/été photo.png", "sub/deeper/-dash.png",
    ]  # fmt: skip


def test_skip_existing_leaves_outputs_untouched(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "coins_box.png").write_bytes(b"keep me")
    result = run("apply", str(photos / "coins.png"), str(photos / "astronaut.jpg"), "-k", "box",
                 "-o", str(out), "--skip-existing", "--json")  # fmt: skip
    assert result.exit_code == 0
    assert [r["status"] for r in records(result)] == ["skipped", "ok"]
    assert records(result)[0]["error"] == "output exists"
    assert (out / "coins_box.png").read_bytes() == b"keep me"
    again = run("apply", str(photos / "coins.png"), str(photos / "astronaut.jpg"), "-k", "box",
                "-o", str(out), "--skip-existing")  # fmt: skip
    assert again.stdout.count("skipped (output exists)") == 2  # the table tells why


def test_reports_keep_the_input_order(photos, tmp_path):
    for name in ("r.csv", "r.json"):
        result = run("apply", str(photos), "-k", "box", "-o", str(tmp_path / "out"), "-j", "2",
                     "--report", str(tmp_path / name), "-q")  # fmt: skip
        assert result.exit_code == 1
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    array = json.loads((tmp_path / "r.json").read_text())
    names = [Path(r["input"]).name for r in array]
    assert names == sorted(names)
    assert [r["input"] for r in rows] == [r["input"] for r in array]
    assert tuple(rows[0]) == RECORD_KEYS


def test_fail_fast_stops_and_reports_the_rest_as_skipped(photos, tmp_path):
    report = tmp_path / "report.json"
    result = run("apply", str(photos), "-k", "box", "-o", str(tmp_path / "out"), "--fail-fast",
                 "--json", "-j", "1", "--report", str(report))  # fmt: skip
    assert result.exit_code == 1
    found = records(result)
    assert [Path(r["input"]).name for r in found][:4] == [
        ".DS_Store",
        "astronaut.jpg",
        "coins.png",
        "empty.png",
    ]
    assert found[3]["status"] == "error"
    assert all(r["status"] == "skipped" for r in found[4:])
    # Run one at a time, none was written before the failure: each says why, with the option.
    assert {r["error"] for r in found[4:]} == {"not run: --fail-fast stopped at the first failure"}
    assert json.loads(report.read_text()) == found


def test_links_never_loop_or_leave_the_tree_and_output_is_not_read_back(tmp_path):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.png").write_bytes((SAMPLES / "coins.png").read_bytes())
    (root / "a" / "x.png").write_bytes((SAMPLES / "coins.png").read_bytes())
    (root / "a" / "up").symlink_to(root)  # a loop
    (root / "away").symlink_to(outside)  # leaves the tree
    (root / "link.png").symlink_to(root / "a" / "x.png")  # a file link is followed
    out = root / "out"  # inside the input folder
    for _ in range(2):  # the second run must not read the first run's outputs
        result = run("apply", str(root), "-r", "-k", "box", "-o", str(out), "--json")
        assert result.exit_code == 0
        assert sorted(Path(r["input"]).relative_to(root).as_posix() for r in records(result)) == [
            "a/x.png", "link.png"
        ]  # fmt: skip


def test_clashing_or_self_overwriting_outputs_are_refused_before_any_work(tmp_path):
    (tmp_path / "a.png").write_bytes((SAMPLES / "coins.png").read_bytes())
    with Image.open(SAMPLES / "coins.png") as image:
        image.save(tmp_path / "a.jpg")
    before = sorted(tmp_path.iterdir())
    clash = run("apply", str(tmp_path / "a.png"), str(tmp_path / "a.jpg"), "-k", "box",
                "--format", "png", "-o", str(tmp_path))  # fmt: skip
    assert clash.exit_code == 2
    assert "would both write" in clash.stderr
    (tmp_path / "a_box.png").write_bytes(b"an input that is also an output")
    own = run("apply", str(tmp_path), "-k", "box", "--format", "png")
    assert own.exit_code == 2
    assert "is an input" in own.stderr
    os.unlink(tmp_path / "a_box.png")
    assert sorted(tmp_path.iterdir()) == before


def test_an_impossible_shape_anywhere_stops_the_run_before_anything_is_written(tmp_path):
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "small.png")
    out = tmp_path / "out"
    result = run("apply", str(tmp_path / "big.png"), str(tmp_path / "small.png"), "-k", "box:5",
                 "-p", "valid", "-o", str(out))  # fmt: skip
    assert result.exit_code == 2
    assert "small.png: output would be empty along axis 0" in result.stderr
    assert not out.exists()


def test_too_many_pixels_fails_that_input_alone(tmp_path):
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    result = run("apply", str(tmp_path), "-k", "box", "-o", str(tmp_path / "out"),
                 "--max-pixels", "1000", "--json")  # fmt: skip
    assert result.exit_code == 1
    assert [r["status"] for r in records(result)] == ["error", "ok"]
    assert records(result)[0]["error"] == (  # the record says the option, as stderr does
        f"{tmp_path / 'big.png'}: 40x40 (width x height) is 1600 pixels, over the limit of 1000 "
        "(raise it with --max-pixels)"
    )


def test_no_escape_codes_when_not_a_terminal(photos, tmp_path):
    result = run("apply", str(photos), "-k", "box", "-o", str(tmp_path / "out"))
    assert "\x1b[" not in result.stdout
    assert "\x1b[" not in result.stderr


# --- real processes: signals and pipes ---------------------------------------------------


def _slow_batch(tmp_path: Path, count: int = 12) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    with Image.open(SAMPLES / "astronaut.png") as image:
        base = np.asarray(image.resize((768, 768)))
    for i in range(count):
        Image.fromarray(np.roll(base, 5 * i, axis=1)).save(
            folder / f"img{i:02d}.png", compress_level=1
        )
    return folder


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_keeps_finished_outputs_and_leaves_no_partial_files(tmp_path, signum, code):
    source, out = _slow_batch(tmp_path), tmp_path / "out"
    command = [sys.executable, "-m", "convcli", "apply", str(source), "-k", "gaussian:sigma=3",
               "-o", str(out), "-j", "2", "-q"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(out.glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert stderr.count("\n") == 1
    assert "outputs written and kept, no partial files left" in stderr
    assert "Traceback" not in stderr
    finished = list(out.iterdir())
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in finished)
    assert 1 <= len(finished) < 12
    for path in finished:
        assert decode(path).shape == (768, 768, 3)


def test_a_closed_stdout_is_not_a_traceback(photos):
    command = [sys.executable, "-m", "convcli", "apply", str(photos / "coins.png"),
               str(photos / "astronaut.jpg"), "-k", "box", "--json", "--dry-run", "-j", "1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # like `| head -0`
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr


# --- memory ---------------------------------------------------------------------------------


_MEASURE = """
import sys, tracemalloc
from pathlib import Path
from convcli.run import model, pipeline
from convcli.catalog.lookup import load_kernel
from convcli.io.formats import output_format
source, target, spec = sys.argv[1:]
settings = model.Settings(kernels=(load_kernel(spec),))
tracemalloc.start()
pipeline.process(Path(source), Path(target), settings, label="big", fmt=output_format("png"),
                 threads=1)
print(tracemalloc.get_traced_memory()[1])
"""


@pytest.mark.parametrize("spec", ["sobel-x", "gaussian:sigma=2", "sobel"])  # sobel: rescale
def test_filtering_makes_no_full_size_float_copy(tmp_path, spec):
    rgb = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), dtype=np.uint8)
    source = tmp_path / "big.png"
    Image.fromarray(rgb).save(source, compress_level=0)
    # One thread (more threads hold more bands at once), in a fresh interpreter.
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(source), str(tmp_path / "out.png"), spec],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak = int(result.stdout)
    # The decoded image and the 8-bit output (1x each), and the working set of a band
    # (1 MiB tiles, a few band-sized temporaries while mapping, 1 MiB PNG chunks: a
    # fixed 24 MB at most). A float32 copy of the image would add 4x = 50 MB.
    assert peak < 2 * rgb.nbytes + 24e6


def _die_on_coins(job):
    # Stands in for a worker the kernel's OOM killer takes: no exception, no cleanup.
    if job.label.endswith("coins.png"):
        os._exit(9)
    return executors._run_in_worker_for_tests(job)


def test_a_worker_that_dies_fails_its_input_and_the_run_goes_on(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "_run_in_worker_for_tests", executors._work, raising=False)
    monkeypatch.setattr(executors, "_work", _die_on_coins)
    result = run(
        "apply", str(photos), "-k", "box", "-o", str(tmp_path / "out"), "-j", "2", "--json"
    )
    assert result.exit_code == 1
    status = {Path(r["input"]).name: (r["status"], r["error"]) for r in records(result)}
    assert status["coins.png"][0] == "error"
    assert "worker process died" in status["coins.png"][1]
    assert status["astronaut.jpg"][0] == "ok"
    assert (tmp_path / "out" / "astronaut_box.jpg").exists()


def _on_a_terminal(command: list[str], env: dict[str, str], code: int = 0) -> bytes:
    """Run ``command`` with a pseudo-terminal as stdout and stderr; return what it printed."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    printed = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        printed += chunk
    os.close(leader)
    assert process.wait(timeout=60) == code
    return printed


@pytest.mark.parametrize("no_color", [False, True])
def test_progress_bar_on_a_terminal_colour_unless_no_color(tmp_path, no_color):
    # NO_COLOR (no-color.org) turns off colour only: the bar still draws.
    source = _slow_batch(tmp_path, count=6)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm"}
    if no_color:
        env["NO_COLOR"] = "1"
    printed = _on_a_terminal(
        [
            sys.executable,
            "-m",
            "convcli",
            "apply",
            str(source),
            "-k",
            "box",
            "-o",
            str(tmp_path / "out"),
            "-j",
            "1",
        ],
        env,
    )
    assert b"6 done, 0 skipped, 0 failed" in printed
    assert b"0/6" in printed  # the bar drew
    colour = re.search(rb"\x1b\[[0-9;]*[1-9][0-9;]*m", printed)
    assert (colour is not None) is not no_color


def test_a_batch_table_shows_the_failed_and_skipped_and_verbose_shows_all(photos, tmp_path):
    out = tmp_path / "out"
    inputs = [str(photos / "coins.png"), str(photos / "astronaut.jpg"), str(photos / "empty.png")]
    default = run("apply", *inputs, "-k", "box", "-o", str(out))
    assert default.exit_code == 1
    assert "empty.png" in default.stdout  # the failure has its row
    assert "coins.png" not in default.stdout  # the summary counts the rest
    assert "output" not in default.stdout  # a failure has no shapes nor output: no such columns
    assert "shapes:" not in default.stdout
    assert default.stderr.splitlines()[-1].startswith("convcli: 2 done, 0 skipped, 1 failed")
    verbose = run("apply", *inputs, "-k", "box", "-o", str(out), "-v")
    assert all(Path(name).name in verbose.stdout for name in inputs)
    all_ok = run("apply", *inputs[:2], "-k", "box", "-o", str(out))
    assert all_ok.exit_code == 0
    assert all_ok.stdout == ""  # no table at all: nothing failed


@pytest.mark.parametrize("columns", ["50", "60", "80"])
def test_a_narrow_table_folds_its_cells_and_cuts_none(photos, tmp_path, columns):
    inputs = [str(photos / "coins.png"), str(photos / "astronaut.jpg")]
    result = runner.invoke(app, ["apply", *inputs, "-k", "gaussian:sigma=2", "-o",
                                 str(tmp_path / "a-long-output-folder-name"), "-v"],
                           env={"COLUMNS": columns})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= int(columns)
    assert "…" not in result.stdout  # rich's mark of a cut cell
    # Too narrow for the table with its paths whole: a block of lines per input.
    assert len(re.findall(r"^time \(s\) +\d+\.\d{3}$", result.stdout, re.MULTILINE)) == 2
    assert len(re.findall(r"^status +ok$", result.stdout, re.MULTILINE)) == 2


def test_error_lines_during_the_bar_print_above_it_never_into_it(tmp_path):
    source = _slow_batch(tmp_path, count=6)
    for name in ("img01b.png", "img03b.png"):  # between the good ones, while the bar shows
        (source / name).write_bytes(b"not an image")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm"}
    command = [sys.executable, "-m", "convcli", "apply", str(source), "-k", "box",
               "-o", str(tmp_path / "out"), "-j", "1"]  # fmt: skip
    printed = _on_a_terminal(command, env, code=1)
    assert b"0/8" in printed  # the bar drew
    before = re.findall(rb"(.)convcli: error: ", printed, re.DOTALL)
    assert len(before) == 2
    # Each starts a line: after a newline, a carriage return or the erase-line code (ESC [2K),
    # never after the bar's last character.
    assert all(char in (b"\n", b"\r", b"K") for char in before), before


def test_a_named_file_that_is_no_image_fails_alone(tmp_path):
    """`convcli apply photos/* -o out/` with notes.txt and a text file named .png among them."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("camera", "coins"):
        (photos / f"{name}.png").write_bytes((SAMPLES / f"{name}.png").read_bytes())
    (photos / "notes.txt").write_text("not an image")
    (photos / "fake.png").write_text("not an image either")
    named = sorted(str(path) for path in photos.iterdir())  # as the shell expands photos/*
    out = tmp_path / "out"
    result = run("apply", *named, "-k", "sobel", "-o", f"{out}/", "--json")
    assert result.exit_code == 1
    status = {Path(r["input"]).name: r["status"] for r in records(result)}
    assert status == {"camera.png": "ok", "coins.png": "ok", "fake.png": "error",
                      "notes.txt": "error"}  # fmt: skip
    for name in ("notes.txt", "fake.png"):
        [line] = [line for line in result.stderr.splitlines() if name in line]
        assert line == (
            f"convcli: error: {photos / name}: not an image convcli can read "
            "(convcli reads PNG, JPEG, TIFF, BMP, GIF, WebP, AVIF, JPEG XL, JPEG 2000, QOI, PGM, "
            "PPM, PFM, TGA, ICO, PSD, FITS, HEIC, EXR, camera raw and .npy)"
        )
    assert sorted(p.name for p in out.iterdir()) == ["camera_sobel.png", "coins_sobel.png"]
    alone = run("apply", str(photos / "coins.png"), "-k", "sobel", "-o", str(tmp_path / "a.png"))
    assert alone.exit_code == 0  # each output is what its input gives alone
    assert (out / "coins_sobel.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_an_output_format_the_user_gives_or_an_image_with_no_format_is_a_usage_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    typed = run("apply", str(notes), "-k", "sobel", "-o", str(tmp_path / "out.txt"))
    assert typed.exit_code == 2
    assert typed.stderr.startswith("convcli: error: unknown output format '.txt'")
    scan = tmp_path / "scan.dat"  # an image whose suffix names no format: its output needs one
    scan.write_bytes((SAMPLES / "coins.png").read_bytes())
    refused = run("apply", str(scan), str(notes), "-k", "sobel", "-o", f"{tmp_path}/out/")
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"convcli: error: {scan}: '.dat' is no format convcli writes; give --format\n"
    )
    assert not (tmp_path / "out").exists()


# --- where the jobs run ---------------------------------------------------------------------


def test_one_place_chooses_where_the_jobs_run():
    from convcli.distributed.executors import DaskExecutor, executor_for
    from convcli.run.executors import ProcessExecutor, SerialExecutor
    from convcli.run.model import Job, RunOptions

    files = [Job(f"{name}.png", Path(f"{name}.png"), Path(f"out/{name}.png"), None)
             for name in "abc"]  # fmt: skip
    stdin = Job("-", None, None, None)
    tiled = Job("big.npy", Path("big.npy"), Path("out.npy"), None, tile=256)
    skipped = Job("x.png", Path("x.png"), None, None, skip="output exists")
    two, one = RunOptions(workers=2), RunOptions(workers=1)
    client = object()  # never called while choosing
    assert isinstance(executor_for(files, two), ProcessExecutor)
    assert isinstance(executor_for(files, one), SerialExecutor)  # one worker: no pool
    assert isinstance(executor_for([files[0], skipped], two), SerialExecutor)  # one to run
    assert isinstance(executor_for([*files, stdin], two), SerialExecutor)  # stdin is read here
    assert isinstance(executor_for([*files, tiled], two), SerialExecutor)  # a tile uses every core
    assert isinstance(executor_for(files, two, client), DaskExecutor)
    assert isinstance(executor_for([*files, tiled], two, client), SerialExecutor)  # tiles on it
    assert isinstance(executor_for([skipped], two, client), SerialExecutor)  # nothing to send


def test_fail_fast_is_a_parameter_in_the_report_and_an_option_in_the_record(tmp_path):
    from convcli.catalog.lookup import load_kernel
    from convcli.cli.text import option
    from convcli.run.batch import run_batch
    from convcli.run.executors import SerialExecutor
    from convcli.run.model import Job, RunOptions, Settings

    missing = tmp_path / "no" / "such"  # the job makes its output's folder, even to fail
    failing = Job("a.png", missing / "a.png", missing / "a_box.png", None)
    waiting = Job("b.png", missing / "b.png", missing / "b_box.png", None)
    settings = Settings(kernels=(load_kernel("box"),))
    options = RunOptions(workers=1, fail_fast=True)
    _, skipped = run_batch([failing, waiting], settings, options, SerialExecutor(options))
    assert skipped.error == "not run: fail_fast stopped at the first failure"  # the library's
    skipped.word(option)  # as the command line words it
    assert skipped.record()["error"] == "not run: --fail-fast stopped at the first failure"
