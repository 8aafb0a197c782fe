"""What a person is told while a run goes on: errors, notes, progress, the table and the summary."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import typer

from convcli.errors import ConvcliError

if TYPE_CHECKING:
    from convcli.kernels.kernel import Kernel
    from convcli.report import Report


def shown(text: str) -> str:
    r"""Make text safe to show on one line: control characters and undecodable bytes escaped.

    A file name may hold a newline, or bytes that are not UTF-8; shown as
    Python's ``repr`` shows them, the line stays one line and says so.

    Examples
    --------
    >>> shown("two\nlines.png"), shown("caf\udce9.png")
    ('two\\nlines.png', 'caf\\xe9.png')
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode)
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


def error_line(message: str, say: Callable[[str], None] | None = None) -> None:
    """Say on standard error, in one line, what went wrong."""
    (say or _echo)(f"convcli: error: {shown(message.strip()) or 'unknown error'}")


def note_line(message: str, say: Callable[[str], None] | None = None) -> None:
    """Say on standard error something the user should know."""
    (say or _echo)(f"convcli: note: {shown(message)}")


def _echo(line: str) -> None:
    typer.echo(line, err=True)


def kernel_notes(kernels: tuple[Kernel, ...], variable: str) -> None:
    """Say which kernels in the user's folders replace built-in ones, once each."""
    for shadowing in {k.name: k for k in kernels if k.shadows_builtin}.values():
        note_line(
            f"kernel {shadowing.name!r} is the one in {shadowing.source} "
            f"({variable} comes before the built-in kernels)"
        )


def write_record(line: str) -> None:
    """Write one ``--json`` record to standard output, checked: nothing is lost in silence."""
    if sys.stdout is None:
        raise ConvcliError("cannot write the --json records: standard output is closed")
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left: the boundary ends the run quietly
        raise
    except OSError as error:
        raise ConvcliError(
            f"cannot write the --json records to standard output: {error.strerror}"
        ) from None


class Feedback:
    """Everything ``apply`` shows about its inputs as they are done, and at the end.

    Parameters
    ----------
    total : int
        How many inputs the run has.
    json_lines : bool
        Write each input's record to standard output as it is done.
    quiet : bool
        No table, no progress bar, no summary.
    every_row : bool
        The table of a batch has a row for every input, not only the failed and skipped.
    table_on_stderr : bool
        Standard output carries the image: the table goes to standard error.
    """

    def __init__(
        self, total: int, *, json_lines: bool, quiet: bool, every_row: bool, table_on_stderr: bool
    ) -> None:
        self.total = total
        self.json_lines = json_lines
        self.quiet = quiet
        self.every_row = every_row
        self.table_on_stderr = table_on_stderr
        self.clipped: dict[str, int] = {}  # outputs that clipped more than 1%, by kernel
        self.told: set[str] = set()
        self.started = time.perf_counter()
        self._advance: Callable[[], None] = lambda: None
        self._say: Callable[[str], None] = _echo  # through the bar's console while it shows

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        """Show a progress bar on stderr while the block lasts, where one helps."""
        self.started = time.perf_counter()
        # A bar moves the cursor: only on a terminal (NO_COLOR takes the colours away only).
        if self.quiet or not sys.stderr.isatty() or self.total <= 1:
            yield
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        from convcli.cli.render import console

        class Rate(ProgressColumn):
            def render(self, task: Task) -> Text:
                return Text(f"{task.speed:.1f} images/s" if task.speed else "")

        columns = (
            TextColumn("convcli apply"), BarColumn(), MofNCompleteColumn(), Rate(),
            TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, console=console(stderr=True), transient=True) as bar:
            task = bar.add_task("images", total=self.total)
            self._advance = lambda: bar.advance(task)
            # Lines said while the bar shows go above it, never into it.
            self._say = lambda line: bar.console.print(Text(line), soft_wrap=True)
            try:
                yield
            finally:
                self._say = _echo

    def report(self, done: Report) -> None:
        """Tell what happened to one input: its error, its notes, its record."""
        from convcli.report import json_line

        if done.status == "error":
            error_line(done.error or "failed", self._say)
        notes = list(done.notes) + [note for note in done.once_notes if note not in self.told]
        self.told.update(done.once_notes)
        if done.clip_note:
            # Once per kernel: a run's first clipped output, or each kernel's first in a bank.
            first = done.kernel not in self.clipped
            self.clipped[done.kernel] = self.clipped.get(done.kernel, 0) + 1
            notes += [done.clip_note] if first else []
        for note in notes:
            note_line(note, self._say)
        if self.json_lines:
            write_record(json_line(done))
        self._advance()

    def finish(self, reports: list[Report]) -> None:
        """Show the table (of a batch: its failed and skipped inputs) and the summary line."""
        seconds = time.perf_counter() - self.started
        rows = reports
        if len(reports) > 1 and not self.every_row:  # the summary counts the rest
            rows = [report for report in reports if report.status in ("error", "skipped")]
        alone_failed = len(reports) == 1 and reports[0].status == "error"  # its line said it all
        if rows and not self.json_lines and not self.quiet and not alone_failed:
            from convcli.cli.render import console, report_view

            console(stderr=self.table_on_stderr).print(report_view(rows))
        if not self.quiet and len(reports) > 1:
            typer.echo(_summary(reports, seconds, self.clipped), err=True)


def _summary(reports: list[Report], seconds: float, clipped: dict[str, int]) -> str:
    count = {
        status: sum(r.status == status for r in reports)
        for status in ("ok", "planned", "skipped", "error")
    }
    outputs = sum(clipped.values())
    clipping = f"; values clipped in {outputs} of them" if outputs > 1 else ""
    if outputs > len(clipped):  # fewer notes than outputs: say which were noted
        clipping += ", noted for the first" + " of each kernel" * (len(clipped) > 1)
    if count["planned"]:  # a dry run: what would be written
        return (
            f"convcli: {count['planned']} planned (nothing written), {count['skipped']} "
            f"skipped, {count['error']} failed in {seconds:.2f} s"
        )
    rate = count["ok"] / seconds if seconds > 0 else 0.0
    return (
        f"convcli: {count['ok']} done, {count['skipped']} skipped, {count['error']} failed "
        f"in {seconds:.2f} s ({rate:.1f} images/s){clipping}"
    )
