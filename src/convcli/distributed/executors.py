"""A batch on a Dask cluster, and the one place that chooses where a batch runs.

Only job descriptions go to the workers and only report records come back:
each worker reads its inputs and writes its outputs itself (atomically, with
this run's token in the temporary names), so the client never holds pixels.
Jobs travel in groups, so that a million files are not a million tasks, and
come back in the order of the inputs. A group whose worker died is retried
by Dask; if it keeps killing workers, its jobs run one by one, so that only
the input that kills a worker fails.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.distributed import need
from convcli.errors import Message, ParameterError
from convcli.io.atomic import run_token, running_as
from convcli.report import Report
from convcli.run.executors import Executor, ProcessExecutor, SerialExecutor, runs_here
from convcli.run.job import DIED, failed_report, run_job
from convcli.run.model import Job, RunOptions, Settings

if TYPE_CHECKING:
    from distributed import Client

    from convcli.io.storage import Location

GROUP_MOST = 64  # files per task, at most: about 470 tasks/s go through one scheduler
TASKS_PER_WORKER = 8  # at least, while groups are not full: the load stays balanced


def executor_for(jobs: list[Job], options: RunOptions, client: Client | None = None) -> Executor:
    """Choose where the jobs run: on the cluster of ``client``, in worker processes, or here.

    A batch goes to the cluster when one is given, unless an input is tiled:
    then every job runs here, one at a time, and each tiled input is filtered
    on the cluster (or in ``options.workers`` threads without one). Worker
    processes take several inputs that are files; anything else runs here.
    """
    runnable = [job for job in jobs if job.skip is None]
    tiled = any(job.tiled for job in runnable)
    if client is not None and runnable and not tiled:
        return DaskExecutor(client, options)
    if runs_here(runnable, options):
        return SerialExecutor(options, functools.partial(_run_tiled, client=client))
    return ProcessExecutor(options)


def _run_tiled(job: Job, settings: Settings, options: RunOptions, client: Client | None) -> Report:
    from convcli.distributed.huge import run_tiled  # Dask's arrays: only for a tiled input

    return run_tiled(job, settings, options, client)


@dataclass(frozen=True)
class DaskExecutor:
    """Jobs in groups on the workers of a Dask cluster, one engine thread each."""

    client: Client
    options: RunOptions

    def execute(self, jobs: list[Job], settings: Settings) -> Generator[Report]:
        """Yield each job's report, in order, from the cluster.

        Leaving early (an interrupt, ``fail_fast``) cancels every task not yet started.

        Raises
        ------
        UsageError
            An input is standard input, which the workers cannot read.
        """
        if any(job.source is None for job in jobs):
            raise ParameterError(
                Message("a cluster's workers cannot read standard input; run without {scheduler}"),
                parameter="scheduler",
            )
        client, options = self.client, replace(self.options, threads=1)  # workers share cores
        groups, start = [], 0
        for size in group_sizes(len(jobs), max(1, len(client.scheduler_info()["workers"]))):
            groups.append(jobs[start : start + size])
            start += size
        token, here = run_token(), Path.cwd()
        futures: list[Any] = [
            client.submit(run_group, _anchored(group, here), settings, options, token, pure=False)
            for group in groups
        ]
        try:
            for index, group in enumerate(groups):
                reports = _reports(client, futures[index], group, settings, options, token)
                for job, report in zip(group, reports, strict=True):
                    yield _as_given(report, job)
                futures[index] = None  # released: a finished task is never run again
        finally:
            client.cancel([future for future in futures if future is not None])  # type: ignore[no-untyped-call]


def group_size(jobs: int, workers: int) -> int:
    """Files per task: enough tasks to keep every worker busy, no more than needed.

    Examples
    --------
    >>> group_size(200, 2), group_size(1_000_000, 100), group_size(3, 8)
    (13, 64, 1)
    """
    return max(1, min(GROUP_MOST, -(-jobs // (workers * TASKS_PER_WORKER))))


def group_sizes(jobs: int, workers: int) -> list[int]:
    """Sizes of the successive tasks: each sized for the jobs still left, so they shrink.

    Equal groups left one worker idle at the end while another ran its last
    group (200 images on 2 workers: 104 against 96, 0.4 s); tasks of one file
    at the end let every worker finish within about one image of the others.

    Examples
    --------
    >>> sizes = group_sizes(200, 2)
    >>> sizes[:4], sizes[-3:], len(sizes), sum(sizes)
    ([13, 12, 11, 11], [1, 1, 1], 49, 200)
    """
    sizes = []
    while jobs:
        sizes.append(group_size(jobs, workers))
        jobs -= sizes[-1]
    return sizes


def _anchored(jobs: list[Job], here: Path) -> list[Job]:
    """Make the jobs' paths absolute: a remote worker has another working folder."""
    return [replace(job, source=_absolute(job.source, here),
                    target=_absolute(job.target, here)) for job in jobs]  # fmt: skip


def _absolute(where: Location | None, here: Path) -> Location | None:
    return here / where if isinstance(where, Path) else where  # a URL is absolute


def _as_given(report: Report, job: Job) -> Report:
    """Name the report's output as the user gave it, as a local run does."""
    if report.output is None or job.target is None:
        return report
    return replace(report, output=str(job.target))


def run_group(jobs: list[Job], settings: Settings, options: RunOptions, token: str) -> list[Report]:
    """Run a group of jobs on a worker, for the run ``token`` (a Dask task)."""
    with running_as(token):
        return [run_job(job, settings, options) for job in jobs]


def _reports(
    client: Client,
    future: Any,
    group: list[Job],
    settings: Settings,
    options: RunOptions,
    token: str,
) -> Iterator[Report]:
    killed = need("distributed").KilledWorker
    try:
        yield from future.result()
    except killed:  # it killed worker after worker: each job alone tells which one did
        for job in group:
            alone = client.submit(run_group, _anchored([job], Path.cwd()), settings, options,
                                  token, pure=False)  # fmt: skip
            try:
                yield from alone.result()
            except killed:
                yield failed_report(job, settings, f"{job.label}: {DIED}")
