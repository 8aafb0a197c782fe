"""A run over many inputs: finding them, naming and checking every output, workers, interrupts.

Nothing is lost on error: each input fails alone (unless ``fail_fast``),
outputs are written atomically, and an interrupt stops the workers, removes
the temporary files they leave and keeps every finished output.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing.context import BaseContext
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from convcli.errors import ExitCode, InputError, Interrupted, ParameterError, UsageError
from convcli.io.images import DEFAULT_MAX_PIXELS, OutputFormat, output_format, probe_image
from convcli.io.inputs import Input, find_inputs
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


def plan(
    arguments: list[str],
    output: str | None,
    settings: Settings,
    *,
    recursive: bool = False,
    skip_existing: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    dry_run: bool = False,
) -> list[Job]:
    """Plan a run: find the inputs, name every output, check them all, make the output folder.

    Nothing is written (but the folder) and no pixel is decoded: every
    refusal comes before the first output.

    Parameters
    ----------
    arguments : list of str
        Files, folders, and ``-`` for standard input, as given.
    output : str or None
        ``-o`` as given: a file, a folder, ``-`` (standard output), or None
        (beside each input).
    settings : Settings
        What to do to every input.
    recursive, skip_existing : bool
        Descend into sub-folders; mark jobs whose output exists as skipped.
    max_pixels : int
        The largest input, checked from the headers.
    dry_run : bool
        Do not create the output folder.

    Raises
    ------
    UsageError
        Naming what cannot be done (see :func:`plan_jobs` and :func:`check_jobs`).
    """
    if arguments.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    several = len(arguments) > 1 or any(Path(name).is_dir() for name in arguments)
    folder = output_folder(output, several)
    found = find_inputs(arguments, recursive=recursive, exclude=folder)
    jobs = plan_jobs(found, output, folder, settings, skip_existing=skip_existing)
    check_jobs(jobs, settings, max_pixels)
    if folder is not None and not dry_run:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot create the output folder {folder}: {error.strerror}"
            ) from None
    return jobs


def output_folder(output: str | None, several: bool) -> Path | None:
    """Return the folder ``-o`` names: one that exists, ends in '/', or takes several inputs."""
    if output is None or output == "-":
        if several and output == "-":
            raise UsageError("several inputs cannot all go to standard output")
        return None
    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)) or several:
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o {output} is a file; with several inputs it must name a folder")
        return path
    return None


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
        From :func:`convcli.io.inputs.find_inputs`.
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
            prepare(header, settings, job.format, max_pixels)
        except InputError:
            continue
        except ParameterError as error:
            raise error.about(job.label) from None
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
        On SIGINT or SIGTERM, after stopping the workers and removing the
        temporary files of unfinished outputs; finished outputs are kept.
    """
    reports: list[Report] = []
    started = time.time()
    global _parent
    _parent = os.getpid()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    results = _reports_in_order(jobs, settings, options)
    finished = False
    try:
        for report in results:
            reports.append(report)
            on_report(report)
            if options.fail_fast and report.status == "error":
                break
        finished = True
    except KeyboardInterrupt:
        raise _interrupted("SIGINT", ExitCode.INTERRUPTED, jobs, started) from None
    except _Terminated:
        raise _interrupted("SIGTERM", ExitCode.TERMINATED, jobs, started) from None
    finally:
        results.close()  # stops any workers still running
        signal.signal(signal.SIGTERM, previous)
        if not finished or len(reports) < len(jobs):
            _remove_temporary_files(jobs)
    for job in jobs[len(reports) :]:  # only after --fail-fast
        report = _skipped(job, settings, "not run: --fail-fast stopped at the first failure")
        reports.append(report)
        on_report(report)
    return reports


def _reports_in_order(
    jobs: list[Job], settings: Settings, options: RunOptions
) -> Generator[Report]:
    runnable = [job for job in jobs if job.skip is None]
    done = _execute(runnable, settings, options)
    try:
        for job in jobs:
            yield next(done) if job.skip is None else _skipped(job, settings, job.skip)
    finally:
        done.close()


def _execute(jobs: list[Job], settings: Settings, options: RunOptions) -> Generator[Report]:
    """Yield each job's report in order: in this process, or in worker processes."""
    if options.workers <= 1 or len(jobs) <= 1 or any(job.source is None for job in jobs):
        for job in jobs:
            yield run_job(job, settings, options)
        return
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    settings = replace(settings, threads=1)  # the workers already share the cores
    remaining = jobs
    while remaining:
        broken = None
        with _workers(min(options.workers, len(remaining)), settings, options, context) as pool:
            futures = [pool.submit(_work, job) for job in remaining]
            for index, future in enumerate(futures):
                try:
                    report = future.result()
                except BrokenProcessPool:
                    broken = index
                    break
                yield report
        if broken is None:
            return
        # A worker died (killed, out of memory), and every job not yet done with it.
        # The first of those may be the cause or a bystander: run alone, it tells which.
        suspect = remaining[broken]
        with _workers(1, settings, options, context) as pool:
            try:
                yield pool.submit(_work, suspect).result()
            except BrokenProcessPool:
                yield _failed(suspect, settings, f"{suspect.label}: {_DIED}")
        remaining = remaining[broken + 1 :]


_DIED = "the worker process died on this input (killed, or out of memory)"


@contextlib.contextmanager
def _workers(
    count: int, settings: Settings, options: RunOptions, context: BaseContext
) -> Iterator[ProcessPoolExecutor]:
    """Worker processes for as long as the block lasts; killed if it is left early."""
    pool = ProcessPoolExecutor(
        count, mp_context=context, initializer=_start_worker, initargs=(settings, options)
    )
    finished = False
    try:
        yield pool
        finished = True
    finally:
        if not finished:  # interrupted, or the caller stopped: do not wait for the workers
            _kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for worker in list(getattr(pool, "_processes", {}).values()):  # no public way before 3.14
        worker.terminate()


def run_job(job: Job, settings: Settings, options: RunOptions) -> Report:
    """Run one job; a failure of this input becomes an error report."""
    target: Path | BinaryIO = job.target if job.target is not None else sys.stdout.buffer
    try:
        if job.target is not None and not options.dry_run:
            _make_folder(job.target.parent)  # mirrored sub-folders of the output
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


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{folder}: cannot create the folder: {error.strerror}") from None


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
    # Ctrl-C reaches every process of the terminal's group: let the parent decide.
    # SIGTERM gets its default action back, so a worker the parent stops dies at
    # once; the parent then removes the temporary file it leaves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


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


_parent = 0  # the process that runs the batch


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _parent:  # a worker forked before it reset the handler: just stop
        os._exit(128 + signum)
    raise _Terminated


def _interrupted(name: str, code: ExitCode, jobs: list[Job], started: float) -> Interrupted:
    # Count what is on disk: workers may have finished outputs not yet reported.
    written = sum(
        job.target is not None and job.target.exists() and job.target.stat().st_mtime >= started
        for job in jobs
    )
    return Interrupted(
        f"interrupted by {name}: {written} of {len(jobs)} outputs written and kept, "
        "no partial files left",
        code,
    )


def _remove_temporary_files(jobs: list[Job]) -> None:
    # A stopped worker leaves its temporary file; only the parent knows every target.
    for job in jobs:
        if job.target is not None:
            for leftover in job.target.parent.glob(f".{job.target.name}.*.part"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
