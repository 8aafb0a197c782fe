"""What a package index gets: the sdist, and the wheel built from it, with what they hold.

The wheel holds the built-in kernels, and an installed copy finds them from anywhere.
`.ci/run` also checks both with twine and installs each in a fresh environment.
"""

from __future__ import annotations

import email
import json
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import convcli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """Build as an uploader would: the sdist from the checkout, the wheel from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    return next(dist.glob("convcli-*.whl"))


@pytest.fixture(scope="module")
def sdist(dist) -> list[str]:
    """The sdist's names, below its top folder."""
    with tarfile.open(next(dist.glob("convcli-*.tar.gz"))) as archive:
        return [name.partition("/")[2] for name in archive.getnames()]


@pytest.fixture(scope="module")
def metadata(wheel) -> email.message.Message:
    name = f"convcli-{convcli.__version__}.dist-info/METADATA"
    return email.message_from_bytes(zipfile.ZipFile(wheel).read(name))


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


def test_the_wheel_holds_the_package_and_its_licence_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    info = f"convcli-{convcli.__version__}.dist-info/"
    assert f"{info}licenses/LICENSE" in names
    assert all(name.startswith(("convcli/", info)) for name in names)  # no tests, no benchmarks


def test_the_metadata_carries_the_licence_as_an_spdx_expression(metadata):
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["License-File"] == "LICENSE"
    assert not [c for c in metadata.get_all("Classifier") if c.startswith("License ::")]  # PEP 639


def test_the_long_description_has_no_picture_an_index_cannot_show(metadata):
    readme = metadata.get_payload()
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "## Quick start" in readme
    assert "](sample_images/" not in readme  # relative: an index has no such file beside it
    assert "*[picture: sobel's two components, weights as coloured cells;" in readme


def test_the_sdist_holds_what_builds_and_tests_the_package(sdist):
    expected = {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO",
                "kernels/edges.toml", "src/convcli/__init__.py", "src/convcli/pictures/page.html",
                "tests/test_engine.py", "sample_images/camera.png"}  # fmt: skip
    assert expected <= set(sdist)
    assert not [name for name in sdist if name.startswith((".ci/", "benchmarks/"))]


def test_the_changelogs_latest_version_is_the_packages():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[(.+?)\]", changelog, flags=re.MULTILINE)
    assert versions[0] == "Unreleased"
    assert versions[1] == convcli.__version__


def test_every_dependency_has_a_lower_bound():  # .ci/run installs and tests exactly these
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert ">=" in requirement, requirement
