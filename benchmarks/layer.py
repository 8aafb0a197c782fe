"""A convolutional layer: convcli's channels="sum" against PyTorch's conv2d, one thread each.

    OPENBLAS_NUM_THREADS=1 python benchmarks/layer.py [--repeats 7] [--size 1024]

Two layers with a bias and zero padding: a first layer of 64 filters of
3 x 7 x 7 (ResNet's conv1 without its stride) over a ``--size`` square RGB
float32 image, and a second of 64 filters of 64 x 5 x 5 over 64 maps of a
third of that size. convcli runs on ``(H, W, C)``, PyTorch on
``(1, C, H, W)``, each in its own layout (converted outside the timing).
Each runs in turn, ``--repeats`` times (interleaved); the table gives the
median CPU seconds of this process (user + system) with the median wall
seconds beside them, and the ratio to PyTorch's. BLAS must run on one
thread (the variable above), and PyTorch runs on one
(``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from machine import cpu_name, measure

import convcli


def compare(name: str, image: np.ndarray, weights: np.ndarray, repeats: int) -> None:
    """Time one layer both ways and print a line each, and how far apart their outputs are."""
    bias = np.random.default_rng(1).standard_normal(len(weights)).astype(np.float32)
    padding = weights.shape[-1] // 2
    tensors = [torch.from_numpy(a) for a in (np.moveaxis(image, -1, 0)[None].copy(), weights, bias)]
    layer = {"channels": "sum", "bias": bias, "padding": padding, "pad_mode": "zero", "threads": 1}
    ways: dict[str, Callable[[], object]] = {
        "convcli": lambda: convcli.convolve(image, weights, **layer),
        "torch": lambda: F.conv2d(*tensors, padding=padding),
    }
    ours = convcli.convolve(image, weights, **layer)
    theirs = np.moveaxis(F.conv2d(*tensors, padding=padding)[0].numpy(), 0, -1)
    difference = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    got = measure(ways, repeats)
    base = got["torch"][0]
    print(f"{name}: {'x'.join(map(str, weights.shape))} over {'x'.join(map(str, image.shape))}; "
          f"largest difference {difference:.1e} of the largest output")  # fmt: skip
    for way, (used, wall) in got.items():
        print(f"  {way:8} CPU {used:.3f} s (wall {wall:.3f} s)  {used / base:.2f}x PyTorch's")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"CPU: {cpu_name()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"torch threads {torch.get_num_threads()}; numpy {np.__version__}; torch "
          f"{torch.__version__}; float32; median of {args.repeats} interleaved runs")  # fmt: skip
    rng = np.random.default_rng(0)
    rgb = rng.random((args.size, args.size, 3), dtype=np.float32)
    compare("first layer", rgb, rng.standard_normal((64, 3, 7, 7)).astype(np.float32), args.repeats)
    maps = rng.random((args.size // 3, args.size // 3, 64), dtype=np.float32)
    second = rng.standard_normal((64, 64, 5, 5)).astype(np.float32)
    compare("second layer", maps, second, args.repeats)


if __name__ == "__main__":
    main()
