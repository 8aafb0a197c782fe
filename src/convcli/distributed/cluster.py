"""A batch on a Dask cluster: workers read and write shared storage; reports travel back.

Only job descriptions go to the workers and only report records come back:
each worker reads its inputs and writes its outputs itself (atomically, with
this run's token in the temporary names), so the client never holds pixels.
Jobs travel in groups, so that a million files are not a million tasks, and
come back in the order of the inputs. A group whose worker died is retried
by Dask; if it keeps killing workers, its jobs run one by one, so that only
the input that kills a worker fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli import __version__
from convcli.batch import DIED, RunOptions, failed_report, run_job
from convcli.distributed import need
from convcli.errors import ConvcliError, UsageError
from convcli.io.atomic import run_token, running_as
from convcli.io.storage import exists, is_url, location
from convcli.limits import MAX_JOBS
from convcli.pipeline import Settings
from convcli.planning import Job
from convcli.report import Report

if TYPE_CHECKING:
    from distributed import Client

    from convcli.io.storage import Location

LOCAL = "local"
CONNECT_SECONDS = 5
SCHEMES = ("tcp", "tls", "ws", "wss")  # Dask's transports between machines
ENCRYPTED_SCHEMES = ("tls", "wss")
GROUP_MOST = 64  # files per task, at most: about 470 tasks/s go through one scheduler
TASKS_PER_WORKER = 8  # at least, while groups are not full: the load stays balanced
# A local cluster's workers only run convcli's tasks: Dask's statistical profiler (every 10 ms)
# and its monitors (every 20 and 500 ms) only feed the dashboard; together they cost its
# worker processes about 1 CPU second in 200 images on 2 workers (measured).
QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


def execute(jobs: list[Job], settings: Settings, options: RunOptions) -> Generator[Report]:
    """Yield each job's report, in order, from a Dask cluster (``options.scheduler``).

    Leaving early (an interrupt, ``--fail-fast``) cancels every task not yet
    started; a local cluster is stopped with its worker processes.

    Raises
    ------
    UsageError
        The scheduler cannot be reached, or its workers run another convcli
        or cannot see the inputs.
    """
    if any(job.source is None for job in jobs):
        raise UsageError("a cluster's workers cannot read standard input; run without --scheduler")
    settings = replace(settings, threads=1)  # the cluster's workers share the cores
    with contextlib.ExitStack() as stack:
        if _current.get() is None:  # called as a library, with no session open: open one
            inputs = [str(job.source) for job in jobs]
            stack.enter_context(session(options.scheduler or LOCAL, options.workers, inputs))
        client = _current.get()
        assert client is not None
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


_current: contextvars.ContextVar[Client | None] = contextvars.ContextVar("client", default=None)


def in_session() -> bool:
    """Whether a cluster session is open (its client is then Dask's default scheduler)."""
    return _current.get() is not None


@contextlib.contextmanager
def session(address: str, workers: int, inputs: list[str]) -> Iterator[None]:
    """Connect to a cluster (or start a local one) and check it, for the batches run inside.

    Open it before anything is written: an unreachable scheduler, or workers
    that run another convcli or cannot see ``inputs``, are usage errors.
    ``workers`` is the size of a ``local`` cluster.
    """
    with _client(address, workers) as client:
        _check_workers(client, inputs)
        token = _current.set(client)
        try:
            yield
        finally:
            _current.reset(token)


@contextlib.contextmanager
def _client(address: str, workers: int) -> Iterator[Client]:
    """Connect to the scheduler at ``address``, or start a local cluster (``local[:N]``)."""
    distributed = need("distributed")
    dask = need("dask")
    if address == LOCAL or address.startswith(f"{LOCAL}:"):
        count = _local_workers(address, workers)
        # The nanny's MALLOC_TRIM_THRESHOLD_ cost 1.7x the CPU time per image (measured).
        trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
        with dask.config.set({trim: None, **QUIET_WORKERS}), _sigint_ignored():
            cluster = distributed.LocalCluster(
                n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
            )  # fmt: skip
        with cluster, distributed.Client(cluster) as client:
            yield client
        return
    security = _security(address)
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s", security=security)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        yield client


def _security(address: str) -> Any:
    """Return Dask's security settings for ``address``, refusing what they cannot reach.

    Dask raises a TypeError for a TLS address without TLS settings, and a
    RuntimeError for a plain one when its settings require encryption: both
    are the user's configuration, so both are usage errors, worded here.
    """
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme not in SCHEMES:
        raise UsageError(
            f"--scheduler {address}: convcli connects over {', '.join(SCHEMES)} "
            f"(scheme://host:port), or starts local[:N]"
        )
    security = need("distributed").Security()  # from Dask's configuration
    try:
        context = security.get_connection_args("client")["ssl_context"]
    except (OSError, ValueError) as error:  # a certificate file missing or unreadable (SSLError)
        raise UsageError(f"--scheduler {address}: Dask's TLS settings: {error}") from None
    encrypted = scheme in ENCRYPTED_SCHEMES
    if encrypted and context is None:
        raise UsageError(
            f"--scheduler {address}: {scheme}:// needs Dask's TLS settings (the certificate "
            f"authority, this client's certificate and key: distributed.comm.tls in Dask's "
            f"configuration); none are set"
        )
    if security.require_encryption and not encrypted:
        raise UsageError(
            f"--scheduler {address}: Dask's configuration requires encryption: use tls:// or wss://"
        )
    return security


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start processes that ignore SIGINT (they inherit it): Ctrl-C is convcli's to handle.

    Ctrl-C reaches every process of the terminal's group; workers that died of
    it printed tracebacks, and their deaths raced convcli's own interrupt.
    convcli then closes the cluster, which stops them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _local_workers(address: str, workers: int) -> int:
    _, _, count = address.partition(":")
    if not count:
        return workers
    if not count.isdigit() or not 1 <= int(count) <= MAX_JOBS:
        raise UsageError(f"--scheduler local:N needs N from 1 to {MAX_JOBS}, got {address!r}")
    return int(count)


def _check_workers(client: Client, inputs: list[str]) -> None:
    """Refuse a cluster whose workers run another convcli or cannot see the inputs."""
    if not client.scheduler_info()["workers"]:
        raise UsageError("the Dask cluster has no workers")
    versions = client.run(_worker_version)
    other = {version for version in versions.values() if version != __version__}
    if other:
        raise UsageError(
            f"the Dask workers run convcli {', '.join(sorted(map(str, other)))}, "
            f"this is {__version__}: install the same version on every worker"
        )
    probe = next((name for name in inputs if name != "-"), None)
    if probe is None:
        return
    where = probe if is_url(probe) else str(Path(probe).absolute())
    blind = [worker for worker, seen in client.run(_sees, where).items() if not seen]
    if blind:
        shared = "storage every worker shares, at the same path"
        if is_url(probe):
            shared = "a store every worker reaches, with its library and credentials"
        raise UsageError(
            f"the Dask worker at {blind[0]} cannot see {where}: inputs and outputs must be on "
            f"{shared}"
        )


def _sees(where: str) -> bool:
    """Whether this worker sees the file, folder or object ``where``."""
    try:
        return exists(location(where))
    except ConvcliError:  # the store's library is missing, or it cannot be reached
        return False


def _worker_version() -> str | None:
    try:
        import convcli
    except ImportError:
        return None
    return convcli.__version__
