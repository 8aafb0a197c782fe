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
import types
from pathlib import Path

import numpy as np
import pytest
import tifffile
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
LAYER = blocks(section("Learn convolution").split("\n### A layer of a CNN, by hand\n")[1])
# The lesson's PyTorch export, from its first block that uses torch: the commands after it use
# the files it writes
EXPORT = LAYER[next(i for i, (kind, code) in enumerate(LAYER) if "torch" in code) :]
EXPORTED = [code for kind, code in EXPORT if kind == "sh"]


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


@pytest.mark.parametrize(
    "script", [code for kind, code in TOUR + LEARN if kind == "sh" and code not in EXPORTED]
)
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
    made = re.findall(r"(?:-o|--montage) (sample_images/learn/\S+)", "\n".join(scripts))
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


def test_the_layer_lessons_weights_are_what_its_python_makes(tmp_path):
    """The committed weights are rerun by the lesson's Python, byte for byte."""
    (maker,) = [code for kind, code in LAYER if kind == "python" and "save_file(" in code
                and "torch" not in code]  # fmt: skip
    weights = ROOT / "sample_images" / "weights"
    (tmp_path / "sample_images" / "weights").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", maker], cwd=tmp_path, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    made = sorted((tmp_path / "sample_images" / "weights").iterdir())
    assert [path.name for path in made] == sorted(path.name for path in weights.iterdir())
    for path in made:
        assert path.read_bytes() == (weights / path.name).read_bytes(), path.name


def test_the_layer_lessons_shape_report_is_what_the_command_prints(workspace):
    (command, shown), *_ = [
        (code, after)
        for (kind, code), (after_kind, after) in itertools.pairwise(LAYER)
        if kind == "sh" and after_kind == "" and after.startswith("convcli apply:")
    ]
    done = shell(command, workspace)
    assert done.returncode == 0, done.stderr
    assert TIMES.sub("", done.stdout) == TIMES.sub("", shown)
    for shape in ("512x512x3", "512x512x8", "256x256x8", "256x256x3"):
        assert shape in shown


def test_the_layer_lessons_pytorch_export_is_read_as_pytorch_computes_it(tmp_path, monkeypatch):
    """The lesson's lines run on a ResNet-18's first layer; convcli's maps are conv2d's."""
    torch = pytest.importorskip("torch", reason="needs PyTorch: pip install torch")
    pytest.importorskip("safetensors.torch")
    functional = torch.nn.functional
    torch.manual_seed(28)

    class Stem(torch.nn.Module):  # what the lesson uses of torchvision's ResNet-18, untrained
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(64)

    models = types.SimpleNamespace(resnet18=lambda weights: Stem())  # no download
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))
    shutil.copytree(ROOT / "sample_images", tmp_path / "sample_images")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for kind, code in EXPORT:  # in order: Python in one namespace, commands in a shell
        if kind == "python":
            exec(compile(code, "README.md", "exec"), namespace)
        elif kind == "sh":
            done = shell(code, tmp_path)
            assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "sample_images" / "astronaut.png") as photo:
        samples = torch.from_numpy(np.asarray(photo.convert("RGB"), dtype=np.float32))
    samples = samples.permute(2, 0, 1)[None]  # (1, C, H, W)
    weights = namespace["model"].conv1.weight.detach()
    expected = functional.conv2d(samples, weights, stride=2, padding=3)
    maps = np.load(tmp_path / "maps.npy")
    assert maps.shape == (256, 256, 64)
    np.testing.assert_allclose(maps, expected[0].permute(1, 2, 0).numpy(), rtol=1e-5, atol=1e-3)
    pages = tifffile.imread(tmp_path / "maps.tif")
    assert np.array_equal(np.moveaxis(pages, 0, -1), maps)
    for picture in ("resnet18_conv1.png", "resnet18_maps.png"):
        with Image.open(tmp_path / picture) as drawn:
            assert drawn.width > 256, picture
    # the folded weights: the network's maps of its own normalised 0-to-1 samples
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    normalised = functional.pad((samples / 255 - mean) / std, (3, 3, 3, 3), mode="replicate")
    network = functional.conv2d(normalised, weights, stride=2)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "resnet18_maps.npy"), network, rtol=1e-4,
                               atol=1e-4)  # fmt: skip


def test_the_layer_lessons_python_prints_what_the_readme_shows(workspace, monkeypatch):
    cells = [
        (code, shown)
        for (kind, code), (after, shown) in itertools.pairwise(LAYER)
        if kind == "python" and after == "text"
    ]
    assert cells
    monkeypatch.chdir(workspace)
    for code, shown in cells:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), {})
        assert printed.getvalue() == shown
