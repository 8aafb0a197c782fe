"""In a real terminal: standard input and error on a pseudo-terminal, standard output a file.

This is how a person runs convcli with ``> report.jsonl``: the progress
display draws on the terminal while the records and images go to the file.
The terminal's output is read back through a small screen model (what a
terminal of that width shows after the bytes), so that a line left behind
or wrapped is seen as a person sees it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES

CTRL_C = b"\x03"  # what the keyboard sends: the terminal turns it into SIGINT, and echoes ^C


@dataclass
class Terminal:
    """What a run left: its exit code, its standard output (a file), the terminal's bytes."""

    returncode: int
    stdout: bytes
    shown: str  # every character written to the terminal, escape codes and all
    columns: int

    def screen(self) -> list[str]:
        """The lines the terminal shows at the end, without the blank ones at the bottom."""
        return Screen(self.columns).feed(self.shown).lines()


class Screen:
    """A terminal's screen, as far as rich's live display and the line discipline use it.

    Characters wrap at the last column (as xterm does: the cursor waits there
    until the next character); carriage return, newline, cursor up and erase
    in line move and clear; colours and the cursor's visibility change nothing
    that is read here.
    """

    CONTROL = re.compile(r"\x1b\[([?\d;]*)([A-Za-z])|(.)", re.DOTALL)

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.row = self.column = 0
        self.wraps = 0  # lines that were too long for the terminal

    def feed(self, text: str) -> Screen:
        for match in self.CONTROL.finditer(text):
            number, command, char = match.groups()
            if command == "A":
                self.row = max(0, self.row - int(number or 1))
            elif command == "K":
                line = self.rows[self.row]
                del line[(0 if number == "2" else self.column) :]
            elif char == "\r":
                self.column = 0
            elif char == "\n":
                self._next_row()
            elif char is not None and char.isprintable():
                self._put(char)
        return self

    def _put(self, char: str) -> None:
        if self.column == self.columns:
            self.wraps += 1
            self._next_row()
        line = self.rows[self.row]
        line.extend(" " * (self.column - len(line) + 1))
        line[self.column] = char
        self.column += 1

    def _next_row(self) -> None:
        self.row, self.column = self.row + 1, 0
        if self.row == len(self.rows):
            self.rows.append([])

    def lines(self) -> list[str]:
        text = ["".join(row).rstrip() for row in self.rows]
        while text and not text[-1]:
            text.pop()
        return text


def on_a_terminal(
    args: list[str],
    cwd: Path,
    *,
    columns: int = 80,
    interrupt_at: str | None = None,
    stdout_too: bool = False,
) -> Terminal:
    """Run convcli with standard input and error on a terminal ``columns`` wide, stdout a file.

    With ``interrupt_at`` (a pattern), Ctrl-C is typed once the terminal shows it; with
    ``stdout_too``, standard output is that terminal as well.
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    unset = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment["TERM"] = "xterm-256color"
    with (cwd / "stdout").open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "convcli", *args], stdin=follower,
            stdout=follower if stdout_too else stdout, stderr=follower, cwd=cwd,
            env=environment, start_new_session=True, preexec_fn=_take_the_terminal,
        )  # fmt: skip
    os.close(follower)
    shown = _read_until_closed(leader, interrupt_at)
    os.close(leader)
    returncode = process.wait(timeout=60)
    return Terminal(returncode, (cwd / "stdout").read_bytes(), shown, columns)


def _take_the_terminal() -> None:
    # In the new session, the terminal on standard input becomes the controlling one, as a
    # shell's is: Ctrl-C typed on it reaches the run (and its workers) as SIGINT.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until_closed(leader: int, interrupt_at: str | None, timeout: float = 120) -> str:
    shown = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every process holding the terminal has ended
            break
        if not chunk:
            break
        shown += chunk
        if interrupt_at is not None and re.search(interrupt_at, shown.decode(errors="replace")):
            os.write(leader, CTRL_C)
            interrupt_at = None
    return shown.decode()


def _photos(folder: Path, count: int, name: str = "photo {}.png") -> list[str]:
    """Write ``count`` copies of the camera sample into ``folder``; return their names."""
    folder.mkdir()
    data = (SAMPLES / "camera.png").read_bytes()
    names = [name.format(n) for n in range(1, count + 1)]
    for each in names:
        (folder / each).write_bytes(data)
    return names


def _records(stdout: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def _bar_drawn(result: Terminal) -> bool:
    return "━" in result.shown  # the bar's own character: nothing else convcli writes has it


# Item 1 of issue 24: the README's batch example, typed with > report.jsonl.


def test_every_record_reaches_the_file_while_the_bar_draws(tmp_path):
    names = _photos(tmp_path / "photos", 12)
    args = ["apply", "photos/", "-k", "sobel", "-o", "edges/", "-j", "4", "--json"]
    result = on_a_terminal(args, tmp_path)
    assert result.returncode == 0
    assert _bar_drawn(result)
    records = _records(result.stdout)
    assert [record["input"] for record in records] == [f"photos/{name}" for name in sorted(names)]
    assert {record["status"] for record in records} == {"ok"}
    assert "{" not in result.shown  # no record on the terminal


def test_the_image_bytes_reach_the_file(tmp_path):
    result = on_a_terminal(["apply", str(SAMPLES / "coins.png"), "-k", "identity", "-o", "-"],
                           tmp_path)  # fmt: skip
    assert result.returncode == 0
    written = tmp_path / "written.png"
    written.write_bytes(result.stdout)
    # The identity kernel gives back its input: the file decodes to the coins, pixel for pixel.
    expected = np.asarray(Image.open(SAMPLES / "coins.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(written)), expected)


def test_a_dry_run_says_every_record_to_the_file(tmp_path):
    names = _photos(tmp_path / "photos", 3)
    result = on_a_terminal(["apply", "photos/", "-k", "sobel", "--dry-run", "--json"], tmp_path)
    assert result.returncode == 0
    records = _records(result.stdout)
    assert [record["input"] for record in records] == [f"photos/{name}" for name in sorted(names)]
    assert {record["status"] for record in records} == {"planned"}


def test_kernels_list_and_show_write_to_the_file(tmp_path):
    listed = on_a_terminal(["kernels", "list"], tmp_path).stdout.decode()
    for name in ("sobel-x", "laplacian", "gaussian:sigma=1,size=auto"):
        assert re.search(rf"(^|\s){re.escape(name)}(\s|$)", listed, re.MULTILINE)
    shown = on_a_terminal(["kernels", "show", "sobel-x", "--json"], tmp_path)
    assert shown.returncode == 0
    # Sobel's horizontal gradient: the derivative [-1, 0, 1] smoothed by [1, 2, 1] down the rows.
    assert json.loads(shown.stdout)["matrix"] == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


def test_explain_json_writes_to_the_file(tmp_path):
    result = on_a_terminal(["explain", "-k", "box:3", "--json"], tmp_path)
    assert result.returncode == 0
    # The ramp 1..25 in 5x5: at its centre a 3x3 mean is the centre value, 13.
    assert json.loads(result.stdout)["output"][2][2] == pytest.approx(13)


def test_records_on_the_terminal_itself_draw_no_bar(tmp_path):
    _photos(tmp_path / "photos", 4)
    args = ["apply", "photos/", "-k", "sobel", "-o", "edges/", "--json"]
    result = on_a_terminal(args, tmp_path, stdout_too=True)
    assert result.returncode == 0
    assert not _bar_drawn(result)
    assert sum('"status": "ok"' in line for line in result.shown.splitlines()) == 4


# Item 9: the progress display.


def test_no_rate_before_it_means_something():
    from convcli.cli.feedback import rate

    assert rate(2, 0.00015) is None  # two inputs done together: not 13318.4 images/s
    assert rate(0, 5.0) is None
    assert rate(12, 4.0) == 3.0  # the run's own average once a second has passed


@pytest.mark.parametrize("columns", [30, 40, 60, 80, 200])
def test_the_progress_line_fits_the_terminal(columns, monkeypatch):
    import io

    from rich.console import Console

    from convcli.cli import feedback

    line = feedback._ProgressLine(total=12345, started=0.0)
    line.done = 2
    monkeypatch.setattr(feedback.time, "perf_counter", lambda: 3.0)
    out = io.StringIO()
    Console(file=out, width=columns, color_system=None).print(line)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert len(lines[0]) <= columns - 2  # room for the ^C a terminal echoes
    assert lines[0].startswith("convcli apply")
    assert "2/12345" in lines[0]


@pytest.mark.parametrize("columns", [60, 80])
def test_the_bar_keeps_to_one_line(columns, tmp_path):
    _photos(tmp_path / "photos", 12)
    args = ["apply", "photos/", "-k", "sobel", "-o", "edges/", "-j", "2"]
    result = on_a_terminal(args, tmp_path, columns=columns)
    assert result.returncode == 0
    assert _bar_drawn(result)
    drawing, summary, _ = result.shown.partition("convcli: 12 done")
    assert summary  # (at 60 columns the summary line itself is longer than the terminal)
    assert Screen(columns).feed(drawing).wraps == 0
    assert result.screen()[0].startswith("convcli: 12 done")  # the bar gone without a trace


@pytest.mark.parametrize(
    "moment", ["━", r"\d images/s"], ids=["as-the-bar-starts", "a-second-in-with-inputs-done"]
)
def test_ctrl_c_leaves_no_bar_above_the_error_line(tmp_path, moment):
    _photos(tmp_path / "photos", 40)
    # Slow enough to be typed at: a 19x19 window summed directly over each 512x512 image.
    args = ["apply", "photos/", "-k", "gaussian:sigma=3", "--method", "direct", "-o", "out/",
            "-j", "1"]  # fmt: skip
    result = on_a_terminal(args, tmp_path, interrupt_at=moment)
    assert result.returncode == 130
    screen = result.screen()
    assert screen[0].startswith("convcli: error: interrupted by SIGINT")  # and nothing above
    assert not any("━" in line or line.startswith("convcli apply") for line in screen)
