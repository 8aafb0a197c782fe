"""The command line: entry points and start-up."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from convcli import __version__
from convcli.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"convcli {__version__}\n"


def test_python_dash_m_runs_the_same_program():
    result = subprocess.run(
        [sys.executable, "-m", "convcli", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"convcli {__version__}\n"


def test_importing_the_package_does_not_load_numpy():
    # The library API is loaded on first use, so `convcli --help` stays fast.
    loaded = "print('numpy' in sys.modules)"
    code = f"import sys, convcli; {loaded}; convcli.convolve; {loaded}"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
