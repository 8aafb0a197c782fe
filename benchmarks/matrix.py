"""The engine's methods and ``auto`` against SciPy and OpenCV, one thread each, side by side.

    OPENBLAS_NUM_THREADS=1 python benchmarks/matrix.py [--repeats 7] [--size 2048]

For a ``--size`` square float32 image and dense random and Gaussian kernels
of 3 to 31, runs each way in turn (interleaved: one of each, then again,
``--repeats`` times) and prints the median CPU seconds of this process
(user + system, steadier than wall time on a shared machine) with the median
wall seconds beside them, then each way's ratio to ``scipy.ndimage.correlate``
(mode ``mirror``, convcli's ``reflect``), the matrix method's to the fastest
of convcli's others, and, for dense kernels, ``auto``'s to OpenCV's
``cv2.filter2D`` (``BORDER_REFLECT_101``, after ``cv2.setNumThreads(1)``).
Last, issue 25's targets for ``auto``, each marked met or not. BLAS must run
on one thread (the variable above, as the command line sets it), or its CPU
time counts every core.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import cv2
import numpy as np
from machine import cpu_name, measure
from scipy import ndimage

import convcli

SIZES = (3, 5, 9, 15, 31)


def gaussian(size: int) -> np.ndarray:
    """Sample a Gaussian covering +-3 sigma, normalised."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * (size / 6) ** 2))
    return (np.outer(g, g) / np.outer(g, g).sum()).astype(np.float32)


# Issue 25's targets for auto: (kernel, sizes, reference, at most this ratio of its CPU time).
TARGETS = [
    ("dense", (5, 9, 15, 31), "scipy", 0.4),
    ("dense", (9,), "opencv", 3.5),
    ("dense", (15,), "opencv", 2.5),
    ("gauss", SIZES, "scipy", 0.5),
]
REFERENCES = ("scipy", "opencv", "auto")  # not one of convcli's methods: not "best other"


def ways_for(image: np.ndarray, name: str, kernel: np.ndarray) -> dict[str, Callable[[], object]]:
    """SciPy, OpenCV for dense kernels, auto and each of convcli's methods worth running."""
    size = kernel.shape[0]
    ways: dict[str, Callable[[], object]] = {
        "scipy": lambda: ndimage.correlate(image, kernel, mode="mirror")
    }
    if name == "dense":
        border = cv2.BORDER_REFLECT_101
        ways["opencv"] = lambda: cv2.filter2D(image, -1, kernel, borderType=border)
    methods = ["auto", "direct", "fft", "matrix"] if size <= 15 else ["auto", "fft", "matrix"]
    if name == "gauss":
        methods.insert(2, "separable")
    for method in methods:
        ways[method] = lambda m=method: convcli.convolve(image, kernel, method=m, threads=1)
    return ways


def main() -> None:
    """Measure and print the table, then the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"CPU: {cpu_name()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"numpy {np.__version__}, OpenCV {cv2.__version__}; {args.size}x{args.size} float32; "
          f"median of {args.repeats} interleaved runs; CPU s (wall s); ratio = CPU time / "
          "SciPy's")  # fmt: skip
    image = np.random.default_rng(0).random((args.size, args.size)).astype(np.float32)
    ratios: dict[tuple[str, int, str], float] = {}
    for name in ("dense", "gauss"):
        for size in SIZES:
            kernel = (
                gaussian(size)
                if name == "gauss"
                else np.random.default_rng(size).random((size, size)).astype(np.float32)
            )
            got = measure(ways_for(image, name, kernel), args.repeats)
            scipy = got["scipy"][0]
            cells = [f"{way} {c:.3f} ({w:.3f}) {c / scipy:.2f}x" for way, (c, w) in got.items()]
            others = min(c for way, (c, _) in got.items() if way not in (*REFERENCES, "matrix"))
            cells.append(f"matrix/best other {got['matrix'][0] / others:.2f}x")
            for reference in REFERENCES:
                if reference in got:
                    ratios[name, size, reference] = got["auto"][0] / got[reference][0]
            if "opencv" in got:
                cells.append(f"auto/opencv {ratios[name, size, 'opencv']:.2f}x")
            print(f"{name} {size:2}: " + "  ".join(cells), flush=True)
    for name, sizes, reference, limit in TARGETS:
        for size in sizes:
            ratio = ratios[name, size, reference]
            verdict = "met" if ratio <= limit else "NOT met"
            print(f"target: auto {name} {size} <= {limit}x {reference}: {ratio:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
