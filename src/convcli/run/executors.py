"""Where a batch's jobs run: one by one in this process, or in worker processes.

An executor yields each job's report in the order of the jobs; closing
its generator early (an interrupt, ``fail_fast``) stops whatever still
runs. A Dask executor, around a cluster's client, is in
:mod:`convcli.distributed.executors`, which also chooses among them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from convcli.errors import Message, UsageError
from convcli.report import Report
from convcli.run.job import DIED, TiledRunner, failed_report, run_job
from convcli.run.model import Job, RunOptions, Settings

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext


class Executor(Protocol):
    """Runs jobs and yields their reports in order; closing the generator stops the rest."""

    def execute(self, jobs: list[Job], settings: Settings) -> Generator[Report]:
        """Yield the report of each of ``jobs``, in order."""
        ...


def runs_here(jobs: list[Job], options: RunOptions) -> bool:
    """Whether to run the jobs one by one in this process (tiled jobs: each on every core)."""
    few = options.workers <= 1 or len(jobs) <= 1
    return few or any(job.source is None or job.tiled for job in jobs)


@dataclass(frozen=True)
class SerialExecutor:
    """Every job in this process, one after the other; ``tiled`` runs the tiled ones."""

    options: RunOptions
    tiled: TiledRunner | None = None

    def execute(self, jobs: list[Job], settings: Settings) -> Generator[Report]:
        """Yield the report of each of ``jobs``, in order."""
        for job in jobs:
            yield run_job(job, settings, self.options, self.tiled)


@dataclass(frozen=True)
class ProcessExecutor:
    """Jobs in ``options.workers`` worker processes, each engine on one thread.

    A worker that dies (killed, out of memory) fails its job alone: the jobs
    not yet done with it run again, the first of them alone, as it may be
    the cause or a bystander.
    """

    options: RunOptions

    def execute(self, jobs: list[Job], settings: Settings) -> Generator[Report]:
        """Yield the report of each of ``jobs``, in order."""
        # Worker processes only here: a run in this process starts without loading them.
        import multiprocessing
        from concurrent.futures.process import BrokenProcessPool

        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        options = replace(self.options, threads=1)  # the workers already share the cores
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
            suspect = remaining[broken]
            with _workers(1, settings, options, context) as pool:
                try:
                    yield pool.submit(_work, suspect).result()
                except BrokenProcessPool:
                    yield failed_report(suspect, settings, f"{suspect.label}: {DIED}")
            remaining = remaining[broken + 1 :]


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


# --- in each worker process ------------------------------------------------------------------

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
        return failed_report(
            job, settings, Message("{label}: {why}", label=job.label, why=error.said)
        )
