"""A convolutional layer: convcli's channels="sum" against PyTorch's conv2d, one thread each.

    OPENBLAS_NUM_THREADS=1 python benchmarks/layer.py [--repeats 7] [--size 1024]

A first layer of 64 filters of 3 x 7 x 7 with a bias (ResNet's conv1
without its stride) over a ``--size`` square RGB float32 image, zero
padding 3: convcli on ``(H, W, 3)``, PyTorch on ``(1, 3, H, W)``, each in its
own layout (converted outside the timing). Each runs in turn, ``--repeats``
times (interleaved); the table gives the median CPU seconds of this
process (user + system) with the median wall seconds beside them, and the
ratio to PyTorch's. BLAS must run on one thread (the variable above), and
PyTorch runs on one (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from machine import cpu_name
from matrix import measure

import convcli


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"CPU: {cpu_name()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"torch threads {torch.get_num_threads()}; numpy {np.__version__}; torch "
          f"{torch.__version__}; 64x3x7x7 over {args.size}x{args.size} RGB float32; median of "
          f"{args.repeats} interleaved runs")  # fmt: skip
    rng = np.random.default_rng(0)
    image = rng.random((args.size, args.size, 3), dtype=np.float32)
    weights = rng.standard_normal((64, 3, 7, 7)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    tensors = [torch.from_numpy(a) for a in (np.moveaxis(image, -1, 0)[None].copy(), weights, bias)]
    layer = {"channels": "sum", "bias": bias, "padding": 3, "pad_mode": "zero", "threads": 1}
    ways: dict[str, Callable[[], object]] = {
        "convcli": lambda: convcli.convolve(image, weights, **layer),
        "torch": lambda: F.conv2d(*tensors, padding=3),
    }
    ours = ways["convcli"]()
    theirs = np.moveaxis(F.conv2d(*tensors, padding=3)[0].numpy(), 0, -1)
    difference = float(np.abs(ours - theirs).max() / np.abs(theirs).max())  # type: ignore[operator]
    got = measure(ways, args.repeats)
    base = got["torch"][0]
    for way, (used, wall) in got.items():
        print(f"{way:8} CPU {used:.3f} s (wall {wall:.3f} s)  {used / base:.2f}x PyTorch's")
    print(f"largest difference from PyTorch's: {difference:.1e} of the largest output")


if __name__ == "__main__":
    main()
