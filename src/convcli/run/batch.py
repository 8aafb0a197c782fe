"""Running a planned batch: in this process or in workers, in order, with interrupts.

Nothing is lost on error: each input fails alone (unless ``fail_fast``),
outputs are written atomically, and an interrupt stops the workers, removes
the temporary files they leave and keeps every finished output.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from convcli.errors import (
    ConvcliError,
    ExitCode,
    InputError,
    Interrupted,
    Signalled,
    UsageError,
    last_signal,
    raise_signalled,
    signals_arrived,
)
from convcli.io.atomic import own_temporary_files, remove
from convcli.io.images import DEFAULT_MAX_PIXELS, probe_image
from convcli.io.storage import is_remote, list_ahead, modified, read_object, write_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL, read_standard_input, standard_output
from convcli.pipeline import Settings, Source, prepare, process
from convcli.planning import Job
from convcli.report import Report

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext


@dataclass(frozen=True)
class RunOptions:
    """How to run the jobs (not what to do to each: that is Settings)."""

    workers: int = 1
    scheduler: str | None = None  # a Dask cluster to run on: an address, or local[:N]
    fail_fast: bool = False
    dry_run: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


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
    previous = signal.signal(signal.SIGTERM, raise_signalled)
    results = _reports_in_order(jobs, settings, options)
    arrived = signals_arrived()
    try:
        for report in results:
            reports.append(report)
            on_report(report)
            if signals_arrived() > arrived:  # its Signalled was lost in a finalizer
                raise Signalled(last_signal())
            if options.fail_fast and report.status == "error":
                break
    except KeyboardInterrupt:
        raise _interrupted("SIGINT", ExitCode.INTERRUPTED, jobs, started) from None
    except Signalled as signalled:
        raise _interrupted(signalled.name, signalled.exit_code, jobs, started) from None
    finally:
        results.close()  # stops any workers still running
        signal.signal(signal.SIGTERM, previous)
        _remove_temporary_files(jobs)  # an interrupted run's, or a killed worker's
    unreported = jobs[len(reports) :]  # only after --fail-fast
    _list_stores(unreported)
    for job in unreported:
        # A worker may have finished it before the failure was reported: say so.
        written = _written_since(job, started)
        reason = "--fail-fast stopped the run; its output was written before" if written else (
            "not run: --fail-fast stopped at the first failure")  # fmt: skip
        report = _skipped(job, settings, reason)
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
        next(done, None)  # every job done: the workers end by themselves, not by a signal
    finally:
        done.close()  # left early (interrupt, --fail-fast): the workers are stopped


def _execute(jobs: list[Job], settings: Settings, options: RunOptions) -> Generator[Report]:
    """Yield each job's report in order: in this process, in worker processes, or on a cluster."""
    if options.scheduler is not None and jobs and not any(job.tiled for job in jobs):
        from convcli.distributed.cluster import execute  # Dask: only when a cluster is asked for

        yield from execute(jobs, settings, options)
        return
    if _here(jobs, options):
        for job in jobs:
            yield run_job(job, settings, options)
        return
    # Worker processes only here: a run in this process starts without loading them.
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

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
                yield failed_report(suspect, settings, f"{suspect.label}: {DIED}")
        remaining = remaining[broken + 1 :]


def _here(jobs: list[Job], options: RunOptions) -> bool:
    """Whether to run the jobs one by one in this process (tiled jobs: each on every core)."""
    few = options.workers <= 1 or len(jobs) <= 1
    return few or any(job.source is None or job.tiled for job in jobs)


DIED = "the worker process died on this input (killed, or out of memory)"


@contextlib.contextmanager
def _workers(
    count: int, settings: Settings, options: RunOptions, context: BaseContext
) -> Iterator[ProcessPoolExecutor]:
    """Worker processes for as long as the block lasts; killed if it is left early."""
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        count, mp_context=context, initializer=_start_worker, initargs=(settings, options)
    )
    finished = False
    try:
        yield pool
        finished = True
    finally:
        if finished:  # every job done: the queue is empty and the workers leave
            pool.shutdown(wait=True)
        else:  # interrupted, or the caller stopped: do not wait for the workers
            _stop_workers(pool)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop every worker, whatever it holds, and wait for each to be gone.

    All are stopped together, so none is left waiting on a lock another held
    when it died (a queue's lock); a worker that outlives SIGTERM is killed.
    """
    workers = list(getattr(pool, "_processes", {}).values())  # no public way before 3.14
    for worker in workers:
        worker.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()
            worker.join(timeout=5)


def run_job(job: Job, settings: Settings, options: RunOptions) -> Report:
    """Run one job; a failure of this input becomes an error report."""
    each = job.settings_for(settings)  # a bank's job: its one kernel
    try:
        if job.failure is not None:
            raise InputError(job.failure)
        if isinstance(job.target, Path) and not options.dry_run:
            _make_folder(job.target.parent)  # mirrored sub-folders of the output
        if job.tiled and job.source is not None and job.target is not None:
            return _run_tiled(job, each, options)
        target = _target(job)
        report = process(
            job_source(job, options), target, each, label=job.label, fmt=job.format,
            dry_run=options.dry_run, max_pixels=options.max_pixels,
        )  # fmt: skip
        if isinstance(target, io.BytesIO) and is_remote(job.target):
            if not options.dry_run:
                write_object(job.target, target.getvalue(), job.label)  # whole or not at all
            report.output = str(job.target)
        return report
    except UsageError:
        raise
    except (InputError, MemoryError) as error:
        message = str(error) if isinstance(error, InputError) else f"{job.label}: out of memory"
        return failed_report(job, settings, message)


def job_source(job: Job, options: RunOptions) -> Source:
    """Return the input: its file, or its bytes (standard input, a pipe's, an object's)."""
    limit = STDIN_BYTES_PER_PIXEL * options.max_pixels
    source = job.content or job.source
    if source is None:
        return read_standard_input(limit)
    if not isinstance(source, (Path, bytes)):  # an object in a store, read whole
        return read_object(source, job.label, limit)
    return source


def _target(job: Job) -> Path | BinaryIO:
    """Return where the output goes: its file, standard output, or a buffer for an object."""
    if job.target is None:
        return standard_output()
    if isinstance(job.target, Path):
        return job.target
    return io.BytesIO()  # an object in a store: encoded here, then written with one request


def _run_tiled(job: Job, settings: Settings, options: RunOptions) -> Report:
    from convcli.distributed.huge import process_tiled  # Dask: only for --tile
    from convcli.planning import TILED

    assert job.source is not None
    assert job.target is not None
    header = probe_image(job.source, job.label, TILED)
    planned = prepare(header, settings, job.format, TILED)
    tiled = replace(settings, tile=job.tile)  # --tile's, or an .npy's over --max-pixels
    return process_tiled(job.source, job.target, header, planned, tiled, label=job.label,
                         dry_run=options.dry_run, workers=options.workers)  # fmt: skip


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{folder}: cannot create the folder: {error.strerror}") from None


def failed_report(job: Job, settings: Settings, message: str) -> Report:
    """Return the error report of a job that failed with ``message``."""
    settings = job.settings_for(settings)
    return Report(job.label, None, settings.kernel_name, settings.pad_mode,
                  status="error", error=message)  # fmt: skip


def _skipped(job: Job, settings: Settings, reason: str) -> Report:
    settings = job.settings_for(settings)
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
        return failed_report(job, settings, f"{job.label}: {error}")


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
