"""Measure each engine method per output value, to tune the cost model of ``auto``.

    python benchmarks/calibrate.py [--repeats 5] [--threads 1 2]

The 20 calibration cases: a 2048x2048 float32 image and a 1024x1024x3 one,
each with a dense random kernel and a Gaussian of 3, 5, 9, 15 and 31. For
each case and band-thread count, runs every method in turn (interleaved:
one of each, then again, ``--repeats`` times) and prints the median CPU
milliseconds of this process (steadier than wall time on a shared machine;
the median wall milliseconds beside them), the fastest method by CPU time,
and the one ``auto`` picks, with the ratio of its time to the fastest. BLAS runs on one
thread, as the command line holds it (``OPENBLAS_NUM_THREADS=1`` unless
set). The direct method at 31 and the separable method on dense kernels
above 9 are left out: many times slower than the others (961 taps; as many
1-D passes as rows).

Last, each method's median nanoseconds per output value per unit of the
cost model's work (``convcli.engine.work``): the constants ``NS_PER_UNIT``
in ``engine/_methods.py`` are the one-thread medians. ``--save FILE``
writes every case's times and work measures as JSON, to try constants on.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the command line sets it

import statistics
from collections.abc import Callable

import numpy as np
from machine import cpu_name, measure
from matrix import gaussian

from convcli.engine import choose_method, convolve, resolve_geometry, work

METHODS = ("direct", "separable", "fft", "matrix")
Case = tuple[str, np.ndarray, np.ndarray]


def cases() -> list[Case]:
    """Return the 20 calibration cases: (name, image, kernel)."""
    rng = np.random.default_rng(0)
    found = []
    for shape in [(2048, 2048), (1024, 1024, 3)]:
        image = (rng.random(shape) * 255).astype(np.float32)
        for size in (3, 5, 9, 15, 31):
            dense = rng.random((size, size)).astype(np.float32)
            for name, kernel in [("dense", dense), ("gauss", gaussian(size))]:
                label = f"{'x'.join(map(str, shape))} {name} {size:2}"
                found.append((label, image, kernel))
    return found


def methods_for(label: str, size: int) -> list[str]:
    """Return the methods worth measuring for a case (see the module's docstring)."""
    left_out = {"direct"} if size > 15 else set()
    if "dense" in label and size > 9:
        left_out.add("separable")
    return [m for m in METHODS if m not in left_out]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--save", help="write the measurements to this JSON file")
    args = parser.parse_args()
    saved: list[dict[str, object]] = []
    every = cases()
    print(f"CPU: {cpu_name()}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"median of {args.repeats} interleaved runs; CPU ms (wall ms)")  # fmt: skip
    for threads in args.threads:
        per_unit: dict[str, list[float]] = {m: [] for m in METHODS}
        picked = 0
        for label, image, kernel in every:
            geometry = resolve_geometry(image.shape, kernel.shape)
            ways: dict[str, Callable[[], object]] = {
                m: lambda m=m, x=image, k=kernel, t=threads: convolve(x, k, method=m, threads=t)
                for m in methods_for(label, kernel.shape[0])
            }
            got = measure(ways, args.repeats)
            for method, (cpu, _) in got.items():
                per_unit[method].append(cpu * 1e9 / image.size / work(method, kernel, geometry))
            fastest = min(got, key=lambda m: got[m][0])
            chosen = str(choose_method("auto", kernel, geometry).value)
            ratio = got[chosen][0] / got[fastest][0] if chosen in got else float("nan")
            picked += chosen == fastest
            units = {m: work(m, kernel, geometry) for m in got}
            saved.append({"threads": threads, "case": label, "times": got, "work": units})
            cells = "  ".join(f"{m} {c * 1e3:6.1f} ({w * 1e3:6.1f})" for m, (c, w) in got.items())
            print(f"threads {threads} {label}: {cells}  fastest {fastest}, auto {chosen} "
                  f"{ratio:.2f}x", flush=True)  # fmt: skip
        print(f"threads {threads}: auto picked the fastest in {picked} of {len(every)}")
        for method, values in per_unit.items():
            print(f"threads {threads} {method}: median {statistics.median(values):.3f} "
                  f"({min(values):.2f}-{max(values):.2f}) ns per output per unit")  # fmt: skip
    if args.save:
        with open(args.save, "w") as file:
            json.dump({"cpu": cpu_name(), "cases": saved}, file, indent=1)


if __name__ == "__main__":
    main()
