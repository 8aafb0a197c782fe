"""Reruns of formats that cannot say who made them (BMP, .npy, ...): repeatable, and safe.

A BMP or .npy at a name the run writes, of the format and shape it writes
there, is an earlier run's output: replaced. In an input folder, one named
as convcli names an output of another image there is left out, with a note.
Anything else at a planned name is refused (README, "Batches").
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES, run

# README, "What each format keeps": no provenance (EXR with its extra)
UNMARKED = ["bmp", "npy", "avif", "j2k", "qoi", "pfm", "tga", pytest.param("exr", marks=pytest.mark.skipif(
    importlib.util.find_spec("OpenEXR") is None, reason="the exr extra is not installed"))]  # fmt: skip


@pytest.fixture
def photos(tmp_path) -> Path:
    """A grey and a colour image, small (48x64 and 40x40), with no metadata to lose."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, size in (("coins", (64, 48)), ("astronaut", (40, 40))):
        with Image.open(SAMPLES / f"{name}.png") as image:
            small = image.resize(size)
        small.info.clear()
        small.save(folder / f"{name}.png")
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def inputs_of(result) -> list[str]:
    return [Path(json.loads(line)["input"]).name for line in result.stdout.splitlines()]


def notes(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("convcli: note:")]


@pytest.mark.parametrize("fmt", UNMARKED)
def test_an_identical_rerun_into_a_folder_replaces_the_same_bytes(photos, tmp_path, fmt):
    out = tmp_path / "out"
    runs = []
    for _ in range(2):
        result = run("apply", str(photos), "-k", "sobel", "--format", fmt, "-o", f"{out}/", "-q")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        runs.append(contents(out))
    assert list(runs[0]) == [f"astronaut_sobel.{fmt}", f"coins_sobel.{fmt}"]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("fmt", UNMARKED)
def test_an_identical_rerun_beside_the_inputs_leaves_its_outputs_out(photos, fmt):
    first = run("apply", str(photos), "-k", "sobel", "--format", fmt, "--json")
    assert first.exit_code == 0, first.stderr
    written = contents(photos)
    again = run("apply", str(photos), "-k", "sobel", "--format", fmt, "--json")
    assert again.exit_code == 0, again.stderr
    assert inputs_of(again) == ["astronaut.png", "coins.png"]  # the outputs were not read
    assert notes(again) == [
        f"convcli: note: left out 2 files named as convcli names its outputs "
        f"({photos}/astronaut_sobel.{fmt}, {photos}/coins_sobel.{fmt}: its format cannot "
        "say who made it; name a file to filter it)"
    ]
    assert contents(photos) == written


def test_an_npy_input_folder_reruns_beside_its_inputs(tmp_path):
    folder = tmp_path / "signals"
    folder.mkdir()
    np.save(folder / "a.npy", np.linspace(0.0, 1.0, 50, dtype=np.float32).reshape(5, 10))
    for _ in range(2):
        result = run("apply", str(folder), "-k", "[[1, -1]]", "--json")
        assert result.exit_code == 0, result.stderr
        assert inputs_of(result) == ["a.npy"]
    [output] = [path for path in folder.iterdir() if path.name != "a.npy"]
    assert output.name.startswith("a_inline-")
    signal = np.load(folder / "a.npy")
    # Correlation, anchored at the first tap: out[i] = x[i] - x[i+1] (the last column is padding's).
    assert np.allclose(np.load(output)[:, :-1], signal[:, :-1] - signal[:, 1:])


@pytest.mark.parametrize("fmt", UNMARKED)
def test_another_kernels_run_does_not_filter_the_first_runs_outputs(photos, fmt):
    assert run("apply", str(photos), "-k", "sobel", "--format", fmt, "-q").exit_code == 0
    second = run("apply", str(photos), "-k", "gaussian:sigma=2", "--format", fmt, "--json")
    assert second.exit_code == 0, second.stderr
    assert inputs_of(second) == ["astronaut.png", "coins.png"]
    assert sorted(contents(photos)) == sorted([
        "astronaut.png", "coins.png", f"astronaut_sobel.{fmt}", f"coins_sobel.{fmt}",
        f"astronaut_gaussian-sigma-2.{fmt}", f"coins_gaussian-sigma-2.{fmt}",
    ])  # fmt: skip


def test_a_bmp_named_for_no_kernel_or_no_image_beside_it_is_an_input(photos):
    with Image.open(photos / "coins.png") as image:
        image.save(photos / "coins_edit.bmp")  # a user's edit: "edit" names no kernel
        image.save(photos / "lonely_sobel.bmp")  # no image "lonely" beside it
    result = run("apply", str(photos), "-k", "box", "--json")
    assert result.exit_code == 0, result.stderr
    assert inputs_of(result) == ["astronaut.png", "coins.png", "coins_edit.bmp", "lonely_sobel.bmp"]
    assert notes(result) == []


def test_a_bmp_output_named_on_the_command_line_is_filtered(photos):
    assert run("apply", str(photos / "coins.png"), "-k", "sobel", "--format", "bmp").exit_code == 0
    again = run("apply", str(photos / "coins_sobel.bmp"), "-k", "box", "-q")
    assert again.exit_code == 0, again.stderr
    assert (photos / "coins_sobel_box.bmp").exists()


def test_a_bmp_of_the_planned_format_and_size_at_a_planned_name_is_replaced(photos):
    """The rule, stated in the README: such a file is taken for an earlier run's output."""
    stranger = photos / "coins_sobel.bmp"
    Image.new("L", (64, 48), 7).save(stranger)  # what this run writes there: 48x64 grey BMP
    before = stranger.read_bytes()
    result = run("apply", str(photos / "coins.png"), "-k", "sobel", "--format", "bmp", "-q")
    assert result.exit_code == 0, result.stderr
    assert stranger.read_bytes() != before


@pytest.mark.parametrize(
    ("name", "make", "why"),
    [
        ("coins_sobel.bmp", lambda p: Image.new("L", (32, 24)).save(p, "BMP"),
         "it is not the 48x64 BMP this run writes there"),
        ("coins_sobel.bmp", lambda p: Image.new("RGB", (64, 48)).save(p, "BMP"),
         "it is not the 48x64 BMP this run writes there"),
        ("coins_sobel.npy", lambda p: np.save(p, np.zeros((3, 3), np.float32)),
         "it is not the 48x64 NPY this run writes there"),
        ("coins_sobel.npy", lambda p: Image.new("L", (64, 48)).save(p, "BMP"),
         "it is not the 48x64 NPY this run writes there"),
        ("coins_sobel.bmp", lambda p: Image.new("L", (64, 48)).save(p, "PNG"), "did not make it"),
        ("coins_sobel.npy", lambda p: p.write_text("my notes"), "did not make it"),
    ],
)  # fmt: skip
def test_anything_else_at_a_planned_name_is_refused_and_kept(photos, tmp_path, name, make, why):
    for where in (photos, tmp_path / "out"):  # beside the input, and in -o's folder
        where.mkdir(exist_ok=True)
        make(where / name)
        before = contents(where)
        fmt = name.rpartition(".")[2]
        output = [] if where == photos else ["-o", f"{where}/"]
        result = run("apply", str(photos / "coins.png"), "-k", "sobel", "--format", fmt, *output)
        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert line.startswith(f"convcli: error: {where / name} exists")
        assert why in line
        assert contents(where) == before  # nothing replaced, nothing written


def test_a_bmp_made_from_a_png_output_is_left_out_too(photos):
    """coins_sobel.png says convcli made it; coins_sobel_box.bmp is named for it."""
    assert run("apply", str(photos / "coins.png"), "-k", "sobel", "-q").exit_code == 0
    named = run("apply", str(photos / "coins_sobel.png"), "-k", "box", "--format", "bmp", "-q")
    assert named.exit_code == 0, named.stderr
    result = run("apply", str(photos), "-k", "gaussian", "--json")
    assert result.exit_code == 0, result.stderr
    assert inputs_of(result) == ["astronaut.png", "coins.png"]
    assert [line.split(" (")[0] for line in notes(result)] == [
        "convcli: note: left out 1 file that convcli made",
        "convcli: note: left out 1 file named as convcli names its outputs",
    ]


@pytest.mark.parametrize("fmt", ["avif", "j2k", "qoi", "tga"])
@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_an_output_with_alpha_is_rerun_too(tmp_path, fmt, mode):
    # The file's shape counts its alpha as a channel, as the planned output's does; QOI
    # holds no grey, so grey and alpha is written, and found again, as RGBA.
    rng = np.random.default_rng(4)
    bands = [Image.fromarray(rng.integers(0, 256, (12, 16), dtype=np.uint8)) for _ in mode]
    Image.merge(mode, bands).save(tmp_path / "in.png")
    out = tmp_path / "out"
    for _ in range(2):
        result = run("apply", str(tmp_path / "in.png"), "-k", "box", "--format", fmt,
                     "-o", f"{out}/", "-q")  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert [path.name for path in out.iterdir()] == [f"in_box.{fmt}"]
