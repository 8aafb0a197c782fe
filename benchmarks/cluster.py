"""Batches on a Dask cluster: ``--scheduler local:2`` and ``tcp://`` against ``-j 2``.

    python benchmarks/cluster.py [--images 200] [--size 1024] [--rounds 3]

Makes ``--images`` RGB PNGs of ``--size`` x ``--size`` (shifted copies of the
astronaut photograph, PNG level 1), then filters the folder with ``sobel-x``
into a fresh output folder, three ways:

- ``convcli apply IN -k sobel-x -o OUT -j 2 -q``: convcli's own two worker
  processes,
- the same with ``--scheduler local:2`` instead of ``-j 2``: convcli starts a
  local Dask cluster of two worker processes, runs the batch and stops it,
- the same with ``--scheduler tcp://...``: a cluster already running, of two
  single-threaded worker processes, which this script starts before the rounds
  (Dask's nanny variable ``MALLOC_TRIM_THRESHOLD_`` removed, as convcli does).

They run in turn, round after round (interleaved); the medians are reported:
wall seconds, images per second and its ratio to ``-j 2`` (the target:
``local:2`` at 0.9x or more), and the CPU seconds of every process involved.
For a convcli process that is ``getrusage(RUSAGE_CHILDREN)``, which holds it
and every process it started and waited for (its ``-j`` workers, a local
cluster's scheduler, nannies and workers); for ``tcp`` add the running
cluster's worker processes (psutil) and this script's own process, which holds
that cluster's scheduler and nannies. Each round also runs the three on a batch
of 2 images (one per worker): their fixed costs, start-up and shut-down. Since
the machine may be shared, each run also reports the CPU seconds every other
process used meanwhile, and the time the hypervisor stole.

Then, once, the ``tcp`` batch against a second cluster that keeps Dask's
default nanny environment (``MALLOC_TRIM_THRESHOLD_=65536``), back to back
with the first cluster: the workers' CPU time per image with and without it.
Needs the distributed extra (``pip install -e ".[distributed]"``) and psutil.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dask
import distributed
import numpy as np
import PIL
import psutil
from machine import cpu_name
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
ELSEWHERE = ("CONVCLI_SCHEDULER", "DASK_SCHEDULER_ADDRESS")  # would send -j 2 to a cluster
TARGET = 0.9  # the issue's: local:2 at this fraction of -j 2's images/s, at least


@dataclass
class Run:
    """One batch: wall seconds and CPU seconds (all of it, and the running cluster's part)."""

    wall: float
    cpu: float  # every process: convcli and its children, plus a running cluster's
    client: float  # the convcli process and the processes it started
    workers: float  # the running cluster's worker processes
    here: float  # this process: the running cluster's scheduler and nannies
    said: list[str]  # convcli's standard error, line by line
    others: float  # CPU seconds of every other process on the machine meanwhile
    steal: float  # seconds the hypervisor gave this machine's CPUs to other machines


def make_inputs(folder: Path, count: int, size: int) -> None:
    """Write ``count`` shifted copies of the astronaut at ``size`` x ``size``, PNG level 1."""
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        base = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    for i in range(count):
        Image.fromarray(np.roll(base, 13 * i, axis=1)).save(
            folder / f"img{i:03d}.png", compress_level=1
        )


def _trim_setting() -> str | None:
    """Return this worker's MALLOC_TRIM_THRESHOLD_ (run on the workers)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _warm() -> int:
    """Import what a batch task needs, once, so that no round pays for it (run on the workers)."""
    import convcli.distributed.executors  # noqa: F401

    return os.getpid()


@contextlib.contextmanager
def running_cluster(trim: bool) -> Iterator[tuple[str, list[psutil.Process], float, str]]:
    """Start a local cluster of two worker processes, as one already running would be.

    ``trim`` removes the nanny's MALLOC_TRIM_THRESHOLD_, as convcli does.
    Yields its address, its worker processes, its start-up seconds and the
    workers' MALLOC_TRIM_THRESHOLD_.
    """
    started = time.perf_counter()
    with dask.config.set({TRIM: None} if trim else {}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    with cluster, distributed.Client(cluster) as client:
        workers = [psutil.Process(pid) for pid in client.run(_warm).values()]
        settings = {str(value) for value in client.run(_trim_setting).values()}
        yield cluster.scheduler_address, workers, seconds, ", ".join(sorted(settings))


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU seconds of ``processes`` and of their children waited for."""
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _used(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def machine() -> tuple[float, float]:
    """Return the CPU seconds spent so far on every CPU, busy and stolen."""
    times = psutil.cpu_times()
    busy = times.user + times.nice + times.system + times.irq + times.softirq
    return busy, times.steal


def timed(command: list[str], out: Path, images: int, workers: list[psutil.Process]) -> Run:
    """Run ``command`` into a fresh ``out``; its wall and CPU seconds, ``workers``' too."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in ELSEWHERE}
    children = _used(resource.getrusage(resource.RUSAGE_CHILDREN))
    here = _used(resource.getrusage(resource.RUSAGE_SELF))
    theirs = cpu_seconds(workers)
    busy, steal = machine()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    busy, steal = (now - then for now, then in zip(machine(), (busy, steal), strict=True))
    client = _used(resource.getrusage(resource.RUSAGE_CHILDREN)) - children
    here = _used(resource.getrusage(resource.RUSAGE_SELF)) - here
    theirs = cpu_seconds(workers) - theirs
    written = len(list(out.iterdir()))
    shutil.rmtree(out)
    if done.returncode or written != images:
        sys.exit(f"{done.stderr}{' '.join(command)}: exit {done.returncode}, "
                 f"{written} files written of {images}")  # fmt: skip
    cpu = client + theirs + here
    return Run(wall, cpu, client, theirs, here, done.stderr.splitlines(), busy - cpu, steal)


def median(runs: list[Run], field: str) -> float:
    """Return the median of one field over ``runs``."""
    return statistics.median(getattr(run, field) for run in runs)


def main() -> None:
    """Measure, then print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); Python {platform.python_version()}")
    print(f"dask {dask.__version__}, distributed {distributed.__version__}, "
          f"numpy {np.__version__}, Pillow {PIL.__version__}")  # fmt: skip
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    names = ["-j 2", "--scheduler local:2", "--scheduler tcp:// (running)"]
    runs: dict[str, list[Run]] = {name: [] for name in names}
    fixed: dict[str, list[Run]] = {name: [] for name in names}  # two images: the fixed costs
    with tempfile.TemporaryDirectory(prefix="convcli-cluster-") as scratch:
        work = Path(scratch)
        source = work / "in"
        source.mkdir()
        made = time.perf_counter()
        make_inputs(source, args.images, args.size)
        print(f"{args.images} inputs made in {time.perf_counter() - made:.1f} s", flush=True)
        pair = work / "pair"
        pair.mkdir()
        for name in sorted(path.name for path in source.iterdir())[:2]:
            shutil.copy(source / name, pair / name)
        out = work / "out"
        base = [sys.executable, "-m", "convcli", "apply", str(source), "-k", "sobel-x",
                "-o", str(out), "-q"]  # fmt: skip

        with running_cluster(trim=True) as (address, workers, start, trim):
            print(f"running cluster at {address}: started in {start:.2f} s, "
                  f"workers' MALLOC_TRIM_THRESHOLD_: {trim}", flush=True)  # fmt: skip
            commands = {
                names[0]: ([*base, "-j", "2"], []),
                names[1]: ([*base, "--scheduler", "local:2"], []),
                names[2]: ([*base, "--scheduler", address], workers),
            }
            for number in range(args.rounds):
                for name, (command, watched) in commands.items():
                    run = timed(command, out, args.images, watched)
                    runs[name].append(run)
                    print(f"round {number + 1} {name:<30} {run.wall:6.2f} s, CPU {run.cpu:6.2f} s;"
                          f" other processes {run.others:5.2f} CPU s, steal {run.steal:4.2f} s",
                          flush=True)  # fmt: skip
                for name, (command, watched) in commands.items():
                    two = [str(pair) if part == str(source) else part for part in command]
                    fixed[name].append(timed(two, out, 2, watched))

            # MALLOC_TRIM_THRESHOLD_: the same warm tcp batch, back to back on both clusters.
            removed = timed(commands[names[2]][0], out, args.images, workers)
            with running_cluster(trim=False) as (other, default_workers, _, default_trim):
                kept = timed([*base, "--scheduler", other], out, args.images, default_workers)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())

    every = [run for name in names for run in runs[name]] + [removed, kept]
    print()
    print(f"{args.images} RGB PNGs of {args.size}x{args.size} (PNG level 1), sobel-x, "
          f"medians of {args.rounds} interleaved rounds")  # fmt: skip
    print(f"{'convcli apply IN -k sobel-x -o OUT -q':<37} {'seconds':>8} {'images/s':>9} "
          f"{'vs -j 2':>8} {'CPU s':>7} {'CPU ms/image':>13} {'fastest s':>10} "
          f"{'vs -j 2':>8}")  # fmt: skip
    reference = args.images / median(runs[names[0]], "wall")
    best = args.images / min(run.wall for run in runs[names[0]])
    rates, fastest = {}, {}
    for name in names:
        wall, cpu = median(runs[name], "wall"), median(runs[name], "cpu")
        rates[name] = args.images / wall
        fastest[name] = args.images / min(run.wall for run in runs[name])
        print(f"{name:<37} {wall:8.2f} {rates[name]:9.1f} {rates[name] / reference:7.2f}x "
              f"{cpu:7.2f} {1000 * cpu / args.images:13.1f} "
              f"{args.images / fastest[name]:10.2f} {fastest[name] / best:7.2f}x")  # fmt: skip
    ratio = rates[names[1]] / reference
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target: local:2 at {TARGET}x of -j 2 or more: {verdict} ({ratio:.2f}x of the "
          f"medians, {fastest[names[1]] / best:.2f}x of the fastest runs)")  # fmt: skip

    tcp = runs[names[2]]
    print(f"tcp CPU s, medians: convcli process {median(tcp, 'client'):.2f}, "
          f"workers {median(tcp, 'workers'):.2f}, scheduler and nannies "
          f"{median(tcp, 'here'):.2f}")  # fmt: skip
    local_wall, tcp_wall = median(runs[names[1]], "wall"), median(tcp, "wall")
    print(f"local:2 - tcp: {local_wall - tcp_wall:+.2f} s wall, "
          f"{median(runs[names[1]], 'cpu') - median(tcp, 'cpu'):+.2f} s CPU "
          "(starting and stopping a cluster, importing Dask)")  # fmt: skip
    j2_wall = median(runs[names[0]], "wall")
    print(f"tcp - (-j 2): {tcp_wall - j2_wall:+.2f} s wall "
          f"({1000 * (tcp_wall - j2_wall) / args.images:+.1f} ms per image), "
          f"{median(tcp, 'cpu') - median(runs[names[0]], 'cpu'):+.2f} s CPU")  # fmt: skip
    print("fixed costs: a batch of 2 images (one per worker), medians")
    for name in names:
        print(f"{name:<37} {median(fixed[name], 'wall'):8.2f} s, CPU "
              f"{median(fixed[name], 'cpu'):6.2f} s")  # fmt: skip
    start = median(fixed[names[1]], "wall") - median(fixed[names[0]], "wall")
    enough = 9 * start * best  # N / r >= 0.9 (N / r + start), r: -j 2's fastest run
    print(f"local:2 costs {start:.2f} s more than -j 2 before its first image: at equal speed "
          f"per image (-j 2's fastest) it reaches {TARGET}x of -j 2 from about {enough:.0f} "
          "images on")  # fmt: skip
    idle = statistics.median(run.workers + run.here for run in runs[names[0]])
    print(f"the idle running cluster used {idle:.2f} CPU s during each -j 2 run (median)")

    print()
    print("MALLOC_TRIM_THRESHOLD_ in the workers' environment: one tcp batch on each "
          "cluster, back to back")  # fmt: skip
    print(f"{'workers MALLOC_TRIM_THRESHOLD_':<31} {'seconds':>8} {'images/s':>9} "
          f"{'workers CPU s':>14} {'ms/image':>9} {'all CPU s':>10}")  # fmt: skip
    for label, run in ((f"{trim} (removed, as convcli)", removed),
                       (f"{default_trim} (Dask's default)", kept)):  # fmt: skip
        print(f"{label:<31} {run.wall:8.2f} {args.images / run.wall:9.1f} {run.workers:14.2f} "
              f"{1000 * run.workers / args.images:9.1f} {run.cpu:10.2f}")  # fmt: skip
    if removed.workers > 0:
        print(f"Dask's default costs the workers {kept.workers / removed.workers:.2f}x "
              "the CPU time per image")  # fmt: skip
    print(f"load average at end: {load}")
    others, steal = sorted(run.others for run in every), max(run.steal for run in every)
    print(f"other processes' CPU s during a run: median {statistics.median(others):.2f}, "
          f"most {others[-1]:.2f}; steal at most {steal:.2f} s")  # fmt: skip
    for line in dict.fromkeys(line for run in every for line in run.said):
        count = sum(line in run.said for run in every)
        print(f"convcli's standard error, in {count} of {len(every)} runs: {line}")


if __name__ == "__main__":
    main()
