"""What the benchmarks say about the machine they ran on, and how they time a way of working."""

from __future__ import annotations

import contextlib
import itertools
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def cpu_name() -> str:
    """Name the CPU, as /proc/cpuinfo does."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def cpu() -> float:
    """CPU seconds of this process and its finished children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(
    ways: dict[str, Callable[[], object]], repeats: int, *, permuted: bool = False
) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) seconds of each way, run interleaved.

    ``permuted``: each round runs the ways in the next of their orders, so that
    none always follows the same one (the one after a way that freed much
    memory pays for the kernel's fresh, zeroed pages).
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    orders = itertools.cycle(itertools.permutations(ways) if permuted else [tuple(ways)])
    for _ in range(repeats):
        for name in next(orders):
            run = ways[name]
            started, wall = cpu(), time.perf_counter()
            run()
            times[name].append((cpu() - started, time.perf_counter() - wall))
    return {
        name: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for name, got in times.items()
    }
