"""One gigapixel, tiled: ``apply BIG.tif|BIG.zarr --tile N --scheduler tcp://``, and the library.

    python benchmarks/huge.py [--size 32768] [--tiles 4096 2048] [--work /tmp/convcli-huge]
                              [--no-reference] [--reference-cap 19] [--keep]

Makes a ``--size`` x ``--size`` 8-bit grey image (32768: about one
gigapixel), a band of 512 rows at a time (a smooth pattern plus noise), so
that this script never holds it whole, and writes it twice: as an
uncompressed tiled TIFF (tiles of 512 x 512, streamed from an iterator of
tiles) and as an uncompressed Zarr array (Zarr 3, chunks of 4096 x 4096).
Then, on a local Dask cluster this script starts (two single-threaded
worker processes of 1 GiB each, Dask's nanny variable
``MALLOC_TRIM_THRESHOLD_`` removed, as convcli does), it measures

- the command line, tiled: ``convcli apply big.tif -k gaussian:sigma=3
  --tile N -o out.tif --scheduler tcp://... -q`` (``--max-pixels`` raised to
  the image's size, which the tiled path also checks), for each of
  ``--tiles``,
- the command line, Zarr to Zarr: ``convcli apply big.zarr ... --tile 4096
  -o out.zarr --scheduler tcp://...`` (float32 out, each chunk written by
  the worker that computes it),
- the library: ``convcli.distributed.convolve(da.from_zarr(...), matrix,
  pad_mode="reflect")`` stored with ``.to_zarr(...)`` (float32, Zarr's
  default compression) from this process, the cluster's client the default,
- the in-memory reference: the same ``convcli apply`` without ``--tile``
  (the whole image in one process, the cluster stopped first), which is
  killed if its processes hold more than ``--reference-cap`` GiB together.
  Should it fail otherwise (before commit 2a06fa6 convcli could not decode
  a TIFF over Pillow's 178956970-pixel bomb limit whatever ``--max-pixels``
  said, unless it was one uncompressed strip, which Pillow memory-maps
  without that check), it runs again on a copy of the same pixels as one
  uncompressed strip (written a band at a time through ``tifffile.memmap``),
  which is then the reference.

For each: wall seconds; CPU seconds of the worker processes (psutil, before
and after), of the convcli process (``getrusage(RUSAGE_CHILDREN)``) and of
this process (the scheduler and nannies, and the sampling thread); the peak
resident memory of every worker process and of the convcli process, sampled
every 0.2 s; and whether a worker was replaced (its pid changed: killed for
memory, say). Correctness: six windows of 1024 x 1024 (three corners, two
edges, the centre; the centre's and the left edge's cross tile boundaries)
of every output, read back through tifffile's Zarr view, must equal the
reference's bit for bit (the Zarr outputs' float32 after convcli's own ``clip``
mapping to 8 bits, as the command line does). The inputs are in the page
cache for every run (just written, 1 GiB each). Needs the distributed extra
(``pip install -e ".[distributed]"``), tifffile and psutil. Scratch files go
under ``--work`` and are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dask
import dask.array as da
import distributed
import numpy as np
import numpy.typing as npt
import psutil
import tifffile
import zarr
from machine import cpu_name

import convcli
from convcli.catalog.lookup import load_kernel
from convcli.distributed import convolve
from convcli.ranges import map_range

TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
ELSEWHERE = ("CONVCLI_SCHEDULER", "DASK_SCHEDULER_ADDRESS")  # would send a run to a cluster
KERNEL = "gaussian:sigma=3"
LIMIT = 2**30  # each worker's memory_limit, bytes
BAND = 512  # rows of the input made at a time, and the input TIFF's tile
CHUNK = 4096  # the input Zarr array's chunks
WINDOW = 1024  # the side of a sampled window
MIB = 2**20


@dataclass
class Run:
    """One measured run."""

    path: str
    tile: str
    wall: float = 0.0
    convcli: float = 0.0  # CPU seconds of the convcli process (0 for the library)
    workers: float = 0.0  # of the cluster's worker processes
    here: float = 0.0  # of this process: scheduler, nannies, client, the sampling thread
    peaks: dict[int, int] = field(default_factory=dict)  # worker pid: peak RSS, bytes
    process_peak: int = 0  # the convcli process (and its children), bytes
    before: list[int] = field(default_factory=list)  # worker pids
    after: list[int] = field(default_factory=list)
    failed: str = ""  # why it did not complete
    equal: str = "-"


def load() -> str:
    """Return the load averages over 1, 5 and 15 minutes."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def band(start: int, rows: int, size: int) -> npt.NDArray[np.uint8]:
    """Rows ``start`` to ``start + rows`` of the test image: smooth waves and a ramp, plus noise."""
    y = np.arange(start, start + rows, dtype=np.float32)[:, None]
    x = np.arange(size, dtype=np.float32)[None, :]
    smooth = 40 * np.sin(x / 900 + y / 1700) * np.cos(y / 1300) + 60 * (x + y) / (2 * size)
    noise = np.random.default_rng(start).normal(0, 18, (rows, size)).astype(np.float32)
    return np.clip(np.rint(100 + smooth + noise), 0, 255).astype(np.uint8)


def make_inputs(tif: Path, store: Path, size: int) -> None:
    """Write the test image as a tiled TIFF and a Zarr array, a band at a time."""
    chunk = min(CHUNK, size)
    array = zarr.create_array(store=str(store), shape=(size, size), chunks=(chunk, chunk),
                              dtype="uint8", compressors=None, overwrite=True)  # fmt: skip
    held = np.empty((chunk, size), dtype=np.uint8)  # a row of the Zarr array's chunks

    def tiles() -> Iterator[npt.NDArray[np.uint8]]:
        for start in range(0, size, BAND):
            rows = band(start, BAND, size)
            at = start % chunk
            held[at : at + BAND] = rows
            if at + BAND == chunk:
                array[start + BAND - chunk : start + BAND] = held
            for column in range(0, size, BAND):
                yield rows[:, column : column + BAND]

    with tifffile.TiffWriter(tif, bigtiff=size * size > 2**32 - 2**25) as tiff:
        tiff.write(tiles(), shape=(size, size), dtype=np.uint8, tile=(BAND, BAND),
                   photometric="minisblack", compression=None, metadata=None)  # fmt: skip


def make_one_strip(tif: Path, size: int) -> None:
    """Write the same test image as a TIFF of one uncompressed strip, a band at a time."""
    mapped = tifffile.memmap(tif, shape=(size, size), dtype=np.uint8, rowsperstrip=size,
                             photometric="minisblack", metadata=None,
                             bigtiff=size * size > 2**32 - 2**25)  # fmt: skip
    for start in range(0, size, BAND):
        mapped[start : start + BAND] = band(start, BAND, size)
        if (start + BAND) % CHUNK == 0:
            mapped.flush()
    mapped.flush()
    del mapped


class Peaks:
    """Sample the resident memory of some processes every 0.2 s, in a thread; keep the peaks.

    ``watched`` returns the processes to sample now (pids may change: a
    worker replaced). With ``cap``, the processes are killed once they hold
    more than ``cap`` bytes together.
    """

    def __init__(self, watched: Callable[[], list[int]], cap: int | None = None) -> None:
        self.watched, self.cap = watched, cap
        self.peaks: dict[int, int] = {}
        self.total = 0  # the peak of their sum
        self.capped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            now = 0
            pids = self.watched()
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    rss = psutil.Process(pid).memory_info().rss
                    self.peaks[pid] = max(self.peaks.get(pid, 0), rss)
                    now += rss
            self.total = max(self.total, now)
            if self.cap is not None and now > self.cap and not self.capped:
                self.capped = True
                for pid in pids:
                    with contextlib.suppress(psutil.Error):
                        psutil.Process(pid).kill()
            if self._stop.wait(0.2):
                return


def tree(pid: int) -> list[int]:
    """Return ``pid`` and its descendants' pids (none once it is gone)."""
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        return [pid] + [child.pid for child in process.children(recursive=True)]
    return []


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of the processes still running."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def _used(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


@dataclass
class Cluster:
    """The running cluster: its address, and its worker processes now."""

    local: distributed.LocalCluster
    client: distributed.Client

    def pids(self) -> list[int]:
        """Return the pids of the worker processes running now."""
        nannies = list(self.local.workers.values())
        return [n.process.pid for n in nannies if n.process is not None and n.process.pid]


def measured(run: Run, cluster: Cluster | None, action: Callable[[], None]) -> Run:
    """Time ``action`` into ``run``, with the cluster's workers' CPU time and memory."""
    before = cluster.pids() if cluster else []
    children = _used(resource.getrusage(resource.RUSAGE_CHILDREN))
    here = _used(resource.getrusage(resource.RUSAGE_SELF))
    theirs = cpu_seconds(before)
    with Peaks(cluster.pids if cluster else list) as workers:
        started = time.perf_counter()
        action()
        run.wall = time.perf_counter() - started
    run.convcli = _used(resource.getrusage(resource.RUSAGE_CHILDREN)) - children
    run.here = _used(resource.getrusage(resource.RUSAGE_SELF)) - here
    run.after = cluster.pids() if cluster else []
    run.before, run.peaks = before, workers.peaks
    run.workers = cpu_seconds(before) - theirs  # a replaced worker's time is lost
    return run


def command_line(run: Run, command: list[str], cluster: Cluster | None, cap: int | None) -> Run:
    """Run ``command``, sampling its memory, into ``run``."""
    env = {name: value for name, value in os.environ.items() if name not in ELSEWHERE}
    said: list[str] = []

    def action() -> None:
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        with Peaks(lambda: tree(process.pid), cap) as own:
            _, stderr = process.communicate()
        run.process_peak = own.total
        said.append(stderr.strip())
        if own.capped:
            run.failed = f"killed: its processes held over {cap / 2**30:.0f} GiB"
        elif process.returncode:
            run.failed = f"exit {process.returncode}: {stderr.strip()[-300:]}"

    measured(run, cluster, action)
    if said[0] and not run.failed:
        print(f"  convcli said: {said[0]}")
    return run


def windows(size: int) -> list[tuple[str, int, int]]:
    """Six windows: three corners, two edges and the centre (most across tile boundaries)."""
    end, middle = size - WINDOW, size // 2 - WINDOW // 2
    return [
        ("top-left", 0, 0),
        ("top-right", 0, end),
        ("bottom-right", end, end),
        ("left edge", middle + 300, 0),
        ("bottom edge", end, middle - 700),
        ("centre", middle, middle),
    ]


def tiff_window(path: Path, row: int, column: int) -> npt.NDArray[np.generic]:
    """Read one window of a TIFF's first image through tifffile's Zarr view."""
    with tifffile.TiffFile(path) as tiff:
        image = zarr.open(tiff.series[0].aszarr(), mode="r")
        return np.asarray(image[row : row + WINDOW, column : column + WINDOW])


def zarr_window(path: Path, row: int, column: int) -> npt.NDArray[np.generic]:
    """Read one window of a float32 Zarr output, mapped to 8 bits as convcli does."""
    response = zarr.open_array(str(path), mode="r")[row : row + WINDOW, column : column + WINDOW]
    return map_range(np.asarray(response), "clip", white=255, depth="uint8").values


def compare(read: Callable[[int, int], npt.NDArray[np.generic]], reference: Path, size: int) -> str:
    """Compare the sampled windows with the reference's: 'yes (6/6)', or what differs."""
    places = windows(size)
    differ = []
    for name, row, column in places:
        got, want = read(row, column), tiff_window(reference, row, column)
        if got.shape != want.shape or got.dtype != want.dtype:
            differ.append(f"{name}: {got.shape} {got.dtype} vs {want.shape} {want.dtype}")
        elif not np.array_equal(got, want):
            worst = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max())
            differ.append(f"{name}: {int((got != want).sum())} samples differ, by {worst} at most")
    if not differ:
        return f"yes ({len(places)}/{len(places)})"
    return f"NO ({len(places) - len(differ)}/{len(places)}: " + "; ".join(differ) + ")"


def mib(size: int) -> str:
    """Bytes in MiB, rounded."""
    return f"{size / MIB:.0f}"


def describe_memory(run: Run) -> str:
    """Fill the peak RSS column: every worker's, and the convcli process's."""
    parts = []
    if run.peaks and not run.path.startswith("whole"):
        parts.append("workers " + ", ".join(mib(peak) for peak in run.peaks.values()))
    if run.process_peak:
        owner = "this process" if run.path.startswith("library") else "convcli"
        parts.append(f"{owner} {mib(run.process_peak)}")
    return "; ".join(parts) or "-"


def describe_workers(run: Run) -> str:
    """Were workers replaced, and how near their limit did they come."""
    replaced = sorted(set(run.before) ^ set(run.after))
    top = max(run.peaks.values(), default=0)
    said = (f"worker pids {run.before} -> {run.after}: "
            + (f"REPLACED ({replaced})" if replaced else "none replaced"))  # fmt: skip
    said += f"; highest worker peak {mib(top)} MiB = {top / LIMIT:.0%} of the 1 GiB limit"
    for name, share in (("pause", 0.8), ("terminate", 0.95)):
        if top > share * LIMIT:
            said += f", over the {name} threshold ({share:.0%})"
    return said


def on_cluster(args: argparse.Namespace, base: list[str], outputs: dict[int, Path]) -> list[Run]:
    """Start the cluster; run the command line with each tile, then the library; stop it."""
    store, target, size = args.work / "big.zarr", args.work / "out.zarr", args.size
    matrix = load_kernel(KERNEL).matrices[0]
    runs = []
    with dask.config.set({TRIM: None}):
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", memory_limit="1GiB", silence_logs=logging.ERROR,
        )  # fmt: skip
    with local, distributed.Client(local) as client:
        cluster = Cluster(local, client)
        client.run(lambda: __import__("convcli.distributed.tiles"))  # imports, not measured
        print(f"cluster at {local.scheduler_address}: workers {cluster.pids()}", flush=True)
        for tile in args.tiles:
            out = outputs[tile] = args.work / f"out{tile}.tif"
            command = [*base, "--tile", str(tile), "-o", str(out),
                       "--scheduler", local.scheduler_address]  # fmt: skip
            run = command_line(Run("CLI --tile, tcp://", str(tile)), command, cluster, None)
            runs.append(run)
            print(f"CLI --tile {tile}: {run.wall:.1f} s {run.failed}", flush=True)
        command = [str(store) if part.endswith("big.tif") else part for part in base]
        command += ["--tile", str(CHUNK), "-o", str(args.work / "cli.zarr"),
                    "--scheduler", local.scheduler_address]  # fmt: skip
        run = command_line(Run("CLI --tile, Zarr to Zarr", str(CHUNK)), command, cluster, None)
        runs.append(run)
        print(f"CLI Zarr to Zarr: {run.wall:.1f} s {run.failed}", flush=True)

        def library() -> None:
            result = convolve(da.from_zarr(str(store)), matrix, pad_mode="reflect")
            result.to_zarr(str(target), overwrite=True)

        run = Run("library convolve, to_zarr", f"{min(CHUNK, size)} (chunks)")
        with Peaks(lambda: [os.getpid()]) as own:
            try:
                measured(run, cluster, library)
            except Exception as error:  # reported in the table
                run.failed = f"{type(error).__name__}: {error}"
        run.process_peak = own.total
        runs.append(run)
        print(f"library: {run.wall:.1f} s {run.failed}", flush=True)
    return runs


def check(runs: list[Run], args: argparse.Namespace, outputs: dict[int, Path]) -> None:
    """Fill each run's column 'equal on samples' against the whole-image run, if it completed."""
    reference, stored, cli = args.work / "ref.tif", args.work / "out.zarr", args.work / "cli.zarr"
    done = any(run.path.startswith("whole") and not run.failed for run in runs)
    for run in runs:
        if run.path.startswith("whole"):
            run.equal = "-" if run.failed else "(reference)"
        elif run.failed:
            run.equal = "no output"
        elif not done:
            run.equal = "n/a (no reference)"
        elif run.path.startswith("library"):
            run.equal = compare(lambda r, c: zarr_window(stored, r, c), reference, args.size)
        elif "Zarr" in run.path:
            run.equal = compare(lambda r, c: zarr_window(cli, r, c), reference, args.size)
        else:
            tiled = outputs[int(run.tile)]
            run.equal = compare(lambda r, c, f=tiled: tiff_window(f, r, c), reference, args.size)


def report(runs: list[Run], size: int) -> None:
    """Print the table, then the CPU time's parts, the workers and the ratios."""
    image = f"{size}x{size}"
    print()
    print(f"{image} 8-bit grey, {KERNEL} (reflect), clip to 8 bits; "
          "cluster: 2 workers x 1 thread, 1 GiB each")  # fmt: skip
    print(f"{'path':<27} {'image':<12} {'tile':<13} {'wall s':>7} {'CPU s':>7}  "
          f"{'peak RSS MiB':<32} equal on samples")  # fmt: skip
    for run in runs:
        wall = f"{run.wall:7.1f}" if not run.failed else "   fail"
        print(f"{run.path:<27} {image:<12} {run.tile:<13} {wall} {run.convcli + run.workers:7.1f}  "
              f"{describe_memory(run):<32} {run.equal}")  # fmt: skip
    print()
    print("CPU s = the convcli process (with its children) + the cluster's workers; "
          "besides, this process (scheduler, nannies, client, sampling):")  # fmt: skip
    for run in runs:
        print(f"  {run.path} {run.tile}: convcli {run.convcli:.1f}, workers {run.workers:.1f}, "
              f"this process {run.here:.1f}")  # fmt: skip
        if run.before:
            print(f"    {describe_workers(run)}")
        if run.failed:
            print(f"    did not complete: {run.failed}")
    whole = next((run for run in runs if run.path.startswith("whole") and not run.failed), None)
    for run in runs:
        if whole and run is not whole and not run.failed:
            print(f"{run.path} {run.tile}: {run.wall / whole.wall:.2f}x the whole-image run's "
                  "wall time")  # fmt: skip
    print(f"windows compared ({WINDOW}x{WINDOW}, row,column): "
          + ", ".join(f"{name} {r},{c}" for name, r, c in windows(size)))  # fmt: skip


def whole_image(args: argparse.Namespace, base: list[str]) -> list[Run]:
    """Run the whole-image reference; again on a one-strip copy if it fails, not for memory."""
    cap = int(args.reference_cap * 2**30)
    command = [*base, "-o", str(args.work / "ref.tif")]
    runs = [command_line(Run("whole image, tiled TIFF", "-"), command, None, cap)]
    print(f"whole image: {runs[0].wall:.1f} s {runs[0].failed}", flush=True)
    if runs[0].failed and not runs[0].failed.startswith("killed"):
        strip = args.work / "big-strip.tif"
        made = time.perf_counter()
        make_one_strip(strip, args.size)
        print(f"copy in one strip made in {time.perf_counter() - made:.1f} s", flush=True)
        command = [str(strip) if part == str(args.work / "big.tif") else part for part in command]
        runs.append(command_line(Run("whole image, 1-strip TIFF", "-"), command, None, cap))
        print(f"whole image, one strip: {runs[1].wall:.1f} s {runs[1].failed}", flush=True)
    return runs


def main() -> None:
    """Make the inputs, measure, compare, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32768, help="image side, a multiple of 512")
    parser.add_argument("--tiles", type=int, nargs="+", default=[4096, 2048])
    parser.add_argument("--work", type=Path, default=Path("/tmp/convcli-huge"))
    parser.add_argument("--no-reference", action="store_true", help="skip the whole-image run")
    parser.add_argument("--reference-cap", type=float, default=19.0,
                        help="GiB the whole-image run may hold before it is killed")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = parser.parse_args()
    if args.size % BAND or args.size < 2 * WINDOW:
        parser.error(f"--size must be a multiple of {BAND}, at least {2 * WINDOW}")

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs), "
          f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM; "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"convcli {convcli.__version__}, dask {dask.__version__}, distributed "
          f"{distributed.__version__}, zarr {zarr.__version__}, tifffile {tifffile.__version__}, "
          f"numpy {np.__version__}, psutil {psutil.__version__}")  # fmt: skip
    start_load = load()
    print(f"load average at start: {start_load}", flush=True)

    big = args.work / "big.tif"
    base = [sys.executable, "-m", "convcli", "apply", str(big), "-k", KERNEL, "-q",
            "--max-pixels", str(max(args.size**2, 89478485))]  # fmt: skip
    outputs: dict[int, Path] = {}
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        made = time.perf_counter()
        make_inputs(big, args.work / "big.zarr", args.size)
        print(f"inputs made in {time.perf_counter() - made:.1f} s: {big} "
              f"{big.stat().st_size / MIB:.0f} MiB, and big.zarr", flush=True)  # fmt: skip
        runs = on_cluster(args, base, outputs)
        if not args.no_reference:
            runs += whole_image(args, base)
        check(runs, args, outputs)
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    report(runs, args.size)
    print(f"load average at start: {start_load}; at end: {load()}")


if __name__ == "__main__":
    main()
