"""Batch speed: convcli against ImageMagick's mogrify and vips, on the same PNGs.

    python benchmarks/batch.py [--images 50] [--size 1024] [--rounds 3] [--level 1]

Makes ``--images`` RGB PNGs of ``--size`` x ``--size`` (shifted copies of the
astronaut photograph, so they compress like photographs), then filters them
all with a horizontal Sobel kernel using

- ``convcli apply FOLDER -k sobel-x -o OUT`` (workers: one per CPU),
- ImageMagick 6 ``mogrify -morphology Convolve Sobel`` (its OpenMP threads),
- ``vips conv`` run once per file, as a shell loop would,

each writing PNG at zlib level ``--level``. The tools run in turn, round after
round (interleaved), and the medians are reported with images per second,
the ratios, the CPU time of each whole process tree (``RUSAGE_CHILDREN``:
convcli's worker processes and the shell loop's vips runs are waited for,
so they count) and the output sizes. Needs the Debian packages imagemagick
and libvips-tools. ``run.py`` runs the same measurement for RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOBEL_X = "3 3 1 0\n-1 0 1\n-2 0 2\n-1 0 1\n"  # width height scale offset, then rows


def make_inputs(folder: Path, count: int, size: int) -> None:
    """Write ``count`` shifted copies of the astronaut at ``size`` x ``size``."""
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        base = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    for i in range(count):
        Image.fromarray(np.roll(base, 13 * i, axis=1)).save(folder / f"img{i:03d}.png")


def commands(source: Path, out: Path, level: int, work: Path) -> dict[str, list[str] | str]:
    """Build each tool's command, writing PNG at zlib ``level`` (convcli also at its default)."""
    convcli = [sys.executable, "-m", "convcli", "apply", str(source), "-k", "sobel-x",
               "-o", str(out), "-q"]  # fmt: skip
    mogrify = ["mogrify", "-path", str(out), "-define", f"png:compression-level={level}",
               "-morphology", "Convolve", "Sobel", str(source / "*.png")]  # fmt: skip
    mask = work / "sobel-x.mat"
    mask.write_text(SOBEL_X)
    vips = (
        f'for f in "{source}"/*.png; do '
        f'vips conv "$f" "{out}/$(basename "$f")[compression={level}]" "{mask}" '
        "--precision integer || exit 1; done"
    )
    return {
        "convcli": convcli,  # its default: Up filter, zlib run-length coding
        f"convcli L{level}": [*convcli, "--compress-level", str(level)],
        "mogrify": mogrify,
        "vips conv": vips,
    }


def timed(command: list[str] | str, out: Path) -> tuple[float, float, int]:
    """Run a command into an empty ``out``; return its seconds, CPU seconds and bytes written."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(command, shell=isinstance(command, str), check=True)
    seconds = time.perf_counter() - started
    return seconds, _children_cpu() - cpu, sum(p.stat().st_size for p in out.iterdir())


def _children_cpu() -> float:
    # User + system seconds of every child process waited for so far (and theirs).
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    tools: dict[str, list[str] | str], out: Path, rounds: int
) -> dict[str, tuple[float, float, int]]:
    """Run the tools in turn, ``rounds`` times; return each one's median seconds, CPU, bytes."""
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in tools}
    for _ in range(rounds):
        for name, command in tools.items():
            runs[name].append(timed(command, out))
    return {
        name: (
            statistics.median(r[0] for r in got),
            statistics.median(r[1] for r in got),
            got[-1][2],
        )
        for name, got in runs.items()
    }


def main() -> None:
    """Measure, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--level", type=int, default=1, help="PNG zlib level for every tool")
    args = parser.parse_args()
    for tool in ("mogrify", "vips"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install imagemagick libvips-tools")

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        source = work / "in"
        source.mkdir()
        make_inputs(source, args.images, args.size)
        tools = commands(source, work / "out", args.level, work)
        got = measure(tools, work / "out", args.rounds)
        level6 = commands(source, work / "out", 6, work)["convcli L6"]
        seconds6, _, size6 = timed(level6, work / "out")

    print(f"{args.images} RGB PNGs of {args.size}x{args.size}, sobel-x, PNG level "
          f"{args.level} (convcli: its default, and level {args.level}); medians of "
          f"{args.rounds} interleaved rounds")  # fmt: skip
    default = got["convcli"][0]
    print(f"{'tool':<10} {'seconds':>8} {'CPU s':>7} {'images/s':>9} {'convcli is':>11} "
          f"{'output MB':>10}")  # fmt: skip
    for name, (seconds, cpu, size) in got.items():
        print(f"{name:<10} {seconds:8.2f} {cpu:7.2f} {args.images / seconds:9.1f} "
              f"{seconds / default:10.2f}x {size / 1e6:10.1f}")  # fmt: skip
    print(f"convcli at PNG level 6: {seconds6:.2f} s ({args.images / seconds6:.1f} images/s), "
          f"{size6 / 1e6:.1f} MB; its default is {seconds6 / default:.2f}x faster "
          f"and {got['convcli'][2] / size6 - 1:+.0%} in size")  # fmt: skip


if __name__ == "__main__":
    main()
