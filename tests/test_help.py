"""``--help`` groups apply's options by what a user looks for, in click's plain layout."""

from __future__ import annotations

import re

import pytest

from convcli.cli import app
from helpers import run, runner

# The groups a user scans, in the order a run goes (README, "convcli apply"); --help last.
APPLY_GROUPS = {
    "Kernels": ["--kernel", "--bias", "--bank", "--method"],
    "Geometry": ["--padding", "--pad-mode", "--pad-value", "--stride", "--dilation", "--flip"],
    "Values": ["--gray", "--range", "--colormap"],
    "Inputs": ["--recursive", "--frame", "--max-pixels"],
    "Output": ["--output", "--name", "--format", "--compress-level", "--quality", "--strip"],
    "Batch": ["--jobs", "--skip-existing", "--fail-fast", "--dry-run"],
    "Reports": ["--json", "--report", "--quiet", "--verbose"],
    "Contact sheet": ["--montage", "--montage-scale"],
    "Scale-out": ["--scheduler", "--tile"],
    "Options": ["--help"],
}


def sections(help_text: str) -> dict[str, list[str]]:
    """Map each section heading of a --help to the long options that start its rows."""
    found: dict[str, list[str]] = {}
    current = None
    for line in help_text.splitlines():
        if re.fullmatch(r"[A-Z][A-Za-z -]*:", line):
            current = found.setdefault(line[:-1], [])
        elif current is not None and (row := re.match(r"  (?:-\w, )?(--[\w-]+)", line)):
            current.append(row.group(1))
    return found


@pytest.mark.parametrize("columns", ["60", "80", "200"])
def test_apply_help_groups_every_option(columns):
    result = runner.invoke(app, ["apply", "--help"], env={"COLUMNS": columns})
    assert result.exit_code == 0
    shown = sections(result.stdout)
    assert shown.pop("Arguments") == []
    assert shown == APPLY_GROUPS


def test_every_group_starts_its_help_in_one_column():
    lines = runner.invoke(app, ["apply", "--help"], env={"COLUMNS": "80"}).stdout.splitlines()
    starts = {re.match(r"  \S+(?: \S+)*\s{2,}", line).end() for line in lines  # type: ignore[union-attr]
              if re.match(r"  -", line)}  # fmt: skip
    assert starts == {25}  # "  -p, --padding PADDING" and two spaces: the widest short row


def test_explain_shows_the_geometry_as_apply_does():
    shown = sections(runner.invoke(app, ["explain", "--help"], env={"COLUMNS": "200"}).stdout)
    assert shown["Geometry"] == APPLY_GROUPS["Geometry"]
    assert list(shown) == ["Options", "Geometry"]


def test_kernels_help_has_one_options_section():
    for command in (["kernels", "list"], ["kernels", "show"]):
        shown = sections(run(*command, "--help").stdout)
        assert [name for name in shown if name != "Arguments"] == ["Options"]
