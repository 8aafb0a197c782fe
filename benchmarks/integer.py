"""The exact integer path against OpenCV and SciPy on 8-bit grey, one thread each, side by side.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/integer.py [--repeats 9]
    python benchmarks/integer.py --program IMAGE --trees OLD NEW [--repeats 5]

The first form: for a ``--size`` square uint8 grey image and a zero border,
runs ``convcli.convolve`` (``auto``: the integer path), OpenCV's ``filter2D``
(u8 to CV_16S for integer weights; to CV_32F, with the kernel's integer
weights, for a box) and ``scipy.ndimage.correlate`` on float32 in turn
(interleaved, ``--repeats`` times), and prints the median CPU seconds of this
process (user + system) with the median wall seconds beside them, and
convcli's ratio to each. The order changes from round to round (every
permutation in turn): whichever runs right after SciPy frees its 32 MiB
pays for fresh pages (about 4 ms of system time on 2048x2048). Every
result is checked to be exactly the integer sums (times the box's factor,
for convcli) before anything is timed.

The second form times the whole program on ``IMAGE``, ``apply -k sobel-x
--range clip``, with each tree's ``src`` in turn (interleaved), and prints
the median wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from machine import cpu_name, measure
from scipy import ndimage

import convcli

KERNELS = ("sobel-x", "laplacian", "sharpen", "box:3")


def engine(size: int, repeats: int) -> None:
    """Time and check the engine against OpenCV and SciPy, one kernel a line."""
    image = np.random.default_rng(0).integers(0, 256, (size, size), dtype=np.uint8)
    for name in KERNELS:
        weights = convcli.kernel(name).matrix
        factor = 1 / 9 if name == "box:3" else 1.0
        whole = np.rint(weights / factor)
        depth = cv2.CV_32F if name == "box:3" else cv2.CV_16S
        ways: dict[str, Callable[[], np.ndarray]] = {
            "convcli": lambda w=weights: convcli.convolve(image, w, pad_mode="zero", threads=1),
            "opencv": lambda w=whole, d=depth: cv2.filter2D(
                image, d, w.astype(np.float32), borderType=cv2.BORDER_CONSTANT
            ),
            "scipy": lambda w=weights: ndimage.correlate(
                image.astype(np.float32), w.astype(np.float32), mode="constant"
            ),
        }
        sums = ways["opencv"]().astype(np.int64)  # the exact integer sums, by OpenCV
        expected = sums.astype(np.float32) * np.float32(factor)  # README: sums times the factor
        assert np.array_equal(ways["convcli"](), expected), name
        if factor == 1.0:
            assert np.array_equal(ways["scipy"](), sums), name
        got = measure(ways, repeats, permuted=True)
        mine = got["convcli"][0]
        cells = [f"{way} {c * 1e3:.1f} ({w * 1e3:.1f}) ms" for way, (c, w) in got.items()]
        ratios = f"{mine / got['opencv'][0]:.2f}x OpenCV, {mine / got['scipy'][0]:.2f}x SciPy"
        print(f"{name:9}: " + "  ".join(cells) + f"  convcli {ratios}", flush=True)


def program(image: Path, trees: list[str], repeats: int) -> None:
    """Time ``convcli apply IMAGE -k sobel-x --range clip`` with each tree, interleaved."""
    with tempfile.TemporaryDirectory() as scratch:
        ways: dict[str, Callable[[], object]] = {}
        for number, tree in enumerate(trees):
            target = Path(scratch) / f"{number}.png"
            command = [sys.executable, "-m", "convcli", "apply", str(image), "-k", "sobel-x",
                       "--range", "clip", "-q", "-o", str(target)]  # fmt: skip
            env = os.environ | {"PYTHONPATH": str(Path(tree) / "src")}
            ways[tree] = lambda c=command, e=env: subprocess.run(
                c,
                env=e,
                check=True,
                stderr=subprocess.DEVNULL,  # the note on what was clipped
            )
        got = measure(ways, repeats)
        outputs = {(Path(scratch) / f"{n}.png").read_bytes() for n in range(len(trees))}
        same = "the same bytes" if len(outputs) == 1 else "DIFFERENT bytes"
    for tree, (c, w) in got.items():
        print(f"{tree}: wall {w:.3f} s, CPU {c:.3f} s")
    print(f"outputs: {same}")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--program", type=Path, help="an image to time the whole program on")
    parser.add_argument("--trees", nargs="+", default=[], help="source trees, for --program")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    threads = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    print(f"CPU: {cpu_name()}; {threads}; numpy {np.__version__}, OpenCV {cv2.__version__}; "
          f"median of {args.repeats} interleaved runs; CPU (wall)")  # fmt: skip
    if args.program:
        program(args.program, args.trees, args.repeats)
    else:
        print(f"{args.size}x{args.size} uint8 grey, zero border, one thread")
        engine(args.size, args.repeats)


if __name__ == "__main__":
    main()
