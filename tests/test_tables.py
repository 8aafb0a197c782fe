"""Tables a person can read and copy: paths and kernel specs whole on one line, words unbroken.

Rendered as on a terminal of 60, 80 and 120 columns (COLUMNS): a table
where its whole cells fit, else a block of lines per row.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from helpers import SAMPLES, run

WIDTHS = [60, 80, 120]


@pytest.fixture
def columns(request, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(request.param))
    return request.param


def _on_one_line(text: str, whole: str) -> bool:
    """Whether ``whole`` appears, from a cell's edge to a cell's edge, within one line."""
    edge = r"(^|\s|│)"
    return any(re.search(rf"{edge}{re.escape(whole)}(\s|│|$)", line) for line in text.splitlines())


def _fits(text: str, columns: int) -> bool:
    return all(len(line) <= columns for line in text.splitlines()) and "…" not in text


@pytest.mark.parametrize("columns", WIDTHS, indirect=True)
def test_kernels_list_keeps_specs_and_words_whole(columns):
    result = run("kernels", "list")
    assert result.exit_code == 0
    assert _fits(result.stdout, columns)
    entries = json.loads(run("kernels", "list", "--json").stdout)
    words = set(result.stdout.replace("│", " ").split())
    for entry in entries:
        # The spec is one token: the name, then every parameter (gaussian:sigma=1,size=auto).
        parameters = entry["parameters"] or {}
        spec = entry["name"]
        if parameters and ":" not in spec:  # one named in full (sobel:angle=0) is its spec
            spec = next(word for word in words if word.startswith(entry["name"] + ":"))
            assert all(f"{key}=" in spec for key in parameters)
        assert _on_one_line(result.stdout, spec)
        assert set(entry["description"].split()) <= words  # no word broken in two
        assert _on_one_line(result.stdout, ", ".join(entry["tags"]))


@pytest.mark.parametrize("columns", WIDTHS, indirect=True)
def test_a_verbose_batch_table_keeps_paths_whole(columns, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    names = ["holiday photo é.png", "camera.png"]
    for name, sample in zip(names, ["coins.png", "camera.png"], strict=True):
        shutil.copy(SAMPLES / sample, tmp_path / "photos" / name)
    result = run("apply", "photos", "-k", "gaussian:sigma=1.5", "-o", "edges", "-v")
    assert result.exit_code == 0, result.stderr
    assert _fits(result.stdout, columns)
    for name in names:
        stem = name.removesuffix(".png")
        assert _on_one_line(result.stdout, f"photos/{name}")
        assert _on_one_line(result.stdout, f"edges/{stem}_gaussian-sigma-1.5.png")
    assert _on_one_line(result.stdout, "gaussian:sigma=1.5")


@pytest.mark.parametrize("columns", WIDTHS, indirect=True)
def test_the_tours_pipeline_report_keeps_its_output_whole(columns, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the README's own command, from the repository's root
    (tmp_path / "sample_images").mkdir()
    shutil.copy(SAMPLES / "coins.png", "sample_images/coins.png")
    result = run("apply", "sample_images/coins.png", "-k", "gaussian:sigma=1.5", "-k",
                 "laplacian", "--range", "rescale")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert _fits(result.stdout, columns)
    output = "sample_images/coins_gaussian-sigma-1.5+laplacian_rescale.png"  # 60 characters
    assert _on_one_line(result.stdout, output)
    assert _on_one_line(result.stdout, "gaussian:sigma=1.5")


def test_a_path_wider_than_beside_its_key_starts_below_it(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.chdir(tmp_path)
    long = "a-photograph-with-a-name-long-enough-to-need-a-line.png"  # 55 characters
    shutil.copy(SAMPLES / "coins.png", long)
    result = run("apply", long, "-k", "box", "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index("input") + 1].startswith(long)  # not folded beside "input"
