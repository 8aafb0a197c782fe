"""convcli against the tools users would otherwise pick, in one run on the same inputs.

    pip install -e ".[bench]"                       # scipy, opencv-python-headless
    apt-get install imagemagick libvips-tools       # for the whole-program and batch tables
    python benchmarks/run.py [--repeats 5] [--markdown benchmarks/RESULTS.md]

Every figure is a median of interleaved repeats (one run of each way in
turn, then again), as wall time and as CPU time (user + system:
``getrusage`` of this process for the engine, of the waited-for child
processes for whole programs). On a shared machine CPU time is the steadier
figure. The run sets ``OPENBLAS_NUM_THREADS=1`` when it is unset (as
convcli's command line does: its matrix method calls BLAS), so one thread
is one thread.

0. The integer path: a 2048x2048 uint8 grey image, zero border, one thread,
   through ``sobel-x``, ``laplacian``, ``sharpen`` and ``box:3``: convcli
   ``method="auto"`` (the exact integer sums), ``cv2.filter2D`` (uint8 to
   CV_16S, or CV_32F for the box) and ``scipy.ndimage.correlate`` on float32;
   each result checked against the integer sums OpenCV makes.
1. Engine: float32 2048x2048 grey and 4096x4096x3 RGB, dense random and
   Gaussian kernels of 3 to 31, reflect borders, "same" output. convcli
   ``method="auto"`` on one thread and on two, ``scipy.ndimage.correlate``
   (mode "mirror"), ``cv2.filter2D`` (``cv2.sepFilter2D`` for the
   Gaussians) with ``cv2.setNumThreads(1)``. A case whose first run takes
   over 5 s runs once.
2. Whole program: one 4096x4096 RGB PNG through a horizontal Sobel kernel:
   ``convcli apply`` (default settings, and ``--range clip``: the pixels vips
   writes), ``vips conv`` at PNG level 1 and at its default level, ``convert
   -morphology Convolve Sobel``; output sizes; ``--range clip`` against vips
   at level 1 again on the image with grain. Then JPEG to JPEG (6000x4000
   and 3000x2000, quality 75), ``--range clip`` against ``vips conv``.
3. Batch: ``batch.py``'s 50 RGB PNGs of 1024x1024: ``convcli -j 2``, ``vips
   conv`` once per file, ``mogrify``.
4. Start-up: ``convcli apply`` on a 1x1 PNG, ``convcli --help``, ``convcli
   kernels list``, whole process; beside them the floor, which moves with
   the machine: ``python -c pass`` and the libraries that ``apply`` loads.
5. Peak memory of ``convcli apply -k sobel-x`` on the 4096x4096 RGB PNG,
   over a 1x1 run's.

Issue 25's targets (``TARGETS``) are marked met or not met beside each
figure, from this run's own numbers, and listed together at the end. The
other processes' CPU use during each part (from /proc/stat) is reported
with it: a part run while they were busy should be run again
(``--parts``).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from machine import cpu_name

ROOT = Path(__file__).resolve().parents[1]
SLOW = 5.0  # seconds: such a case runs once
PARTS = ("integer", "engine", "program", "jpeg", "batch", "startup", "memory")
IMAGE_MIB = 4096 * 4096 * 3 / 2**20  # the 8-bit 4096x4096 RGB image

# Issue 25's targets, as it states them: each a ratio to a reference measured in the same
# run (CPU time for the engine, wall time for whole programs), but start-up's milliseconds.
INTEGER_KERNELS = ("sobel-x", "laplacian", "sharpen", "box:3")  # 2048x2048 uint8, one thread
INTEGER_LIMITS = {"OpenCV": 3.0, "SciPy": 0.3}  # convcli over each, at most
FLOAT_LIMITS = [  # 2048x2048 float32, one thread: kernel, sizes, reference, at most
    ("dense", (5, 9, 15, 31), "SciPy", 0.4),
    ("dense", (9,), "OpenCV", 3.5),
    ("dense", (15,), "OpenCV", 2.5),
    ("gaussian", (3, 5, 9, 15, 31), "SciPy", 0.5),
]
PNG_LIMIT = 1.0  # `--range clip` over `vips conv` at compression=1: time and size, at most
JPEG_LIMITS = {(6000, 4000): 2.0, (3000, 2000): 2.5}  # over `vips conv`, at most
BATCH_LIMIT = 2.0  # vips's (once per file) and mogrify's time over `-j 2`'s, at least
MEMORY_LIMIT = 2.5  # peak memory over the 8-bit image, at most
STARTUP_LIMIT = 150  # ms: `apply` on a 1x1 PNG, at most
LIBRARIES = "import numpy, PIL.PngImagePlugin, typer, zlib_ng"  # what that `apply` loads


def convcli_command() -> list[str]:
    """Return the ``convcli`` script beside this Python (what users type), else ``python -m``."""
    script = Path(sys.executable).with_name("convcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convcli"]


CONVCLI = convcli_command()


def imagemagick(tool: str) -> str | None:
    """ImageMagick's ``tool``, from the folder that holds ``mogrify`` (not a stand-in)."""
    mogrify = shutil.which("mogrify")
    if mogrify is not None and (beside := Path(mogrify).with_name(tool)).exists():
        return str(beside)
    return shutil.which(tool)


@dataclass(frozen=True)
class Timing:
    """Median seconds of one way: wall clock and CPU (user + system)."""

    wall: float
    cpu: float


def cpu_seconds(who: int) -> float:
    """User + system seconds of this process (RUSAGE_SELF) or its waited children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def medians(
    runs: Mapping[str, Callable[[], object]], repeats: int, who: int = resource.RUSAGE_SELF
) -> dict[str, Timing]:
    """Run each callable in turn, ``repeats`` rounds; return the median times of each."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for round_number in range(repeats):
        for name, run in runs.items():
            if round_number and times[name][0][0] > SLOW:
                continue
            cpu, started = cpu_seconds(who), time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started, cpu_seconds(who) - cpu))
    return {
        name: Timing(statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in times.items()
    }


def float_limit(shape: tuple[int, ...], kind: str, size: int, reference: str) -> float | None:
    """Return the most convcli on one thread may take of ``reference``'s time, or None."""
    if shape != (2048, 2048):
        return None
    for limited, sizes, against, limit in FLOAT_LIMITS:
        if (limited, reference) == (kind, against) and size in sizes:
            return limit
    return None


class Targets:
    """Issue 25's targets, each met or not, in the order the run measured them."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, bool]] = []  # what, wanted, got, met

    def mark(
        self,
        what: str,
        value: float,
        limit: float | None,
        *,
        at_least: bool = False,
        digits: int = 2,
        unit: str = "x",
    ) -> str:
        """Format ``value`` with its verdict, ``0.31 ✓`` or ``**0.62** ✗``, and keep both.

        Without a ``limit`` (no target), the value alone.
        """
        text = f"{value:.{digits}f}"
        if limit is None:
            return text
        met = value >= limit if at_least else value <= limit
        wanted = f"{'>=' if at_least else '<='} {limit:g}{unit}"
        self.rows.append((what, wanted, f"{text}{unit}", met))
        return f"{text} ✓" if met else f"**{text}** ✗"

    def check(self, what: str, met: bool) -> str:
        """Keep a target met or not that is no number (results exact); return ✓ or ✗."""
        self.rows.append((what, "yes", "yes" if met else "no", met))
        return "yes ✓" if met else "**no** ✗"

    def table(self) -> list[str]:
        """Return the targets as a markdown table, and how many were met."""
        met = sum(row[3] for row in self.rows)
        return [
            "| target | wanted | this run | |",
            "|---|---|---:|---|",
            *(f"| {what} | {wanted} | {got} | {'met ✓' if ok else '**not met** ✗'} |"
              for what, wanted, got, ok in self.rows),
            "",
            f"{met} of {len(self.rows)} targets met.",
        ]  # fmt: skip


def _ms(t: Timing) -> str:
    digits = 0 if t.wall >= 0.1 else 1
    return f"{t.wall * 1e3:.{digits}f} / {t.cpu * 1e3:.{digits}f}"


def integer_section(repeats: int, targets: Targets) -> list[str]:
    """Compare the integer path with OpenCV and SciPy on 8-bit grey; return markdown."""
    import cv2

    import convcli
    from convcli.engine import Convolution

    cv2.setNumThreads(1)
    image = np.random.default_rng(0).integers(0, 256, (2048, 2048), dtype=np.uint8)
    lines = [
        "Each cell: wall ms / CPU ms. Ratios: convcli over OpenCV and over SciPy, CPU time. "
        f"Targets (issue 25): convcli <= {INTEGER_LIMITS['OpenCV']:g}x OpenCV and <= "
        f"{INTEGER_LIMITS['SciPy']:g}x SciPy, its results exactly the integer sums "
        "(✓ met, ✗ not met).",
        "",
        "| kernel | auto picks | convcli | OpenCV | SciPy | / OpenCV | / SciPy | exact |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in INTEGER_KERNELS:
        weights = convcli.kernel(name).matrix
        assert weights is not None  # a named kernel has its matrix
        factor = 1 / 9 if name == "box:3" else 1.0  # the box's common factor
        whole = np.rint(weights / factor).astype(np.float32)
        depth = cv2.CV_32F if name == "box:3" else cv2.CV_16S
        runs: dict[str, Callable[[], object]] = {
            "convcli": functools.partial(
                convcli.convolve, image, weights, pad_mode="zero", threads=1
            ),
            "OpenCV": functools.partial(
                cv2.filter2D, image, depth, whole, borderType=cv2.BORDER_CONSTANT
            ),
            "SciPy": functools.partial(_scipy_float32, image, weights),  # converting included
        }
        sums = np.asarray(runs["OpenCV"](), dtype=np.float32)  # the integer sums, exact
        exact = np.array_equal(np.asarray(runs["convcli"]()), sums * np.float32(factor))
        t = medians(runs, repeats)
        plan = Convolution(weights, pad_mode="zero").plan(image.shape)
        summed = plan.sum_type(image.dtype)
        picks = plan.method.value if summed is None else f"integer ({summed.name})"
        ratios = {ref: t["convcli"].cpu / t[ref].cpu for ref in INTEGER_LIMITS}
        marks = [
            targets.mark(f"integer path, `{name}`, over {ref}", ratios[ref], limit)
            for ref, limit in INTEGER_LIMITS.items()
        ]
        marks.append(targets.check(f"integer path, `{name}`, exactly the integer sums", exact))
        lines.append(
            f"| `{name}` | {picks} | {_ms(t['convcli'])} | {_ms(t['OpenCV'])} | "
            f"{_ms(t['SciPy'])} | {' | '.join(marks)} |"
        )
        print(lines[-1], flush=True)
    return lines


def _scipy_float32(image: np.ndarray, weights: np.ndarray) -> object:
    """SciPy's correlation of an 8-bit image in float32, zero border."""
    import scipy.ndimage as ndi

    return ndi.correlate(image.astype(np.float32), weights.astype(np.float32), mode="constant")


def engine_section(repeats: int, targets: Targets) -> list[str]:
    """Compare the engine with SciPy and OpenCV; return markdown."""
    import cv2

    from convcli.engine import Convolution

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    lines = [
        "Each cell: wall ms / CPU ms. Ratios: convcli on one thread over SciPy and over "
        "OpenCV on CPU time (each on one thread); convcli on two threads over SciPy on wall "
        "time. Targets (issue 25, 2048x2048, one thread): dense 5, 9, 15 and 31 <= 0.4x "
        "SciPy, dense 9 <= 3.5x and dense 15 <= 2.5x OpenCV, Gaussians of every size "
        "<= 0.5x SciPy (✓ met, ✗ not met; no mark: no target).",
        "",
        "| image | kernel | auto picks | convcli 1 thread | convcli 2 threads | SciPy | "
        "OpenCV 1 thread | 1 thr / SciPy | 2 thr / SciPy | 1 thr / OpenCV |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for shape in [(2048, 2048), (4096, 4096, 3)]:
        image = (rng.random(shape, dtype=np.float32) * 255).astype(np.float32)
        for size in (3, 5, 9, 15, 31):
            for kind in ("dense", "gaussian"):
                kernel = rng.random((size, size)) if kind == "dense" else gaussian(size)
                t = medians(_engine_runs(image, kernel, kind), repeats)
                method = Convolution(kernel).plan(shape).method.value
                ratios = {"SciPy": t["one"].cpu / t["scipy"].cpu,
                          "OpenCV": t["one"].cpu / t["opencv"].cpu}  # fmt: skip
                marks = {
                    reference: targets.mark(
                        f"float engine, {kind} {size}, one thread, over {reference}",
                        ratio,
                        float_limit(shape, kind, size, reference),
                        digits=2 if reference == "SciPy" else 1,
                    )
                    for reference, ratio in ratios.items()
                }
                lines.append(
                    f"| {'x'.join(map(str, shape))} | {kind} {size} | {method} | "
                    f"{_ms(t['one'])} | {_ms(t['two'])} | {_ms(t['scipy'])} | "
                    f"{_ms(t['opencv'])} | {marks['SciPy']} | "
                    f"{t['two'].wall / t['scipy'].wall:.2f} | {marks['OpenCV']} |"
                )
                print(lines[-1], flush=True)
    return lines


def gaussian(size: int) -> np.ndarray:
    """Sample a normalised Gaussian covering +-3 sigma."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * (size / 6) ** 2))
    return np.outer(g, g) / np.outer(g, g).sum()


def _engine_runs(
    image: np.ndarray, kernel: np.ndarray, kind: str
) -> dict[str, Callable[[], object]]:
    import cv2
    import scipy.ndimage as ndi

    from convcli.engine import convolve

    k32 = kernel.astype(np.float32)
    stacked = k32.reshape(k32.shape + (1,) * (image.ndim - 2))  # SciPy: one kernel per channel
    border = cv2.BORDER_REFLECT_101  # numpy's and convcli's reflect, SciPy's mirror
    row = k32.sum(axis=0).reshape(1, -1)  # a normalised separable Gaussian's 1-D factor

    def opencv() -> object:
        if kind == "dense":
            return cv2.filter2D(image, -1, k32, borderType=border)
        return cv2.sepFilter2D(image, -1, row, row, borderType=border)

    return {
        "one": lambda: convolve(image, kernel, threads=1),
        "two": lambda: convolve(image, kernel, threads=2),
        "scipy": lambda: ndi.correlate(image, stacked, mode="mirror"),
        "opencv": opencv,
    }


def make_big(work: Path, grain: float = 0.0) -> Path:
    """Write the 4096x4096 RGB PNG (the astronaut, enlarged) once; return its path.

    ``grain``: the standard deviation of Gaussian noise added (seed 0), as a
    photograph's sensor adds it: edge maps with detail everywhere.
    """
    from PIL import Image

    source = work / (f"grain{grain:g}.png" if grain else "big.png")
    if not source.exists():
        with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
            big = image.convert("RGB").resize((4096, 4096), Image.Resampling.BICUBIC)
        if grain:
            noise = np.random.default_rng(0).normal(0, grain, (4096, 4096, 3))
            big = Image.fromarray(np.clip(np.asarray(big) + noise, 0, 255).astype(np.uint8))
        big.save(source)
    return source


def sobel_mask(work: Path) -> Path:
    """Write the horizontal Sobel kernel as a vips matrix file; return its path."""
    mask = work / "sobel-x.mat"
    mask.write_text("3 3 1 0\n-1 0 1\n-2 0 2\n-1 0 1\n")  # width height scale offset, rows
    return mask


def _timed(
    commands: dict[str, list[str]], outputs: dict[str, Path], repeats: int
) -> tuple[dict[str, Timing], dict[str, int]]:
    """Run whole programs interleaved; return their median times and output sizes."""
    runs = {
        name: (lambda c=command: subprocess.run(c, check=True, capture_output=True))
        for name, command in commands.items()
    }
    t = medians(runs, repeats, resource.RUSAGE_CHILDREN)
    return t, {name: outputs[name].stat().st_size for name in commands}


def program_section(repeats: int, work: Path, targets: Targets) -> list[str]:
    """Compare whole programs on one 4096x4096 RGB PNG; return markdown."""
    convert = imagemagick("convert")
    if shutil.which("vips") is None or convert is None:
        return ["(skipped: vips or ImageMagick's convert missing)"]
    source, mask = make_big(work), sobel_mask(work)
    out = {name: work / f"{name}.png" for name in ("convcli", "clip", "vips1", "vips", "convert")}
    vips = ["vips", "conv", str(source)]
    vips_tail = [str(mask), "--precision", "integer"]
    apply = [*CONVCLI, "apply", str(source), "-k", "sobel-x", "-q", "-o"]
    commands = {
        "convcli": [*apply, str(out["convcli"])],
        "clip": [*apply, str(out["clip"]), "--range", "clip"],
        "vips1": [*vips, f"{out['vips1']}[compression=1]", *vips_tail],
        "vips": [*vips, str(out["vips"]), *vips_tail],
        "convert": [convert, str(source), "-define", "png:compression-level=1",
                    "-morphology", "Convolve", "Sobel", str(out["convert"])],
    }  # fmt: skip
    t, size = _timed(commands, out, repeats)
    labels = {
        "convcli": "`convcli apply big.png -k sobel-x -o out.png -q` (default settings: `abs`)",
        "clip": "`convcli apply ... --range clip` (the pixels vips writes)",
        "vips1": "`vips conv` (Sobel matrix, `--precision integer`, PNG level 1)",
        "vips": "`vips conv`, the same at its default PNG level (6)",
        "convert": "`convert -morphology Convolve Sobel` (PNG level 1)",
    }
    lines = [
        "| program | wall s | CPU s | output MB | convcli clip's wall / this | "
        "convcli clip's size / this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in labels.items():
        lines.append(
            f"| {label} | {t[name].wall:.2f} | {t[name].cpu:.2f} | {size[name] / 1e6:.1f} | "
            f"{t['clip'].wall / t[name].wall:.2f} | {size['clip'] / size[name]:.2f} |"
        )
        print(lines[-1], flush=True)
    return [*lines, "", *_grain_lines(repeats, work, t, size, targets)]


def _grain_lines(
    repeats: int, work: Path, t: dict[str, Timing], size: dict[str, int], targets: Targets
) -> list[str]:
    """Compare `--range clip` with `vips conv` at level 1 on the grainy image too; targets."""
    source, mask = make_big(work, grain=2.0), sobel_mask(work)
    out = {name: work / f"grain-{name}.png" for name in ("clip", "vips1")}
    commands = {
        "clip": [*CONVCLI, "apply", str(source), "-k", "sobel-x", "--range", "clip", "-q",
                 "-o", str(out["clip"])],
        "vips1": ["vips", "conv", str(source), f"{out['vips1']}[compression=1]", str(mask),
                  "--precision", "integer"],
    }  # fmt: skip
    grain, grain_size = _timed(commands, out, repeats)
    lines = ["Targets (issue 25): `convcli --range clip` no slower than `vips conv` at PNG "
             "level 1 (wall time), with a file no larger (✓ met, ✗ not met):", ""]  # fmt: skip
    for name, (ours, theirs, sizes) in {
        "big.png": (t["clip"], t["vips1"], size),
        "the same with grain (noise of 2 levels, seed 0)": (grain["clip"], grain["vips1"],
                                                           grain_size),
    }.items():  # fmt: skip
        image = name.split(" (")[0]
        speed = targets.mark(f"PNG, {image}: time over vips", ours.wall / theirs.wall, PNG_LIMIT)
        larger = targets.mark(
            f"PNG, {image}: size over vips", sizes["clip"] / sizes["vips1"], PNG_LIMIT
        )
        lines.append(
            f"- {name}: {ours.wall:.2f} s wall, {ours.cpu:.2f} CPU s against "
            f"{theirs.wall:.2f} s, {theirs.cpu:.2f} CPU s: {speed}; "
            f"{sizes['clip'] / 1e6:.1f} MB against {sizes['vips1'] / 1e6:.1f} MB: {larger}."
        )
        print(lines[-1], flush=True)
    return lines


def jpeg_section(repeats: int, work: Path, targets: Targets) -> list[str]:
    """JPEG to JPEG, `sobel-x --range clip`, against `vips conv`; return markdown."""
    from PIL import Image

    if shutil.which("vips") is None:
        return ["(skipped: vips missing)"]
    mask = sobel_mask(work)
    lines = [
        "| input | convcli wall s | CPU s | vips wall s | CPU s | wall ratio | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (width, height), limit in JPEG_LIMITS.items():
        source = work / f"photo{width}.jpg"
        with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
            big = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
            big.save(source, quality=75)
        out = {name: work / f"{name}{width}.jpg" for name in ("convcli", "vips")}
        commands = {
            "convcli": [*CONVCLI, "apply", str(source), "-k", "sobel-x", "--range", "clip",
                        "-q", "-o", str(out["convcli"])],
            "vips": ["vips", "conv", str(source), str(out["vips"]), str(mask), "--precision",
                     "integer"],
        }  # fmt: skip
        t, _ = _timed(commands, out, repeats)
        ratio = t["convcli"].wall / t["vips"].wall
        lines.append(
            f"| {width}x{height} (quality 75) | {t['convcli'].wall:.2f} | {t['convcli'].cpu:.2f} "
            f"| {t['vips'].wall:.2f} | {t['vips'].cpu:.2f} | "
            f"{targets.mark(f'JPEG {width}x{height}: time over vips', ratio, limit)} | "
            f"{t['convcli'].cpu / t['vips'].cpu:.2f} |"
        )
        print(lines[-1], flush=True)
    targets_text = ", ".join(f"<= {limit:g}x at {w}x{h}" for (w, h), limit in JPEG_LIMITS.items())
    return [*lines, "", f"Targets (issue 25, wall time over vips's): {targets_text} "
            "(✓ met, ✗ not met)."]  # fmt: skip


def batch_section(repeats: int, work: Path, targets: Targets) -> list[str]:
    """Filter batch.py's 50 PNGs with convcli -j 2, vips per file and mogrify; markdown."""
    from batch import commands, make_inputs, measure

    if shutil.which("vips") is None or imagemagick("mogrify") is None:
        return ["(skipped: vips or ImageMagick's mogrify missing)"]
    source = work / "batch"
    source.mkdir()
    images = 50
    make_inputs(source, images, 1024)
    every = commands(source, work / "out", 1, work)
    tools = {
        "convcli": [*every["convcli"], "-j", "2"],
        "vips": every["vips conv"],
        "mogrify": every["mogrify"],
    }
    got = measure(tools, work / "out", repeats)
    labels = {
        "convcli": "`convcli apply in -k sobel-x -o out -q -j 2` (default PNG coding)",
        "vips": "`vips conv` once per file, a shell loop (PNG level 1)",
        "mogrify": "`mogrify -morphology Convolve Sobel` (its OpenMP threads, PNG level 1)",
    }
    ours = got["convcli"]
    lines = [
        "| tool | wall s | CPU s | images/s | wall / convcli's | CPU / convcli's | output MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in labels.items():
        wall, cpu, size = got[name]
        limit = None if name == "convcli" else BATCH_LIMIT
        faster = targets.mark(f"batch of 50: {name}'s time over convcli's", wall / ours[0],
                              limit, at_least=True)  # fmt: skip
        lines.append(
            f"| {label} | {wall:.2f} | {cpu:.2f} | {images / wall:.1f} | "
            f"{faster} | {cpu / ours[1]:.2f} | "
            f"{size / 1e6:.1f} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        f"Target (issue 25): convcli >= {BATCH_LIMIT:g}x as fast as each (wall time; ✓ met, "
        "✗ not met). The outputs "
        "differ in content: `sobel-x` maps the response with `abs`, vips and mogrify clip "
        "the negative half to black.",
    ]
    return lines


def startup_section(runs_each: int, work: Path, targets: Targets) -> list[str]:
    """Whole-process start-up times, interleaved; return markdown."""
    from PIL import Image

    tiny = work / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    commands = {
        "apply 1x1": ["apply", str(tiny), "-k", "sobel-x", "-o", str(work / "t.png"), "-q"],
        "--help": ["--help"],
        "kernels list": ["kernels", "list"],
    }
    runs = {
        name: (lambda a=args: subprocess.run([*CONVCLI, *a], capture_output=True, check=True))
        for name, args in commands.items()
    }
    # The floor under any of them, which moves with the machine: Python, then the libraries.
    floors = {"python": "pass", "numpy": "import numpy", "libraries": LIBRARIES}
    for name, code in floors.items():
        runs[name] = lambda c=code: subprocess.run([sys.executable, "-c", c], check=True)
    t = medians(runs, runs_each, resource.RUSAGE_CHILDREN)
    limits = {"apply 1x1": STARTUP_LIMIT}
    labels = {
        "apply 1x1": "`convcli apply tiny.png -k sobel-x -o t.png -q` (a 1x1 PNG)",
        "--help": "`convcli --help`",
        "kernels list": "`convcli kernels list`",
        "python": "`python -c pass`",
        "numpy": "`python -c 'import numpy'`",
        "libraries": f"`python -c '{LIBRARIES}'`",
    }
    lines = [
        f"Target (issue 25): `apply` on a 1x1 PNG <= {STARTUP_LIMIT} ms, median wall time "
        "(✓ met, ✗ not met). The last three rows are the floor under every command: the "
        "interpreter, and the libraries the 1x1 `apply` loads.",
        "",
        "| command | wall ms | CPU ms |",
        "|---|---:|---:|",
    ]
    for name, label in labels.items():
        wall = targets.mark(f"start-up, `{name}`", t[name].wall * 1e3, limits.get(name),
                            digits=0, unit=" ms")  # fmt: skip
        lines.append(f"| {label} | {wall} | {t[name].cpu * 1e3:.0f} |")
        print(lines[-1], flush=True)
    return lines


def memory_section(repeats: int, work: Path, targets: Targets) -> list[str]:
    """Peak resident memory for one 4096x4096 RGB image, against its 8-bit size; markdown."""
    from PIL import Image

    source = make_big(work)
    tiny = work / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    apply = [*CONVCLI, "apply", "-k", "sobel-x", "-q", "-o"]
    bases, peaks = [], []
    for _ in range(repeats):  # interleaved, medians
        bases.append(_peak_rss([*apply, str(work / "t.png"), str(tiny)]))
        peaks.append(_peak_rss([*apply, str(work / "m.png"), str(source)]))
    base, peak = statistics.median(bases), statistics.median(peaks)
    times = (peak - base) / IMAGE_MIB
    lines = [
        "| run | peak RSS MiB | over the 1x1 run | x the 8-bit image (48 MiB) |",
        "|---|---:|---:|---:|",
        f"| `convcli apply tiny.png -k sobel-x` (1x1) | {base:.0f} | - | - |",
        f"| `convcli apply big.png -k sobel-x` (4096x4096 RGB) | {peak:.0f} | {peak - base:.0f} "
        f"| {targets.mark('peak memory, over the 8-bit image', times, MEMORY_LIMIT)} |",
        "",
        f"Medians of {repeats} runs each (4096x4096: {min(peaks):.0f} to {max(peaks):.0f} MiB). "
        f"Target (issue 25): <= {MEMORY_LIMIT:g}x the 8-bit image (✓ met, ✗ not met).",
    ]
    print("\n".join(lines), flush=True)
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


@contextmanager
def watching(notes: list[str]) -> Iterator[None]:
    """Append how much CPU other processes (and the hypervisor) took during the block."""

    def busy() -> tuple[float, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        # user nice system idle iowait irq softirq steal ...: busy, and steal, in seconds
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / tick, fields[7] / tick

    def own() -> float:
        return cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)

    (cpu, steal), mine, started = busy(), own(), time.perf_counter()
    yield
    (cpu_now, steal_now), mine_now = busy(), own()
    others = max(0.0, cpu_now - cpu - (mine_now - mine))
    notes.append(
        f"During this part ({time.perf_counter() - started:.0f} s) other processes used "
        f"about {others:.1f} CPU-seconds, the hypervisor stole "
        f"{steal_now - steal:.1f} s; load average {_load()}."
    )
    print(notes[-1], flush=True)


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def cache_bytecode(work: Path) -> str:
    """Let convcli's processes keep their bytecode (in ``work``), then start one; say so."""
    import convcli

    unset = os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # nothing written beside the source
    from PIL import Image

    Image.new("RGB", (1, 1)).save(work / "warm.png")
    warm = [*CONVCLI, "apply", str(work / "warm.png"), "-k", "sobel-x", "-o", str(work / "w.png")]
    subprocess.run([*warm, "-q"], check=True, capture_output=True)  # compiles what apply imports
    where = Path(convcli.__file__).resolve()
    install = "editable, from the checkout" if ROOT in where.parents else f"in {where.parent}"
    note = (
        f"- convcli installed {install}; its processes keep their bytecode "
        "(`PYTHONPYCACHEPREFIX` in the scratch folder, one untimed run first)"
    )
    if unset:
        note += (
            ", as an installed wheel does. This machine's environment sets "
            "`PYTHONDONTWRITEBYTECODE=1`, unset for the run: with it, an editable install "
            "compiles convcli's modules from source at every start, which no installed "
            "copy does"
        )
    return note + "."


def versions() -> str:
    """Name the versions of everything measured."""
    import cv2
    import PIL
    import scipy

    import convcli

    def first_line(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return "missing"
        return out.stdout.splitlines()[0].strip()

    magick = first_line([imagemagick("convert") or "convert", "-version"])
    magick = " ".join(magick.split()[1:4])  # "Version: ImageMagick 6.9.11-60 Q16 ..."
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, check=False,
    ).stdout.splitlines()  # fmt: skip
    dirty = [line[3:] for line in status if not line[3:].startswith("benchmarks/")]
    tree = f"{commit}, uncommitted changes in {', '.join(dirty)}" if dirty else commit
    return (
        f"convcli {convcli.__version__} ({tree}), Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, OpenCV {cv2.__version__} "
        f"(opencv-python-headless), Pillow {PIL.__version__}, {first_line(['vips', '--version'])}, "
        f"{magick}"
    )


def main() -> None:
    """Measure everything and print (and optionally write) the tables."""
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # before NumPy loads OpenBLAS: start again
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds of each comparison")
    parser.add_argument("--startup-runs", type=int, default=21)
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset")
    parser.add_argument("--markdown", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    parts = args.parts.split(",")
    command = shlex.join(["python", *sys.argv])
    started, load = datetime.datetime.now(), _load()
    header = [
        f"- Date: {started:%Y-%m-%d %H:%M}. Command: "
        f"`OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} {command}`.",
        f"- CPU: {cpu_name()}, {os.cpu_count()} CPUs (shared with other machines' work), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"{platform.system()} {platform.release()}.",
        f"- {versions()}.",
        f"- OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} for the whole run "
        "(convcli's command line sets it too: its matrix method calls BLAS).",
    ]
    print("\n".join(header), flush=True)
    titles = {
        "integer": "Integer path: 2048x2048 uint8 grey, zero border, one thread",
        "engine": "Engine: float32, reflect borders, same-size output",
        "program": "Whole program: one 4096x4096 RGB PNG, horizontal Sobel",
        "jpeg": "Whole program: JPEG to JPEG, horizontal Sobel",
        "batch": "Batch: 50 RGB PNGs of 1024x1024, horizontal Sobel",
        "startup": "Start-up, whole process",
        "memory": "Peak memory: one 4096x4096 RGB PNG",
    }
    intros = {
        "integer": f"Medians of {args.repeats} interleaved repeats. convcli "
        '`convolve(image, kernel, pad_mode="zero", threads=1)` (`method="auto"`); OpenCV '
        "`filter2D` (uint8 to `CV_16S`, or `CV_32F` with the box's integer weights), "
        "`BORDER_CONSTANT`, after `cv2.setNumThreads(1)`; SciPy `ndimage.correlate"
        '(mode="constant")` on float32. CPU time: `getrusage(RUSAGE_SELF)`.',
        "engine": f"Medians of {args.repeats} interleaved repeats (a case whose first run took "
        'over 5 s ran once). convcli `convolve(image, kernel)` (`method="auto"`) with '
        '`threads=1` and `threads=2`; SciPy `ndimage.correlate(mode="mirror")` (one '
        "kernel per channel); OpenCV `filter2D` for dense kernels and `sepFilter2D` for "
        "Gaussians, `BORDER_REFLECT_101`, after `cv2.setNumThreads(1)`. CPU time: "
        "`getrusage(RUSAGE_SELF)`.",
        "program": f"Medians of {args.repeats} interleaved runs; CPU time of each whole "
        "process (`getrusage(RUSAGE_CHILDREN)`). The input is `sample_images/astronaut.png` "
        "enlarged (bicubic) and saved by Pillow.",
        "jpeg": f"Medians of {args.repeats} interleaved runs; CPU time of each whole process. "
        "The inputs are `sample_images/astronaut.png` enlarged (bicubic) and saved by Pillow "
        "at quality 75; convcli writes with the input's own tables, vips at its default (75).",
        "batch": f"Medians of {args.repeats} interleaved rounds, made and run as "
        "`benchmarks/batch.py` does; CPU time of each whole process tree.",
        "startup": f"Medians of {args.startup_runs} interleaved runs of each; CPU time of the "
        "process.",
        "memory": "Peak resident memory (`ru_maxrss`) of a fresh `convcli` process.",
    }
    sections: list[tuple[str, list[str]]] = []
    targets = Targets()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        header.append(cache_bytecode(work))
        print(header[-1], flush=True)
        measures: dict[str, Callable[[], list[str]]] = {
            "integer": lambda: integer_section(args.repeats, targets),
            "engine": lambda: engine_section(args.repeats, targets),
            "program": lambda: program_section(args.repeats, work, targets),
            "jpeg": lambda: jpeg_section(args.repeats, work, targets),
            "batch": lambda: batch_section(args.repeats, work, targets),
            "startup": lambda: startup_section(args.startup_runs, work, targets),
            "memory": lambda: memory_section(args.repeats, work, targets),
        }
        for part in PARTS:
            if part not in parts:
                continue
            print(f"== {titles[part]}", flush=True)
            notes: list[str] = []
            with watching(notes):
                lines = measures[part]()
            sections.append((titles[part], [intros[part], "", *lines, "", *notes]))
    summary = ["Each target as the parts above marked it, from this run's numbers.", "",
               *targets.table()]  # fmt: skip
    sections.append(("Issue 25's targets", summary))
    print("\n".join(summary), flush=True)
    minutes = (datetime.datetime.now() - started).total_seconds() / 60
    header.append(
        f"- Load average at the start: {load}; at the end: {_load()}; the run took "
        f"{minutes:.0f} minutes."
    )
    print(header[-1])
    if args.markdown:
        text = ["# Benchmark results", "", *header, ""]
        for title, lines in sections:
            text += [f"## {title}", "", *lines, ""]
        args.markdown.write_text("\n".join(text))


if __name__ == "__main__":
    main()
