"""What the benchmarks say about the machine they ran on, and how they time a way of working."""

from __future__ import annotations

import contextlib
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


def measure(ways: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) seconds of each way, run interleaved."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, run in ways.items():
            started, wall = cpu(), time.perf_counter()
            run()
            times[name].append((cpu() - started, time.perf_counter() - wall))
    return {
        name: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for name, got in times.items()
    }
