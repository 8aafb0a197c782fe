"""Connecting to a Dask cluster (or starting a local one) and checking its workers.

The client it yields is handed to the executor that runs a batch there
(:mod:`convcli.distributed.executors`) and to the tiled path as its
scheduler; nothing here remembers it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli._version import __version__
from convcli.distributed import need
from convcli.errors import ConvcliError, ParameterError, UsageError
from convcli.io.storage import exists, is_url, location
from convcli.limits import MAX_JOBS

if TYPE_CHECKING:
    from distributed import Client

LOCAL = "local"
CONNECT_SECONDS = 5
SCHEMES = ("tcp", "tls", "ws", "wss")  # Dask's transports between machines
ENCRYPTED_SCHEMES = ("tls", "wss")
# A local cluster's workers only run convcli's tasks: Dask's statistical profiler (every 10 ms)
# and its monitors (every 20 and 500 ms) only feed the dashboard; together they cost its
# worker processes about 1 CPU second in 200 images on 2 workers (measured).
QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


@contextlib.contextmanager
def session(address: str, workers: int, inputs: list[str]) -> Iterator[Client]:
    """Connect to a cluster (or start a local one), check it, and yield its client.

    Open it before anything is written: an unreachable scheduler, or workers
    that run another convcli or cannot see ``inputs``, are usage errors.
    ``workers`` is the size of a ``local`` cluster.
    """
    with _client(address, workers) as client:
        _check_workers(client, inputs)
        yield client


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
    except ValueError:  # Dask's parse of the address: "invalid literal for int()"
        raise ParameterError(
            f"scheduler {address}: not an address (tcp://host:port, host:port, local or local:N)",
            parameter="scheduler",
        ) from None
    except (OSError, TimeoutError) as error:
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
        raise ParameterError(
            f"scheduler {address}: convcli connects over {', '.join(SCHEMES)} "
            f"(scheme://host:port), or starts local[:N]",
            parameter="scheduler",
        )
    security = need("distributed").Security()  # from Dask's configuration
    try:
        context = security.get_connection_args("client")["ssl_context"]
    except (OSError, ValueError) as error:  # a certificate file missing or unreadable (SSLError)
        raise ParameterError(
            f"scheduler {address}: Dask's TLS settings: {error}", parameter="scheduler"
        ) from None
    encrypted = scheme in ENCRYPTED_SCHEMES
    if encrypted and context is None:
        raise ParameterError(
            f"scheduler {address}: {scheme}:// needs Dask's TLS settings (the certificate "
            f"authority, this client's certificate and key: distributed.comm.tls in Dask's "
            f"configuration); none are set",
            parameter="scheduler",
        )
    if security.require_encryption and not encrypted:
        raise ParameterError(
            f"scheduler {address}: Dask's configuration requires encryption: use tls:// or wss://",
            parameter="scheduler",
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
        raise ParameterError(
            f"scheduler local:N needs N from 1 to {MAX_JOBS}, got {address!r}",
            parameter="scheduler",
        )
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
        from convcli import _version
    except ImportError:
        return None
    return _version.__version__
