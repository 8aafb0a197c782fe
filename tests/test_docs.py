"""Every command and option is in its --help and in the README."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from PIL import Image

import convcli
from convcli.cli import app
from helpers import SAMPLES, runner

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(group: typer.Typer, prefix: tuple[str, ...] = ()):
    click_group = typer.main.get_command(group)
    for name, command in click_group.commands.items():  # type: ignore[attr-defined]
        path = (*prefix, name)
        if hasattr(command, "commands"):
            for sub_name, sub in command.commands.items():
                yield (*path, sub_name), sub
        else:
            yield path, command


ALL = list(commands(app))


def test_the_commands_are_the_designed_ones():
    designed = ["apply", "explain", "kernels list", "kernels show"]
    assert sorted(" ".join(path) for path, _ in ALL) == designed


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_option_is_in_help_and_readme(path, command):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert command.help
    assert f"convcli {' '.join(path)}" in README
    for parameter in command.params:
        for flag in parameter.opts:
            if flag.startswith("-") and flag != "--help":
                assert flag in result.stdout, f"{flag} missing from --help"
                assert flag in README, f"{flag} of {' '.join(path)} missing from README"


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(path) for path, _ in ALL])
def test_every_command_help_ends_with_examples_that_run(tmp_path, path, command):
    shown = runner.invoke(app, [*path, "--help"]).stdout
    lines = [line.split("#")[0].strip() for line in (command.epilog or "").splitlines()]
    examples = [line for line in lines if line.startswith("convcli ")]
    assert 2 <= len(examples) <= 5
    assert all(example in shown for example in examples)
    (tmp_path / "photos").mkdir()
    for source, name in [("astronaut.png", "photos/a.png"), ("coins.png", "photos/b.png"),
                         ("camera.png", "scan.tif"), ("coins.png", "img.png"),
                         ("coins.png", "in.png"), ("astronaut.png", "photo.jpg")]:  # fmt: skip
        with Image.open(SAMPLES / source) as image:
            image.convert("RGB").save(tmp_path / name)
    for example in examples:  # through a shell, as typed (one has < and >)
        run = f"'{sys.executable}' -m {example}"
        done = subprocess.run(run, shell=True, cwd=tmp_path, capture_output=True, check=False)
        assert done.returncode == 0, (example, done.stderr)
    if path == ("apply",):
        for made in ["photo_sobel-x.jpg", "blurred/a_gaussian-sigma-2.png", "small.tif", "out.png"]:
            assert (tmp_path / made).stat().st_size > 0, made


def written(function) -> str:
    """Write a function's call as the README's headings do: defaults by value, no annotations."""
    words: list[str] = []
    for p in inspect.signature(function).parameters.values():
        if p.kind is p.KEYWORD_ONLY and "*" not in words:
            words.append("*")
        if p.default is not p.empty:
            shown = f"np.{p.default.__name__}" if isinstance(p.default, type) else repr(p.default)
            words.append(f"{p.name}={shown}".replace("'", '"'))
        else:
            words.append(f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name)
        if p.kind is p.POSITIONAL_ONLY:
            words = [w for w in words if w != "/"] + ["/"]
    return f"{function.__name__}({', '.join(words)})"


@pytest.mark.parametrize("name", [n for n in convcli.__all__ if n.islower() and n[0] != "_"])
def test_every_library_function_is_a_heading_with_its_signature(name):
    library = README.split("\n## The library\n")[1].split("\n## ")[0]
    headings = " ".join(line for line in library.splitlines() if line.startswith("### "))
    assert f"`{written(getattr(convcli, name))}`" in headings
