"""At home in a terminal: suggestions for mistyped choices, first contact, guards."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

import pytest

from convcli.cli import app
from convcli.cli.environment import Environment
from helpers import SAMPLES, run, runner

COINS = str(SAMPLES / "coins.png")


@pytest.mark.parametrize(
    ("option", "value", "hint"),
    [
        ("--pad-mode", "mirror", "SciPy's 'mirror' is convcli's reflect"),
        ("--pad-mode", "nearest", "SciPy's 'nearest' is convcli's replicate"),
        ("--pad-mode", "grid-wrap", "SciPy's 'grid-wrap' is convcli's wrap"),
        ("--pad-mode", "BORDER_REFLECT_101", "OpenCV's BORDER_REFLECT_101 is convcli's reflect"),
        ("--pad-mode", "cv2.BORDER_REFLECT", "OpenCV's BORDER_REFLECT is convcli's symmetric"),
        ("--pad-mode", "zeros", "PyTorch's 'zeros' is convcli's zero"),
        ("--pad-mode", "replicat", "did you mean replicate?"),
        ("--range", "absolute", "did you mean abs?"),
        ("--range", "rescal", "did you mean rescale?"),
        ("--colormap", "virdis", "did you mean viridis?"),
        ("--method", "seperable", "did you mean separable?"),
        ("--padding", "sam", "did you mean same?"),
    ],
)
def test_a_mistyped_choice_gets_a_suggestion(option, value, hint):
    result = run("apply", COINS, "-k", "box", option, value)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"got {value!r}; {hint}")


@pytest.mark.parametrize("option", ["--format", "-o"])
def test_a_mistyped_format_gets_a_suggestion(option, tmp_path):
    value = "pgn" if option == "--format" else str(tmp_path / "out.pgn")
    result = run("apply", COINS, "-k", "box", option, value)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("; did you mean png?")
    assert list(tmp_path.iterdir()) == []


def test_a_name_no_choice_resembles_gets_the_list_alone():
    result = run("apply", COINS, "-k", "box", "--colormap", "jet")
    assert result.stderr.strip().endswith("got 'jet'")


def test_the_library_message_stays_without_the_hint():
    from convcli import ConvcliError, convolve

    with pytest.raises(ConvcliError) as raised:
        convolve([1.0, 2.0], [1.0], pad_mode="mirror")
    assert str(raised.value).endswith("got 'mirror'")
    assert raised.value.hint == "SciPy's 'mirror' is convcli's reflect"


def test_bare_program_and_group_show_their_help_and_exit_0():
    for args in ((), ("kernels",)):
        result = run(*args)
        assert result.exit_code == 0
        assert result.stdout.startswith(f"Usage: convcli {' '.join(args)}".rstrip() + " [OPTIONS]")
        assert "Commands" in result.stdout
        assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (("apply",), "convcli apply [OPTIONS] INPUT..."),
        (("explain",), "convcli explain [OPTIONS]"),
        (("kernels", "show"), "convcli kernels show [OPTIONS] KERNEL"),
    ],
)
def test_the_usage_line_writes_arguments_as_click_does(command, usage):
    # Not {INPUT...}: braces read as a choice of words.
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"Usage: {usage}"


def test_short_version_flag():
    from convcli import __version__

    result = run("-V")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"convcli {__version__}"


def _on_a_terminal(args: list[str], stream: str) -> subprocess.CompletedProcess[bytes]:
    """Run convcli with standard input or output on a pseudo-terminal."""
    leader, follower = pty.openpty()
    try:
        where = {"stdin": follower} if stream == "stdin" else {"stdout": follower}
        return subprocess.run([sys.executable, "-m", "convcli", *args], stderr=subprocess.PIPE,
                              timeout=120, **where)  # type: ignore[call-overload]  # fmt: skip
    finally:
        os.close(leader)
        os.close(follower)


def test_no_image_is_read_from_a_terminal(tmp_path):
    result = _on_a_terminal(["apply", "-", "-k", "box", "-o", str(tmp_path / "o.png")], "stdin")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "convcli: error: standard input is a terminal: pipe an image in (convcli apply - < a.png)"
    )


def test_no_image_is_written_on_a_terminal():
    result = _on_a_terminal(["apply", COINS, "-k", "box", "-o", "-"], "stdout")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "convcli: error: standard output is a terminal: an image is not written on the "
        "screen; redirect it (> out.png) or use -o FILE"
    )


def _in(streams: Environment, *args: str):
    """Run convcli in this process with ``streams`` for its standard streams and terminals."""
    return runner.invoke(app, list(args), environment=streams)


def test_a_terminal_given_as_standard_input_is_refused(tmp_path):
    streams = Environment(io.StringIO(), io.StringIO(), io.StringIO(), stdin_isatty=True)
    result = _in(streams, "apply", "-", "-k", "box", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "convcli: error: standard input is a terminal: pipe an image in (convcli apply - < a.png)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_terminal_given_as_standard_output_gets_no_image():
    streams = Environment(io.StringIO(), io.StringIO(), io.StringIO(), stdout_isatty=True)
    result = _in(streams, "apply", COINS, "-k", "box", "-o", "-")
    assert result.exit_code == 2
    assert "standard output is a terminal: an image is not written" in result.stderr
    assert streams.stdout.getvalue() == ""  # type: ignore[union-attr]


def test_the_records_go_to_the_standard_output_given(tmp_path):
    streams = Environment(io.StringIO(), io.StringIO(), io.StringIO())
    camera = str(SAMPLES / "camera.png")
    result = _in(streams, "apply", COINS, camera, "-k", "box", "-o", f"{tmp_path}/", "--json")
    assert result.exit_code == 0
    assert result.stdout == ""  # the process's own standard output is not the run's
    records = [json.loads(line) for line in streams.stdout.getvalue().splitlines()]  # type: ignore[union-attr]
    assert [record["input"] for record in records] == [COINS, camera]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["camera_box.png", "coins_box.png"]


def test_a_batch_runs_with_standard_error_closed(tmp_path):
    # Python makes a closed stream None: the run has no terminal to draw on, and says nothing.
    args = ["apply", COINS, str(SAMPLES / "camera.png"), "-k", "box", "-o", f"{tmp_path}/"]
    result = subprocess.run([sys.executable, "-m", "convcli", *args], stderr=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, timeout=120, pass_fds=(),
                            preexec_fn=lambda: os.close(2))  # fmt: skip
    assert result.returncode == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["camera_box.png", "coins_box.png"]


def test_the_default_workers_follow_the_affinity():
    from convcli.library.batch import usable_cpus

    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))
