"""Outputs never clobber each other: names that tell settings apart, --name, re-runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES, run


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("camera", "coins"):
        shutil.copy(SAMPLES / f"{name}.png", folder / f"{name}.png")
    return folder


def apply(*args: str):
    result = run("apply", *args, "-q")
    assert result.exit_code == 0, result.stderr
    return result


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], "camera_sobel.png"),
        (["--gray"], "camera_sobel_gray.png"),
        (["--flip"], "camera_sobel_flip.png"),
        (["-s", "2"], "camera_sobel_s2.png"),
        (["-s", "2,1", "-d", "3"], "camera_sobel_s2-1_d3.png"),
        (["-p", "valid"], "camera_sobel_valid.png"),
        (["-p", "1,2"], "camera_sobel_p1-2.png"),
        (["--pad-mode", "edge"], "camera_sobel_replicate.png"),
        (["--pad-mode", "zero", "--pad-value", "128"], "camera_sobel_zero_v128.png"),
        (["--range", "rescale"], "camera_sobel_rescale.png"),
        (["--colormap", "magma"], "camera_sobel_magma.png"),
        (["--colormap", "coolwarm", "--range", "offset"], "camera_sobel_offset_coolwarm.png"),
        (["--method", "fft"], "camera_sobel.png"),  # the same result, to float rounding
    ],
)
def test_the_default_name_tells_every_setting_that_changes_the_result(photos, options, expected):
    apply(str(photos / "camera.png"), "-k", "sobel", *options)
    assert (photos / expected).exists(), names(photos)


def test_the_tours_runs_no_longer_overwrite_each_other(photos):
    apply(str(photos / "camera.png"), "-k", "sobel")
    apply(str(photos / "camera.png"), "-k", "sobel", "--gray")
    apply(str(photos / "camera.png"), "-k", "[[1, 0], [0, -1]]")
    apply(str(photos / "camera.png"), "-k", "[[0, 1], [-1, 0]]")
    made = [name for name in names(photos) if name.startswith("camera_")]
    assert len(made) == 4
    inline = [name for name in made if "inline" in name]
    assert all(re.fullmatch(r"camera_inline-[0-9a-f]{8}\.png", name) for name in inline)


def test_name_fields(photos, tmp_path):
    out = tmp_path / "out"
    apply(str(photos), "-k", "sobel-x", "-s", "2", "-o", f"{out}/",
          "--name", "{parent}-{stem}-{kernel}-{settings}{suffix}")  # fmt: skip
    assert names(out) == ["photos-camera-sobel-x-s2.png", "photos-coins-sobel-x-s2.png"]
    apply(str(photos / "coins.png"), "-k", "box", "--name", "{tag}.{stem}{suffix}.png")
    assert (photos / "box.coins.png.png").exists()


def test_name_with_another_suffix_writes_that_format(photos):
    apply(str(photos / "coins.png"), "-k", "box", "--name", "{stem}_{tag}.jpg")
    with Image.open(photos / "coins_box.jpg") as image:
        assert image.format == "JPEG"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{stem}_{size}{suffix}", r"--name has no field \{size\}; it takes \{stem\}, \{tag\}"),
        ("{stem!r}{suffix}", r"--name has no field \{stem\}"),
        ("{stem", r"--name is not a template: "),
        (
            "sub/{stem}{suffix}",
            r"--name gives a file name, not a path, got 'sub/\{stem\}\{suffix\}'",
        ),
    ],
)
def test_bad_templates_are_usage_errors(photos, template, message):
    result = run("apply", str(photos / "camera.png"), "-k", "box", "--name", template)
    assert result.exit_code == 2
    assert re.fullmatch(f"convcli: error: {message}.*", result.stderr.strip())
    assert names(photos) == ["camera.png", "coins.png"]


def test_name_with_an_output_file_is_a_usage_error(photos):
    result = run("apply", str(photos / "camera.png"), "-k", "box", "-o",
                 str(photos / "x.png"), "--name", "{stem}{suffix}")  # fmt: skip
    assert result.exit_code == 2
    assert "--name names outputs in a folder or beside their inputs" in result.stderr


def test_a_folder_run_can_be_repeated_and_leaves_its_outputs_out(photos):
    apply(str(photos), "-k", "sobel")
    first = {name: (photos / name).stat().st_mtime_ns for name in names(photos)}
    again = run("apply", str(photos), "-k", "sobel", "--json")
    assert again.exit_code == 0, again.stderr
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert [Path(r["input"]).name for r in records] == ["camera.png", "coins.png"]
    assert all(r["status"] == "ok" for r in records)
    assert "left out 2 files that convcli made" in again.stderr
    assert names(photos) == sorted(first)  # replaced, nothing new
    assert all((photos / n).stat().st_mtime_ns > first[n] for n in first if "_sobel" in n)


def test_another_kernel_does_not_filter_the_last_runs_outputs(photos):
    apply(str(photos), "-k", "sobel")
    apply(str(photos), "-k", "box")
    assert names(photos) == ["camera.png", "camera_box.png", "camera_sobel.png", "coins.png",
                             "coins_box.png", "coins_sobel.png"]  # fmt: skip


def test_a_convcli_output_named_on_the_command_line_is_filtered(photos):
    apply(str(photos / "coins.png"), "-k", "sobel")
    apply(str(photos / "coins_sobel.png"), "-k", "box")
    assert (photos / "coins_sobel_box.png").exists()


def test_skip_existing_skips_its_own_outputs(photos):
    apply(str(photos), "-k", "sobel")
    result = run("apply", str(photos), "-k", "sobel", "--skip-existing", "--json")
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == [
        "skipped", "skipped"
    ]  # fmt: skip


def test_a_file_convcli_did_not_make_is_not_replaced(photos):
    mine = photos / "coins_box.png"
    shutil.copy(SAMPLES / "astronaut.png", mine)
    before = mine.read_bytes()
    result = run("apply", str(photos / "coins.png"), "-k", "box")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"convcli: error: {mine} exists and convcli did not make it; give the output "
        "another name (-o, --name) or move the file"
    )
    assert mine.read_bytes() == before
    assert apply(str(photos / "coins.png"), "-k", "box", "-o", str(mine))  # -o: on purpose
    assert mine.read_bytes() != before


def test_an_output_made_with_other_settings_is_not_replaced(photos, tmp_path):
    kernel_file = tmp_path / "mine.toml"
    kernel_file.write_text("[edge]\nmatrix = [[1, -1]]\n")
    apply(str(photos / "coins.png"), "-k", str(kernel_file))
    made = photos / "coins_edge.png"
    before = made.read_bytes()
    kernel_file.write_text("[edge]\nmatrix = [[-1, 1]]\n")  # the same name, other weights
    result = run("apply", str(photos / "coins.png"), "-k", str(kernel_file))
    assert result.exit_code == 2
    assert re.fullmatch(
        rf"convcli: error: {re.escape(str(made))} was made by convcli with other settings "
        r"\(\{\"kernels\":\[\"edge@[0-9a-f]{8}\"\].*\}\); give the output another name "
        r"\(-o, --name\) or remove it",
        result.stderr.strip(),
    )
    assert made.read_bytes() == before


def test_an_npy_of_another_shape_is_not_taken_for_an_output(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((6, 5)))
    np.save(tmp_path / "a_box.npy", np.zeros(3))  # where the output of a.npy goes
    result = run("apply", str(tmp_path / "a.npy"), "-k", "box")
    assert result.exit_code == 2
    assert result.stderr == (  # "same" padding: the output has the input's shape
        f"convcli: error: {tmp_path / 'a_box.npy'} exists, and its format (NPY) cannot say who "
        "made it: it is not the 6x5 NPY this run writes there, so convcli did not make it; give "
        "the output another name (-o, --name) or move the file\n"
    )
    assert np.load(tmp_path / "a_box.npy").shape == (3,)


def test_npy_outputs_cannot_say_who_made_them_and_are_replaced(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(10.0))
    apply(str(tmp_path / "a.npy"), "-k", "[1, 1]")
    apply(str(tmp_path / "a.npy"), "-k", "[1, 1]")
    assert len(list(tmp_path.glob("a_inline-*.npy"))) == 1


def _suggested(stderr: str) -> str:
    match = re.search(r"--name '([^']+)'", stderr)
    assert match, stderr
    return match.group(1)


@pytest.mark.parametrize("template", [None, "x{suffix}"])
def test_a_collision_suggests_a_name_template_that_resolves_it(tmp_path, template):
    """photos/IMG_1.png and clean/IMG_1.png into one folder: the suggestion, typed, works."""
    for folder in ("photos", "clean"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / "coins.png", tmp_path / folder / "IMG_1.png")
    given = ["--name", template] if template else []
    inputs = [str(tmp_path / "photos" / "IMG_1.png"), str(tmp_path / "clean" / "IMG_1.png")]
    out = tmp_path / "cc"
    refused = run("apply", *inputs, "-k", "sobel", "-o", f"{out}/", *given)
    assert refused.exit_code == 2
    [line] = refused.stderr.splitlines()
    written, suggested = ("IMG_1_sobel.png", "{parent}-{stem}_{tag}{suffix}") if template is None \
        else ("x.png", "{parent}-{stem}_x{suffix}")  # fmt: skip
    assert line == (
        f"convcli: error: {inputs[0]} and {inputs[1]} would both write {out / written}; "
        f"give every output its own name with --name '{suggested}'"
    )
    suggestion = _suggested(line)
    assert apply(*inputs, "-k", "sobel", "-o", f"{out}/", "--name", suggestion)
    expected = {"photos-IMG_1_sobel.png", "clean-IMG_1_sobel.png"} if template is None else {
        "photos-IMG_1_x.png", "clean-IMG_1_x.png"}  # fmt: skip
    assert set(names(out)) == expected


def test_a_collision_that_no_template_resolves_says_what_does(photos):
    with Image.open(photos / "coins.png") as image:
        image.save(photos / "coins.jpg")
    refused = run("apply", str(photos / "coins.png"), str(photos / "coins.jpg"), "-k", "box",
                  "--format", "png")  # fmt: skip
    assert refused.exit_code == 2
    clash = photos / "coins_box.png"
    assert refused.stderr == (
        f"convcli: error: {photos / 'coins.png'} and {photos / 'coins.jpg'} would both write "
        f"{clash}; run them separately, into different -o folders or leave out --format\n"
    )
    apply(str(photos / "coins.png"), str(photos / "coins.jpg"), "-k", "box")  # without --format
    assert {"coins_box.png", "coins_box.jpg"} <= set(names(photos))
