"""The README's tour and its lessons run verbatim, and what it shows is what they print."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
TIMES = re.compile(r"\d+(\.\d+)? (ms|s) +")  # a timing and its padding: what differs between runs


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def blocks(text: str) -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in FENCE.finditer(text)]


TOUR = blocks(section("A tour"))
LEARN = blocks(section("Learn convolution"))
LIBRARY = blocks(section("The library"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder holding a copy of the sample images, where the README's commands run."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "sample_images", folder / "sample_images")
    return folder


def shell(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder,
                          env=os.environ | {"PATH": path}, capture_output=True, text=True,
                          check=False)  # fmt: skip


@pytest.mark.parametrize("script", [code for kind, code in TOUR + LEARN if kind == "sh"])
def test_every_command_of_the_tour_and_the_lessons_runs(workspace, script):
    done = shell(script, workspace)
    assert done.returncode == 0, done.stderr


def test_the_tours_shape_report_is_what_the_command_prints(workspace):
    command, shown = [code for kind, code in TOUR if kind in ("sh", "")][2:4]
    assert command.startswith("convcli apply")
    assert shown.startswith("convcli apply:")
    done = shell(command, workspace)
    assert done.returncode == 0, done.stderr
    assert TIMES.sub("", done.stdout) == TIMES.sub("", shown)


@pytest.mark.parametrize("session", [code for kind, code in LEARN if kind == "console"])
def test_every_lesson_prints_what_the_readme_shows(workspace, session):
    command, _, shown = session.partition("\n")
    done = shell(command.removeprefix("$ "), workspace)
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


def test_the_lessons_pictures_are_what_their_commands_make(workspace):
    """The committed pictures are rerun into the copy by the commands above them."""
    scripts = [code for kind, code in LEARN if kind == "sh" and "sample_images/learn/" in code]
    made = re.findall(r"-o (sample_images/learn/\S+)", "\n".join(scripts))
    animated = re.findall(r"--animate (sample_images/learn/\S+)", "\n".join(scripts))
    assert len(made) >= 5
    assert len(animated) >= 3
    done = shell("\n".join(scripts), workspace)
    assert done.returncode == 0, done.stderr
    for name in made:
        with Image.open(ROOT / name) as committed, Image.open(workspace / name) as rerun:
            assert committed.mode == rerun.mode, name
            assert np.array_equal(np.asarray(committed), np.asarray(rerun)), name
    for name in animated:  # written deterministically: the same bytes
        assert (ROOT / name).read_bytes() == (workspace / name).read_bytes(), name


def test_the_librarys_notebook_prints_what_the_readme_shows(workspace, monkeypatch):
    """Its cells (Python without prompts) run in order, each printing the text block after it."""
    cells = [
        (code, shown)
        for (kind, code), (after, shown) in itertools.pairwise(LIBRARY)
        if kind == "python" and ">>>" not in code and after == "text"
    ]
    assert len(cells) >= 4
    monkeypatch.chdir(workspace)
    namespace: dict[str, object] = {}
    for code, shown in cells:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), namespace)
        assert printed.getvalue() == shown
    assert (workspace / "astronaut_edges.png").is_file()
