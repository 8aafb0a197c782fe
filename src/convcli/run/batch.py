"""Running a planned batch: in order, with interrupts, on the executor given.

Nothing is lost on error: each input fails alone (unless ``fail_fast``),
outputs are written atomically, and an interrupt stops the workers, removes
the temporary files they leave and keeps every finished output. Where the
jobs run is the executor's business (:mod:`convcli.run.executors`); this
module imports no backend.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Generator
from pathlib import Path

from convcli.choices import Status
from convcli.errors import (
    ConvcliError,
    ExitCode,
    Interrupted,
    Message,
    Signalled,
    last_signal,
    raise_signalled,
    signals_arrived,
)
from convcli.io.atomic import own_temporary_files, remove
from convcli.io.storage import is_remote, list_ahead, modified
from convcli.report import Report
from convcli.run.executors import Executor
from convcli.run.job import skipped_report
from convcli.run.model import Job, RunOptions, Settings


def run_batch(
    jobs: list[Job],
    settings: Settings,
    options: RunOptions,
    executor: Executor,
    on_report: Callable[[Report], None] = lambda report: None,
) -> list[Report]:
    """Run every job on ``executor``; call ``on_report`` with each report, in the order of ``jobs``.

    Raises
    ------
    Interrupted
        On SIGINT or SIGTERM, after stopping the workers and removing the
        temporary files of unfinished outputs; finished outputs are kept.
    """
    reports: list[Report] = []
    started = time.time()
    previous = signal.signal(signal.SIGTERM, raise_signalled)
    results = _reports_in_order(jobs, settings, executor)
    arrived = signals_arrived()
    try:
        for report in results:
            reports.append(report)
            on_report(report)
            if signals_arrived() > arrived:  # its Signalled was lost in a finalizer
                raise Signalled(last_signal())
            if options.fail_fast and report.status == Status.ERROR:
                break
    except KeyboardInterrupt:
        raise _interrupted("SIGINT", ExitCode.INTERRUPTED, jobs, started) from None
    except Signalled as signalled:
        raise _interrupted(signalled.name, signalled.exit_code, jobs, started) from None
    finally:
        results.close()  # stops any workers still running
        signal.signal(signal.SIGTERM, previous)
        _remove_temporary_files(jobs)  # an interrupted run's, or a killed worker's
    for report in _unreported(jobs[len(reports) :], settings, started):  # only after fail_fast
        reports.append(report)
        on_report(report)
    return reports


def _unreported(jobs: list[Job], settings: Settings, started: float) -> list[Report]:
    """Report the jobs a stop at the first failure left: skipped, or written before it."""
    _list_stores(jobs)
    # A worker may have finished one before the failure was reported: say so.
    return [
        skipped_report(
            job, settings, Message("{fail_fast} stopped the run; its output was written before")
        )
        if _written_since(job, started)
        else skipped_report(
            job, settings, Message("not run: {fail_fast} stopped at the first failure")
        )
        for job in jobs
    ]


def _reports_in_order(jobs: list[Job], settings: Settings, executor: Executor) -> Generator[Report]:
    runnable = [job for job in jobs if job.skip is None]
    done = executor.execute(runnable, settings)
    try:
        for job in jobs:
            yield next(done) if job.skip is None else skipped_report(job, settings, job.skip)
        next(done, None)  # every job done: the workers end by themselves, not by a signal
    finally:
        done.close()  # left early (interrupt, fail_fast): the workers are stopped


# --- interrupts -----------------------------------------------------------------------------


def _interrupted(name: str, code: int, jobs: list[Job], started: float) -> Interrupted:
    # Count what is on disk: workers may have finished outputs not yet reported.
    _list_stores(jobs)
    written = sum(_written_since(job, started) for job in jobs)
    return Interrupted(
        f"interrupted by {name}: {written} of {len(jobs)} outputs written and kept, "
        "no partial files left",
        ExitCode(code),
    )


def _list_stores(jobs: list[Job]) -> None:
    """List each output prefix in a store once: then _written_since asks it nothing more."""
    for prefix in {job.target.parent for job in jobs if is_remote(job.target)}:
        with contextlib.suppress(ConvcliError):  # unreachable now: each asks, and is told so
            list_ahead(prefix)


def _written_since(job: Job, started: float) -> bool:
    # A store keeps whole seconds, by its own clock: a second's grace.
    grace = 0.0 if isinstance(job.target, Path) else 1.0
    with contextlib.suppress(ConvcliError, OSError):  # gone, or the store unreachable: not known
        return job.target is not None and modified(job.target) >= started - grace
    return False


def _remove_temporary_files(jobs: list[Job]) -> None:
    # A stopped worker leaves its temporary file; only the parent knows every folder.
    # Only this run's: another run writing into the same folder keeps its own.
    # (An object in a store is written with one request: it leaves none.)
    folders = {job.target.parent for job in jobs if isinstance(job.target, Path)}
    for folder in folders:
        for leftover in own_temporary_files(folder):
            remove(leftover)
