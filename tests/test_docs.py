"""Every command and option is in its --help and in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from convcli.cli import app
from helpers import runner

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
