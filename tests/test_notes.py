"""Notes that tell the truth: what was clipped, where, why and what helps; alpha that was lost.

The shares clipped are worked out here with SciPy (``correlate`` with
``mirror`` borders is convcli's ``reflect``): an 8-bit output changed where
the response lies more than half a step outside 0 to 255.
"""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from convcli.ranges import Reach, ranges_that_help, reach
from helpers import SAMPLES, run

SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)


def grey(name: str) -> np.ndarray:
    with Image.open(SAMPLES / name) as image:
        return np.asarray(image.convert("L"), dtype=float)


def share_outside(response: np.ndarray, low: float = -0.5, high: float = 255.5) -> float:
    return float(((response < low) | (response > high)).mean())


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("convcli: note: ")]


def clip_notes(stderr: str) -> list[str]:
    return [line for line in notes(stderr) if "were clipped" in line]


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def advice(note: str) -> set[str]:
    """The ranges a clip note suggests: '--range abs, offset or rescale shows them'."""
    found = re.search(r"--range (.+) shows them$", note)
    assert found, note
    return set(re.split(r", | or ", found.group(1)))


# --- a bank: one note per kernel and output that clipped, each saying which -----------


def test_a_bank_notes_each_output_that_clipped_by_kernel_and_name(tmp_path):
    camera = grey("camera.png")
    expected = {  # range abs for sobel-x, clip for sharpen; a Gaussian never leaves 0..255
        "sobel-x": share_outside(np.abs(ndimage.correlate(camera, SOBEL_X, mode="mirror"))),
        "sharpen": share_outside(ndimage.correlate(camera, SHARPEN, mode="mirror")),
        "gaussian:sigma=2": 0.0,
    }
    assert expected["sobel-x"] > 0.01
    assert expected["sharpen"] > 0.01
    done = run("apply", str(SAMPLES / "camera.png"), "-k", "sobel-x", "-k", "sharpen", "-k",
               "gaussian:sigma=2", "--bank", "-o", str(tmp_path / "bank"), "--json")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    by_kernel = {record["kernel"]: record for record in records(done.stdout)}
    for kernel, share in expected.items():
        assert by_kernel[kernel]["clipped"] == pytest.approx(share, abs=1e-6)
    said = clip_notes(done.stderr)
    assert len(said) == 2  # one per output that clipped
    for note, kernel in zip(said, ["sobel-x", "sharpen"], strict=True):
        output = by_kernel[kernel]["output"]
        assert f" with {kernel} -> {output}: " in note
        assert f"{expected[kernel]:.0%} of the values were clipped" in note
    assert "values clipped in 2 of them" in done.stderr.splitlines()[-1]


def test_a_batch_notes_the_first_output_that_clipped_and_the_summary_counts_the_rest(tmp_path):
    done = run("apply", str(SAMPLES / "camera.png"), str(SAMPLES / "coins.png"), "-k", "sharpen",
               "-o", str(tmp_path / "out"), "--json")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    first = records(done.stdout)[0]
    (note,) = clip_notes(done.stderr)
    assert f"with sharpen -> {first['output']}: " in note
    summary = done.stderr.splitlines()[-1]
    assert summary.endswith("values clipped in 2 of them, noted for the first")


# --- every record says how much was clipped ---------------------------------------------


def test_json_and_csv_records_say_the_range_and_the_share_clipped(tmp_path):
    coins = grey("coins.png")
    response = ndimage.correlate(coins, LAPLACIAN, mode="mirror")
    # offset puts 0 at 127.5: a response of exactly +-128 lands on 255.5 or -0.5, half a step
    # out, a tie either way; the share lies between leaving those out and counting them.
    shares = {
        "clip": (share_outside(response),) * 2,
        "rescale": (0.0, 0.0),
        "offset": (share_outside(response, -128, 128), share_outside(response, -127, 127)),
    }
    for mode, (least, most) in shares.items():
        report = tmp_path / f"{mode}.csv"
        done = run("apply", str(SAMPLES / "coins.png"), "-k", "laplacian", "--range", mode,
                   "-o", str(tmp_path / f"{mode}.png"), "--json", "--report", str(report))  # fmt: skip
        assert done.exit_code == 0, done.stderr
        (record,) = records(done.stdout)
        assert record["range"] == mode
        assert least - 1e-6 <= record["clipped"] <= most + 1e-6
        with report.open(newline="") as stream:
            (row,) = csv.DictReader(stream)
        assert row["range"] == mode
        assert float(row["clipped"]) == record["clipped"]
    assert shares["clip"][0] > shares["offset"][1] > 0  # the cases differ


def test_records_of_what_was_not_written_have_no_share_clipped(tmp_path):
    missing = tmp_path / "missing.png"
    done = run("apply", str(SAMPLES / "coins.png"), str(missing), "-k", "sobel-x", "-o",
               str(tmp_path / "out"), "--json")  # fmt: skip
    assert done.exit_code == 1
    ok, failed = records(done.stdout)
    assert ok["range"] == "abs"
    assert ok["clipped"] is not None
    assert failed["clipped"] is None
    planned = run("apply", str(SAMPLES / "coins.png"), "-k", "sobel-x", "--dry-run", "--json")
    (record,) = records(planned.stdout)
    assert (record["status"], record["range"], record["clipped"]) == ("planned", "abs", None)


# --- the advice fits the kernel's weights, not its name ---------------------------------


@pytest.mark.parametrize(
    ("kernel", "mode", "helps", "why"),
    [
        # zero-sum, both signs (edges, Laplacians): what abs, offset and rescale are for
        ("laplacian", "clip", {"abs", "offset", "rescale"}, "sum to 0"),
        ("[[1,0,-1]]", "clip", {"abs", "offset", "rescale"}, "sum to 0"),
        ("laplacian", "offset", {"abs", "rescale"}, "sum to 0"),
        ("sobel-x", "abs", {"rescale"}, "sum to 0"),
        # sum 1 with negative weights: the overshoot at edges is expected; abs is no help
        ("sharpen", "clip", {"rescale"}, "overshoot at edges, as expected"),
        ("[[-1,3,-1]]", "clip", {"rescale"}, "overshoot at edges, as expected"),
        # non-negative weights summing to 1 (a blur): never below 0, so abs is clip
        ("gaussian:sigma=2", "offset", {"clip", "rescale"}, "never negative"),
        ("[[0.5,0.5]]", "offset", {"clip", "rescale"}, "never negative"),
        # non-negative and summing to more than 1: only rescale holds it all
        ("[[1,1],[1,1]]", "clip", {"rescale"}, "up to 4 times white"),
        ("sobel", "clip", {"rescale"}, "up to 5.66 times white"),  # a magnitude
    ],
)
def test_the_advice_follows_the_weights(tmp_path, kernel, mode, helps, why):
    done = run("apply", str(SAMPLES / "coins.png"), "-k", kernel, "--range", mode, "-o",
               str(tmp_path / "out.png"))  # fmt: skip
    assert done.exit_code == 0, done.stderr
    (note,) = clip_notes(done.stderr)
    assert f"(range {mode})" in note
    assert advice(note) == helps
    assert why in note


def test_the_reach_of_a_pipeline_follows_its_stages():
    blur, edge = np.full((3, 3), 1 / 9), np.array([[1.0, 0.0, -1.0]])
    assert reach([([blur], 0.0)]) == Reach(0.0, 1.0, centred=False)
    assert reach([([blur], 0.0), ([edge], 0.0)]) == Reach(-1.0, 1.0, centred=True)
    # A magnitude is never negative: a blur after it stays so.
    magnitude = reach([([edge, edge.T], 0.0), ([blur], 0.0)])
    assert not magnitude.signed
    assert magnitude.high == pytest.approx(np.sqrt(2))
    assert ranges_that_help("clip", magnitude) == ["rescale"]
    # A bias moves the response off 0 in its direction, by an amount not known here.
    lifted = reach([([blur], 10.0)])
    assert lifted.high == np.inf
    assert not lifted.centred
    assert not lifted.signed


# --- alpha composited away is told, once per run ------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "said"),
    [
        ("jpg", "jpg outputs cannot hold the alpha of their inputs: composited onto white"),
        ("bmp", "bmp outputs cannot hold the alpha of their inputs: composited onto white"),
        ("gif", "gif outputs cannot hold the alpha of their inputs: composited onto white"),
        ("npy", "npy outputs cannot hold the alpha of their inputs: left out"),
        ("png", None),
        ("webp", None),
        ("tif", None),
    ],
)
def test_alpha_that_cannot_be_kept_is_noted_once_per_run(tmp_path, fmt, said):
    rng = np.random.default_rng(7)
    inputs = []
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, size=(20, 30, 4), dtype=np.uint8)).save(
            tmp_path / name
        )
        inputs.append(str(tmp_path / name))
    opaque = tmp_path / "c.png"
    Image.fromarray(rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(opaque)
    for options in ([], ["--strip"]):  # alpha is pixels, not metadata: --strip changes nothing
        done = run("apply", *inputs, str(opaque), "-k", "box", "--format", fmt, "-o",
                   str(tmp_path / f"out{len(options)}"), "-q", *options)  # fmt: skip
        assert done.exit_code == 0, done.stderr
        alpha = [line for line in notes(done.stderr) if "alpha" in line]
        assert alpha == ([] if said is None else [f"convcli: note: {said}"])
    alone = run("apply", str(opaque), "-k", "box", "--format", fmt, "-o", str(tmp_path / "o/"))
    assert "alpha" not in alone.stderr  # an input without alpha lost none
