"""convcli against the tools users would otherwise pick, in one run on the same inputs.

    pip install -e ".[bench]"                       # scipy, opencv-python-headless
    apt-get install imagemagick libvips-tools       # for the whole-program table
    python benchmarks/run.py [--repeats 3] [--markdown benchmarks/RESULTS.md]

1. Engine: float32 2048x2048 grey and 4096x4096x3 RGB, dense random and
   Gaussian kernels of 3 to 31, reflect borders, "same" output. convcli
   ``method="auto"`` on all cores and on one thread, ``scipy.ndimage.correlate``,
   ``cv2.filter2D`` (``cv2.sepFilter2D`` for the Gaussians). Medians of
   interleaved repeats; a case whose first run takes over 5 s runs once.
2. Whole program: one 4096x4096 RGB PNG through a horizontal Sobel kernel:
   ``convcli apply``, ``vips conv``, ``convert -morphology Convolve Sobel``,
   with the PNG compression each used and the output sizes.
3. Start-up: ``convcli --help`` and ``convcli kernels list``, whole process.
4. Peak memory of ``convcli apply`` on that 4096x4096 RGB PNG.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONVCLI = [sys.executable, "-m", "convcli"]
SLOW = 5.0  # seconds: such a case runs once


def gaussian(size: int) -> np.ndarray:
    """Sample a normalised Gaussian covering +-3 sigma."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * (size / 6) ** 2))
    return np.outer(g, g) / np.outer(g, g).sum()


def medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run each callable in turn, ``repeats`` rounds; return the median seconds of each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(repeats):
        for name, run in runs.items():
            if round_number and times[name][0] > SLOW:
                continue
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def engine_table(repeats: int) -> list[str]:
    """Compare the engine with SciPy and OpenCV; return markdown rows."""
    from convcli.engine import choose_method, resolve_geometry

    rng = np.random.default_rng(0)
    lines = [
        "| image | kernel | convcli auto (ms) | 1 thread | scipy | opencv | auto/scipy | "
        "1 thread/scipy | auto/opencv | method |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for shape in [(2048, 2048), (4096, 4096, 3)]:
        image = (rng.random(shape, dtype=np.float32) * 255).astype(np.float32)
        for size in (3, 5, 9, 15, 31):
            for kind in ("dense", "gaussian"):
                kernel = rng.random((size, size)) if kind == "dense" else gaussian(size)
                runs = _engine_runs(image, kernel, kind)
                t = medians(runs, repeats)
                method = choose_method("auto", kernel, resolve_geometry(shape, kernel.shape))
                name = "x".join(map(str, shape))
                lines.append(
                    f"| {name} | {kind} {size} | {t['auto'] * 1e3:.1f} | {t['one'] * 1e3:.1f} | "
                    f"{t['scipy'] * 1e3:.1f} | {t['opencv'] * 1e3:.1f} | "
                    f"{t['auto'] / t['scipy']:.2f} | {t['one'] / t['scipy']:.2f} | "
                    f"{t['auto'] / t['opencv']:.1f} | {method} |"
                )
                print(lines[-1], flush=True)
    return lines


def _engine_runs(
    image: np.ndarray, kernel: np.ndarray, kind: str
) -> dict[str, Callable[[], object]]:
    import cv2
    import scipy.ndimage as ndi

    from convcli.engine import convolve

    k32 = kernel.astype(np.float32)
    stacked = k32.reshape(k32.shape + (1,) * (image.ndim - 2))  # SciPy: one kernel per channel
    border = cv2.BORDER_REFLECT_101

    def opencv() -> object:
        if kind == "dense":
            return cv2.filter2D(image, -1, k32, borderType=border)
        return cv2.sepFilter2D(image, -1, _row(k32), _row(k32), borderType=border)

    return {
        "auto": lambda: convolve(image, kernel),
        "one": lambda: convolve(image, kernel, threads=1),
        "scipy": lambda: ndi.correlate(image, stacked, mode="mirror"),
        "opencv": opencv,
    }


def _row(kernel: np.ndarray) -> np.ndarray:
    # The 1-D factor of a normalised separable Gaussian: its row sums.
    return kernel.sum(axis=0).reshape(1, -1)


def program_table(repeats: int, work: Path) -> list[str]:
    """Compare whole programs on one 4096x4096 RGB PNG; return markdown rows."""
    from PIL import Image

    source = work / "big.png"
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        image.convert("RGB").resize((4096, 4096), Image.Resampling.BICUBIC).save(source)
    mask = work / "sobel-x.mat"
    mask.write_text("3 3 1 0\n-1 0 1\n-2 0 2\n-1 0 1\n")  # width height scale offset, rows
    outputs = {name: work / f"{name}.png" for name in ("convcli", "convcli-L1", "vips", "convert")}
    apply = [*CONVCLI, "apply", str(source), "-k", "sobel-x", "-q"]
    commands = {
        "convcli": [*apply, "-o", str(outputs["convcli"])],
        "convcli-L1": [*apply, "-o", str(outputs["convcli-L1"]), "--compress-level", "1"],
        "vips": ["vips", "conv", str(source), f"{outputs['vips']}[compression=1]", str(mask),
                 "--precision", "integer"],
        "convert": ["convert", str(source), "-define", "png:compression-level=1",
                    "-morphology", "Convolve", "Sobel", str(outputs["convert"])],
    }  # fmt: skip
    missing = [tool for tool in ("vips", "convert") if shutil.which(tool) is None]
    if missing:
        return [f"(whole program skipped: {', '.join(missing)} missing)"]
    runs = {
        name: (lambda c=command: subprocess.run(c, check=True))
        for name, command in commands.items()
    }
    t = medians(runs, repeats)
    labels = {
        "convcli": "`convcli apply -k sobel-x` (default PNG coding)",
        "convcli-L1": "`convcli apply -k sobel-x --compress-level 1`",
        "vips": "`vips conv` (Sobel matrix, integer, PNG level 1)",
        "convert": "`convert -morphology Convolve Sobel` (PNG level 1)",
    }
    lines = ["| program | seconds | convcli is | output MB |", "|---|---:|---:|---:|"]
    for name, label in labels.items():
        size = outputs[name].stat().st_size / 1e6
        lines.append(f"| {label} | {t[name]:.2f} | {t[name] / t['convcli']:.2f}x | {size:.1f} |")
        print(lines[-1], flush=True)
    return lines


def _runner(command: list[str]) -> Callable[[], object]:
    return lambda: subprocess.run(command, capture_output=True, check=True)


def startup_table() -> list[str]:
    """Measure whole-process start-up times (medians of 9 runs)."""
    lines = ["| command | median ms |", "|---|---:|"]
    for args in (["--help"], ["kernels", "list"]):
        runs = {
            "run": lambda a=args: subprocess.run([*CONVCLI, *a], capture_output=True, check=True)
        }
        t = medians(runs, 9)["run"]
        lines.append(f"| `convcli {' '.join(args)}` | {t * 1e3:.0f} |")
        print(lines[-1], flush=True)
    return lines


def memory_table(work: Path) -> list[str]:
    """Measure peak resident memory for one 4096x4096 RGB image, against its 8-bit size."""
    source = work / "big.png"
    image_mib = 4096 * 4096 * 3 / 2**20
    lines = ["| run | peak RSS MiB | over a 1x1 run | x the 8-bit image |", "|---|---:|---:|---:|"]
    tiny = work / "tiny.png"
    from PIL import Image

    Image.new("RGB", (1, 1)).save(tiny)
    base = _peak_rss(
        [*CONVCLI, "apply", str(tiny), "-k", "sobel-x", "-o", str(work / "t.png"), "-q"]
    )
    for kernel in ("sobel-x", "sobel", "gaussian:sigma=3"):
        peak = _peak_rss(
            [*CONVCLI, "apply", str(source), "-k", kernel, "-o", str(work / "m.png"), "-q"]
        )
        lines.append(
            f"| `-k {kernel}` | {peak:.0f} | {peak - base:.0f} | {(peak - base) / image_mib:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines


def _peak_rss(command: list[str]) -> float:
    # A fresh process each time: ru_maxrss of the waited-for child, in MiB.
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *command], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1]) / 1024


def main() -> None:
    """Measure everything and print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--skip-engine", action="store_true")
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    machine = (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}"
    )
    print(machine, flush=True)
    sections = []
    if not args.skip_engine:
        sections.append(
            ("Engine (float32, reflect borders, same output)", engine_table(args.repeats))
        )
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sections.append(
            ("Whole program: 4096x4096 RGB PNG, Sobel", program_table(args.repeats, work))
        )
        sections.append(("Peak memory, 4096x4096 RGB PNG", memory_table(work)))
    sections.append(("Start-up, whole process", startup_table()))
    if args.markdown:
        text = [f"Machine: {machine}.", ""]
        for title, lines in sections:
            text += [f"## {title}", "", *lines, ""]
        args.markdown.write_text("\n".join(text))


if __name__ == "__main__":
    main()
