"""Measure each engine method per output value, to tune convcli.engine.methods.

    python benchmarks/calibrate.py

Prints, for a 2048x2048 float32 image and a 1024x1024x3 one, each kernel
(dense random and Gaussian, sizes 3 to 31) and each method: milliseconds, and
nanoseconds per output value per unit of the cost model's work measure
(taps for direct and separable, log2 of the transform size for fft, matrix
products for matrix), on one thread (BLAS too: run it with
OPENBLAS_NUM_THREADS=1), best of 3. The
constants in methods.py are the medians of these.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from convcli.engine import choose_method, convolve, resolve_geometry, work

RNG = np.random.default_rng(0)


def gaussian(size: int) -> np.ndarray:
    """Sample a Gaussian covering +-3 sigma."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * (size / 6) ** 2))
    return np.outer(g, g) / np.outer(g, g).sum()


def best(run, repeats: int) -> float:
    """Fastest of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    """Measure and print."""
    per_unit: dict[str, list[float]] = {"direct": [], "separable": [], "fft": [], "matrix": []}
    for shape in [(2048, 2048), (1024, 1024, 3)]:
        image = (RNG.random(shape) * 255).astype(np.float32)
        for size in (3, 5, 9, 15, 31):
            for name, kernel in [("dense", RNG.random((size, size))), ("gauss", gaussian(size))]:
                geometry = resolve_geometry(image.shape, kernel.shape)
                row = []
                for method in per_unit:
                    if method == "direct" and size > 15:
                        row.append(f"{method} -")
                        continue
                    if method == "separable" and name == "dense" and size > 9:
                        row.append(f"{method} -")
                        continue
                    run = lambda m=method, x=image, k=kernel: convolve(x, k, method=m, threads=1)  # noqa: E731
                    seconds = best(run, 3)
                    outputs = image.size
                    ns = seconds * 1e9 / outputs / work(method, kernel, geometry)
                    per_unit[method].append(ns)
                    row.append(f"{method} {seconds * 1e3:7.1f} ms ({ns:.2f})")
                chosen = choose_method("auto", kernel, geometry)
                print(f"{shape} {name} {size:2}: " + "  ".join(row) + f"  auto: {chosen}")
    for method, values in per_unit.items():
        print(f"{method}: median {statistics.median(values):.3f} ns per output per unit of work")


if __name__ == "__main__":
    main()
