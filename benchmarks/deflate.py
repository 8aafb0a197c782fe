"""Deflate for convcli's PNG writer: the standard library's zlib, zlib-ng, ISA-L.

    python benchmarks/deflate.py [--repeats 5]      # ISA-L: pip install isal

Filters a 4096x4096 RGB Sobel response (the astronaut photograph, enlarged)
with PNG's Up filter, as convcli's writer does, then compresses the 48 MiB
with each candidate in turn (interleaved, ``--repeats`` times) and prints
the median CPU seconds and the compressed size, both against the standard
library's run-length coding, convcli's default before zlib-ng.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_name
from PIL import Image
from zlib_ng import zlib_ng

import convcli

SAMPLE = Path(__file__).resolve().parents[1] / "sample_images" / "astronaut.png"


def payload() -> bytes:
    """Return the bytes convcli's writer compresses for a 4096x4096 RGB Sobel response."""
    with Image.open(SAMPLE) as image:
        photo = np.asarray(image.convert("RGB").resize((4096, 4096)), dtype=np.float32)
    response = np.abs(convcli.convolve(photo, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    rows = np.clip(np.rint(response), 0, 255).astype(np.uint8).reshape(4096, -1)
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # Up
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    return filtered.tobytes()


def candidates() -> dict[str, Callable[[], Any]]:
    """Each way to make a raw deflate compressor, as convcli's writer would."""
    ways: dict[str, Callable[[], Any]] = {
        "zlib, run-length, level 1": lambda: zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE),
        "zlib-ng, run-length, level 1": lambda: zlib_ng.compressobj(
            1, zlib_ng.DEFLATED, -15, 9, zlib_ng.Z_RLE
        ),
        "zlib-ng, level 6": lambda: zlib_ng.compressobj(6, zlib_ng.DEFLATED, -15, 9),
        "zlib, level 6": lambda: zlib.compressobj(6, zlib.DEFLATED, -15, 9),
    }
    try:
        from isal import isal_zlib
    except ImportError:
        return ways
    ways["ISA-L, level 1"] = lambda: isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15, 9)
    return ways


def cpu() -> float:
    """CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data, ways = payload(), candidates()
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    sizes: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, make in ways.items():
            started = cpu()
            compressor = make()
            sizes[name] = len(compressor.compress(data) + compressor.flush())
            seconds[name].append(cpu() - started)
    print(f"CPU: {cpu_name()}; {len(data) / 2**20:.1f} MiB of Up-filtered RGB Sobel response; "
          f"medians of {args.repeats} interleaved runs")  # fmt: skip
    base = next(iter(ways))
    for name in ways:
        time, size = statistics.median(seconds[name]), sizes[name]
        print(f"{name:30} {time:6.3f} CPU s {time / statistics.median(seconds[base]):5.2f}x  "
              f"{size / 2**20:6.2f} MiB {size / sizes[base]:5.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
