"""The matrix method against direct, separable, fft and SciPy, one thread each, side by side.

    OPENBLAS_NUM_THREADS=1 python benchmarks/matrix.py [--repeats 7] [--size 2048]

For a ``--size`` square float32 image and dense random and Gaussian kernels
of 3 to 31, runs each way in turn (interleaved: one of each, then again,
``--repeats`` times) and prints the median CPU seconds of this process
(user + system, steadier than wall time on a shared machine) with the median
wall seconds beside them, then each method's ratio to ``scipy.ndimage.correlate``
(mode ``mirror``, convcli's ``reflect``) and the matrix method's to the
fastest of the others. BLAS must run on one thread (the variable above, as
the command line sets it), or its CPU time counts every core.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
from machine import cpu_name
from scipy import ndimage

import convcli

SIZES = (3, 5, 9, 15, 31)


def gaussian(size: int) -> np.ndarray:
    """Sample a Gaussian covering +-3 sigma, normalised."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * (size / 6) ** 2))
    return (np.outer(g, g) / np.outer(g, g).sum()).astype(np.float32)


def cpu() -> float:
    """CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"numpy {np.__version__}; {args.size}x{args.size} float32; median of {args.repeats} "
          "interleaved runs; CPU s (wall s); ratio = CPU time / SciPy's")  # fmt: skip
    image = np.random.default_rng(0).random((args.size, args.size)).astype(np.float32)
    for name in ("dense", "gauss"):
        for size in SIZES:
            kernel = (
                gaussian(size)
                if name == "gauss"
                else np.random.default_rng(size).random((size, size)).astype(np.float32)
            )
            methods = ["direct", "fft", "matrix"] if size <= 15 else ["fft", "matrix"]
            if name == "gauss":
                methods.insert(1, "separable")
            ways: dict[str, Callable[[], object]] = {
                "scipy": lambda k=kernel: ndimage.correlate(image, k, mode="mirror")
            }
            for method in methods:
                ways[method] = lambda m=method, k=kernel: convcli.convolve(
                    image, k, method=m, threads=1
                )
            got = measure(ways, args.repeats)
            scipy = got["scipy"][0]
            cells = [f"{way} {c:.3f} ({w:.3f}) {c / scipy:.2f}x" for way, (c, w) in got.items()]
            others = min(c for way, (c, _) in got.items() if way not in ("scipy", "matrix"))
            versus = f"matrix/best other {got['matrix'][0] / others:.2f}x"
            print(f"{name} {size:2}: " + "  ".join(cells) + f"  {versus}", flush=True)


if __name__ == "__main__":
    main()
