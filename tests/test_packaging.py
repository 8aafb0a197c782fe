"""The wheel holds the built-in kernels, and an installed copy finds them from anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("convcli-*.whl"))


def test_the_wheel_contains_every_kernel_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for path in (ROOT / "kernels").glob("*.toml"):
        assert f"convcli/builtin_kernels/{path.name}" in names
    assert "convcli/py.typed" in names


def test_the_wheel_contains_the_pages_template(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "convcli/pictures/page.html" in names  # read by explain --html, not imported
    assert not any(name.endswith("ruff.toml") for name in names)


def test_an_installed_wheel_lists_its_kernels_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
         str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = "from convcli.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "kernels", "list", "--json"],
        cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    entries = json.loads(result.stdout)
    assert "sobel-x" in {entry["name"] for entry in entries}
    assert str(target) in subprocess.run(
        [sys.executable, "-c", "import convcli; print(convcli.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(target)}, capture_output=True, text=True,
    ).stdout  # fmt: skip
