"""What a person is told while a run goes on: errors, notes, progress, the table and the summary."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

import typer

from convcli.choices import Status
from convcli.cli.text import as_typed, option
from convcli.errors import ConvcliError, reason
from convcli.text import shown

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

    from convcli import Report
    from convcli.cli.environment import Environment


def error_line(message: str, say: Callable[[str], None] | None = None) -> None:
    """Say on standard error, in one line, what went wrong (the parameters named as options)."""
    (say or _echo)(f"convcli: error: {shown(as_typed(message).strip()) or 'unknown error'}")


def note_line(message: str, say: Callable[[str], None] | None = None) -> None:
    """Say on standard error something the user should know (the parameters named as options)."""
    (say or _echo)(f"convcli: note: {shown(as_typed(message))}")


def _echo(line: str) -> None:
    typer.echo(line, err=True)


def write_record(line: str, stdout: TextIO | None) -> None:
    """Write one ``--json`` record to standard output, checked: nothing is lost in silence."""
    if stdout is None:
        raise ConvcliError("cannot write the --json records: standard output is closed")
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except BrokenPipeError:  # the reader left: the boundary ends the run quietly
        raise
    except OSError as error:
        raise ConvcliError(
            f"cannot write the --json records to standard output: {reason(error)}"
        ) from None


def rate(done: int, seconds: float) -> float | None:
    """Return the images done per second so far, or None while that number means nothing.

    Two inputs done a millisecond apart are not thousands of images per
    second: the run's own average is given once a second has passed.

    Examples
    --------
    >>> rate(2, 0.00015) is None, rate(0, 3.0) is None, rate(12, 4.0)
    (True, True, 3.0)
    """
    return done / seconds if done and seconds >= 1 else None


class _ProgressLine:
    """The live display: one line, the bar and as many of its facts as fit the terminal."""

    NAME = "convcli apply"
    LEAST_BAR = 10  # cells: the facts that leave the bar less are left out, the last first

    def __init__(self, total: int, started: float) -> None:
        self.total = total
        self.started = started
        self.done = 0

    def advance(self) -> None:
        self.done += 1

    def facts(self) -> list[str]:
        """Return the count, the rate, the time elapsed and the time left (dashes until known)."""
        seconds = time.perf_counter() - self.started
        per_second = rate(self.done, seconds)
        speed, left = "-", "-:--:--"  # dashes hold the places: the bar keeps its length
        if per_second is not None:
            speed, left = f"{per_second:.1f}", _clock((self.total - self.done) / per_second)
        return [f"{self.done}/{self.total}", f"{speed} images/s", f"elapsed {_clock(seconds)}",
                f"left {left}"]  # fmt: skip

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        # Two columns stay free: a terminal echoes ^C after the line, and a line that echo
        # pushed onto the next could not be cleared (it would stay above the error line).
        width = options.max_width - len("^C")
        kept: list[str] = []
        for fact in self.facts():
            if _span([self.NAME, *kept, fact]) + 1 + self.LEAST_BAR > width and kept:
                break
            kept.append(fact)
        bar = width - _span([self.NAME, *kept]) - 1
        cells: list[RenderableType] = [self.NAME, *kept]
        if bar > 0:
            cells.insert(1, ProgressBar(total=self.total, completed=self.done, width=bar))
        line = Table.grid(padding=(0, 1))
        for _ in cells:
            line.add_column(no_wrap=True, overflow="crop")
        line.add_row(*cells)
        yield line


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block draws on the terminal; then raise as they would.

    Raised in the middle of rich's writing, a signal leaves half a frame in its
    buffer, written again later where it no longer belongs (above the error line).
    """
    held: list[int] = []
    signums = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(n, lambda arrived, _: held.append(arrived)) for n in signums]
    try:
        yield
    finally:
        for signum, handler in zip(signums, previous, strict=True):
            signal.signal(signum, handler)
        restored = signal.getsignal(held[0]) if held else None
        if callable(restored):
            restored(held[0], None)


def _span(words: list[str]) -> int:
    """Count the columns of ``words`` side by side, a space between each."""
    return sum(map(len, words)) + len(words) - 1


def _clock(seconds: float) -> str:
    """Write a time as a clock does: ``0:01:05``."""
    minutes, second = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{second:02d}"


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
    streams : Environment
        The streams to write on, and which are terminals.
    """

    def __init__(
        self,
        total: int,
        *,
        json_lines: bool,
        quiet: bool,
        every_row: bool,
        table_on_stderr: bool,
        streams: Environment,
    ) -> None:
        self.total = total
        self.streams = streams
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
        if not self._shows_bar():
            yield
            return
        from rich.live import Live
        from rich.text import Text

        line = _ProgressLine(self.total, self.started)
        # The bar draws on stderr alone: records and image bytes on stdout are never its.
        live = Live(line, console=self._console(stderr=True), transient=True,
                    redirect_stdout=False, redirect_stderr=False)  # fmt: skip

        def say(said: str) -> None:  # above the bar, never into it
            with _signals_held():
                live.console.print(Text(said), soft_wrap=True)

        try:  # not `with`: a Ctrl-C while the bar starts must clear it too
            with _signals_held():
                live.start(refresh=True)
            self._advance = line.advance
            self._say = say
            yield
        finally:
            with _signals_held():
                live.stop()  # cleared before the error line of an interrupt
            self._say = _echo
            self._advance = lambda: None

    def _shows_bar(self) -> bool:
        # A bar moves the cursor: only on a terminal (NO_COLOR takes the colours away only);
        # and none while records scroll by on that screen: they show the progress themselves.
        records_on_screen = self.json_lines and self.streams.stdout_isatty
        return (
            not (self.quiet or self.total <= 1 or records_on_screen) and self.streams.stderr_isatty
        )

    def _console(self, stderr: bool) -> Console:
        """Return a rich console on the standard error or output of the run's streams."""
        from convcli.cli.render import console

        return console(stderr, self.streams.stderr if stderr else self.streams.stdout)

    def report(self, done: Report) -> None:
        """Tell what happened to one input: its error, its notes, its record."""
        done.word(option)  # its error is in the record, the table and the report file
        if done.status == Status.ERROR:
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
            write_record(done.to_json(), self.streams.stdout)
        self._advance()

    def finish(self, reports: list[Report]) -> None:
        """Show the table (of a batch: its failed and skipped inputs) and the summary line."""
        seconds = time.perf_counter() - self.started
        rows = reports
        if len(reports) > 1 and not self.every_row:  # the summary counts the rest
            rows = [report for report in reports if report.status in (Status.ERROR, Status.SKIPPED)]
        alone_failed = len(reports) == 1 and reports[0].status == Status.ERROR  # said in its line
        if rows and not self.json_lines and not self.quiet and not alone_failed:
            from convcli.cli.render import report_view

            self._console(stderr=self.table_on_stderr).print(report_view(rows))
        if not self.quiet and len(reports) > 1:
            typer.echo(_summary(reports, seconds, self.clipped), err=True)


def _summary(reports: list[Report], seconds: float, clipped: dict[str, int]) -> str:
    count = {status: sum(r.status == status for r in reports) for status in Status}
    outputs = sum(clipped.values())
    clipping = f"; values clipped in {outputs} of them" if outputs > 1 else ""
    if outputs > len(clipped):  # fewer notes than outputs: say which were noted
        clipping += ", noted for the first" + " of each kernel" * (len(clipped) > 1)
    if count[Status.PLANNED]:  # a dry run: what would be written
        return (
            f"convcli: {count[Status.PLANNED]} planned (nothing written), {count[Status.SKIPPED]} "
            f"skipped, {count[Status.ERROR]} failed in {seconds:.2f} s"
        )
    done, skipped, failed = count[Status.OK], count[Status.SKIPPED], count[Status.ERROR]
    rate = done / seconds if seconds > 0 else 0.0
    return (
        f"convcli: {done} done, {skipped} skipped, {failed} failed "
        f"in {seconds:.2f} s ({rate:.1f} images/s){clipping}"
    )
