"""Running many inputs: naming outputs, checking them all first, workers, interrupts.

Nothing is lost on error: each input fails alone (unless ``fail_fast``),
outputs are written atomically, and an interrupt stops the workers, removes
their temporary files and keeps every finished output.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from convcli.errors import ConvcliError, ExitCode, InputError, UsageError
from convcli.imageio import DEFAULT_MAX_PIXELS, OutputFormat, output_format, probe_image
from convcli.inputs import Input
from convcli.pipeline import Settings, default_output, prepare, process
from convcli.report import Report


@dataclass(frozen=True)
class Job:
    """One input and where its output goes."""

    label: str
    source: Path | None  # None: standard input
    target: Path | None  # None: standard output
    format: OutputFormat | None  # None: the input's own
    skip: str | None = None  # why it will not run


@dataclass(frozen=True)
class RunOptions:
    """How to run the jobs (not what to do to each: that is Settings)."""

    workers: int = 1
    fail_fast: bool = False
    dry_run: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


class Interrupted(ConvcliError):
    """The run was stopped by SIGINT or SIGTERM."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def plan_jobs(
    inputs: list[Input],
    output: str | None,
    folder: Path | None,
    settings: Settings,
    *,
    skip_existing: bool = False,
) -> list[Job]:
    """Name every input's output, refusing collisions and overwriting an input.

    Parameters
    ----------
    inputs : list of Input
        From :func:`convcli.inputs.find_inputs`.
    output : str or None
        ``-o`` as given: a file, ``-`` (standard output), or None (beside each input).
    folder : Path or None
        The output folder, when ``-o`` names one: inputs keep their place below it.
    settings : Settings
        The kernels (for the names) and the output format.
    skip_existing : bool
        Mark jobs whose output exists as skipped.

    Raises
    ------
    UsageError
        Two inputs would write one output, an output is an input, or an
        output format is unknown.
    """
    forced = output_format(settings.format) if settings.format else None
    jobs = []
    for item in inputs:
        if not item.image:
            jobs.append(Job(item.label, item.path, None, None, skip="not an image"))
            continue
        target: Path | None
        if output == "-" or (item.path is None and output is None):
            target, fmt = None, forced
        else:
            if item.path is None and folder is not None:
                raise UsageError("standard input has no name to put in a folder; use -o FILE")
            if folder is not None or output is None:
                named = default_output(item.path or Path("stdin"), settings)
                target = folder / item.relative.parent / named.name if folder else named
            else:
                target = Path(output)
            fmt = forced or output_format(target.suffix or "(none)")
        skip = "output exists" if skip_existing and target is not None and target.exists() else None
        jobs.append(Job(item.label, item.path, target, fmt, skip))
    _refuse_clashes(jobs)
    return jobs


def _refuse_clashes(jobs: list[Job]) -> None:
    sources = {job.source.resolve(): job.label for job in jobs if job.source is not None}
    writers: dict[Path, str] = {}
    for job in jobs:
        if job.target is None or job.skip == "not an image":
            continue
        where = job.target.resolve()
        if where in sources or (job.source is not None and _same_file(job.source, job.target)):
            raise UsageError(
                f"the output {job.target} of {job.label} is an input; choose another -o"
            )
        if where in writers:
            raise UsageError(
                f"{writers[where]} and {job.label} would both write {job.target}; "
                "use --format or separate runs"
            )
        writers[where] = job.label


def _same_file(source: Path, target: Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(source, target)
    return source.resolve() == target.resolve()


def check_jobs(jobs: list[Job], settings: Settings, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Check from the headers alone that every input can be done, before anything is written.

    An input whose header cannot be read is left to fail on its own later.

    Raises
    ------
    UsageError
        Naming the first input the settings do not fit (impossible shapes, a
        range its output format cannot hold).
    """
    for job in jobs:
        if job.skip is not None or job.source is None:
            continue
        try:
            header = probe_image(job.source, job.label, max_pixels)
            prepare(header, settings, job.format)
        except InputError:
            continue
        except UsageError as error:
            raise UsageError(f"{job.label}: {error}") from None


def run_jobs(
    jobs: list[Job],
    settings: Settings,
    options: RunOptions,
    on_report: Callable[[Report], None] = lambda report: None,
) -> list[Report]:
    """Run every job; call ``on_report`` with each report, in the order of ``jobs``.

    Raises
    ------
    Interrupted
        On SIGINT or SIGTERM, after stopping the workers and removing their
        temporary files; finished outputs are kept.
    """
    reports: list[Report] = []
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    finished = False
    try:
        for report in _reports_in_order(jobs, settings, options):
            reports.append(report)
            on_report(report)
            if options.fail_fast and report.status == "error":
                break
        finished = True
    except KeyboardInterrupt:
        raise _interrupted("SIGINT", ExitCode.INTERRUPTED, reports, jobs) from None
    except _Terminated:
        raise _interrupted("SIGTERM", ExitCode.TERMINATED, reports, jobs) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not finished:
            _remove_temporary_files(jobs)
    for job in jobs[len(reports) :]:  # only after --fail-fast
        report = _skipped(job, settings, "not run: --fail-fast stopped at the first failure")
        reports.append(report)
        on_report(report)
    return reports


def _reports_in_order(jobs: list[Job], settings: Settings, options: RunOptions) -> Iterator[Report]:
    runnable = [job for job in jobs if job.skip is None]
    done = _execute(runnable, settings, options)
    try:
        for job in jobs:
            yield next(done) if job.skip is None else _skipped(job, settings, job.skip)
    finally:
        done.close()  # stops the workers when the caller stops early


def _execute(jobs: list[Job], settings: Settings, options: RunOptions) -> Generator[Report]:
    if options.workers <= 1 or len(jobs) <= 1 or any(job.source is None for job in jobs):
        for job in jobs:
            yield run_job(job, settings, options)
        return
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = context.Pool(
        min(options.workers, len(jobs)), initializer=_start_worker, initargs=(settings, options)
    )
    try:
        yield from pool.imap(_work, jobs, chunksize=1)  # in order, as each completes
        pool.close()
    finally:
        pool.terminate()  # SIGTERM to the workers: each removes its temporary file
        pool.join()


def run_job(job: Job, settings: Settings, options: RunOptions) -> Report:
    """Run one job; a failure of this input becomes an error report."""
    target: Path | BinaryIO = job.target if job.target is not None else sys.stdout.buffer
    try:
        source = job.source if job.source is not None else sys.stdin.buffer.read()
        return process(
            source, target, settings, label=job.label, fmt=job.format,
            dry_run=options.dry_run, max_pixels=options.max_pixels,
        )  # fmt: skip
    except UsageError:
        raise
    except (InputError, MemoryError) as error:
        message = str(error) if isinstance(error, InputError) else f"{job.label}: out of memory"
        return _failed(job, settings, message)


def _failed(job: Job, settings: Settings, message: str) -> Report:
    return Report(job.label, None, settings.kernel_name, settings.pad_mode,
                  status="error", error=message)  # fmt: skip


def _skipped(job: Job, settings: Settings, reason: str) -> Report:
    output = str(job.target) if job.target is not None else None
    return Report(job.label, output, settings.kernel_name, settings.pad_mode,
                  status="skipped", error=reason)  # fmt: skip


# --- worker processes ---------------------------------------------------------------------

_worker: tuple[Settings, RunOptions] | None = None


def _start_worker(settings: Settings, options: RunOptions) -> None:
    global _worker
    _worker = (settings, options)
    # The parent decides when to stop; SIGTERM (from Pool.terminate) unwinds the
    # worker so that write_atomically removes its temporary file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_worker)


def _exit_worker(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(ExitCode.TERMINATED)


def _work(job: Job) -> Report:
    assert _worker is not None, "worker not started"
    settings, options = _worker
    try:
        return run_job(job, settings, options)
    except UsageError as error:  # cannot happen after check_jobs, but never lose an input
        return _failed(job, settings, f"{job.label}: {error}")


# --- interrupts -----------------------------------------------------------------------------


class _Terminated(BaseException):
    pass


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _interrupted(name: str, code: ExitCode, reports: list[Report], jobs: list[Job]) -> Interrupted:
    written = sum(report.status == "ok" for report in reports)
    return Interrupted(
        f"interrupted by {name} after {written} of {len(jobs)} inputs; "
        "finished outputs are kept, no partial files are left",
        code,
    )


def _remove_temporary_files(jobs: list[Job]) -> None:
    # Workers remove their own; this catches any whose worker could not.
    for job in jobs:
        if job.target is not None:
            for leftover in job.target.parent.glob(f".{job.target.name}.*.part"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
