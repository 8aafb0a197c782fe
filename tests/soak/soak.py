"""Soak convcli with real processes, by hand (not in CI): batches that must end, runs that collide.

    python tests/soak/soak.py pool --batches 300
    python tests/soak/soak.py concurrent --seconds 300

``pool`` runs many small ``-j 2`` batches one after another and counts any
that does not end within its timeout (a hung worker pool). ``concurrent``
starts several convcli processes at once over one input folder, all writing
into one output folder, interrupts some at random times (SIGINT or SIGTERM),
and afterwards checks that every output decodes, that no temporary file is
left, and that the foreign files planted in the output folder (another run's
temporary file, a user's file) are untouched.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CONVCLI = [sys.executable, "-m", "convcli"]
KERNELS = ["box", "sobel", "gaussian:sigma=2", "sharpen", "laplacian"]


def make_inputs(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        base = np.asarray(image.convert("RGB").resize((size, size)))
    for index in range(count):
        Image.fromarray(np.roll(base, 7 * index, axis=1)).save(folder / f"img{index:03d}.png")


def environment() -> dict[str, str]:
    # Each process its own run token, as separate shell commands would have.
    return {key: value for key, value in os.environ.items() if key != "CONVCLI_RUN"}


def pool(batches: int, timeout: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="convcli-soak-pool-"))
    make_inputs(work / "in", 6, 96)
    hung = failed = 0
    started = time.monotonic()
    for number in range(batches):
        out = work / f"out{number % 4}"
        try:
            result = subprocess.run([*CONVCLI, "apply", str(work / "in"), "-k", "box", "-o",
                                     str(out), "-j", "2", "-q"], env=environment(),
                                    capture_output=True, timeout=timeout)  # fmt: skip
            if result.returncode != 0:
                failed += 1
                print(f"batch {number}: exit {result.returncode}: {result.stderr.decode()[:300]}")
        except subprocess.TimeoutExpired:
            hung += 1
    seconds = time.monotonic() - started
    print(f"pool: {batches} batches of 6 images with -j 2 in {seconds:.0f} s: "
          f"{hung} hung (over {timeout:.0f} s), {failed} failed")  # fmt: skip
    return 1 if hung or failed else 0


def concurrent(seconds: float, processes: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="convcli-soak-concurrent-"))
    make_inputs(work / "in", 24, 384)
    out = work / "out"
    out.mkdir()
    foreign = [out / ".img000_box.png.someoneelse.0badcafe.part", out / "mine.txt"]
    for path in foreign:
        path.write_bytes(b"not convcli's")
    rng = random.Random(13)
    runs = interrupted = problems = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = []
        for _ in range(processes):
            kernel = rng.choice(KERNELS)
            command = [*CONVCLI, "apply", str(work / "in"), "-k", kernel, "-o", str(out), "-q",
                       "-j", str(rng.choice([1, 2])), "--name", f"{{stem}}_{{tag}}_{rng.randrange(3)}{{suffix}}"]  # fmt: skip
            started.append(subprocess.Popen(command, env=environment(), stderr=subprocess.PIPE))
        for process in started:
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0.05, 1.5))
                process.send_signal(rng.choice([signal.SIGINT, signal.SIGTERM]))
                interrupted += 1
        for process in started:
            _, stderr = process.communicate(timeout=300)
            runs += 1
            text = stderr.decode(errors="replace")
            # -2, -15: stopped before Python had loaded convcli (no handler yet, nothing written)
            if process.returncode not in (0, 1, 2, 130, 143, -2, -15) or "internal error" in text:
                problems += 1
                print(f"exit {process.returncode}: {text.strip()[:300]}")
    left = [path.name for path in out.iterdir() if path.name.endswith(".part")
            and path not in foreign]  # fmt: skip
    broken = []
    for path in out.glob("*.png"):
        try:
            with Image.open(path) as image:
                image.load()
        except OSError:
            broken.append(path.name)
    kept = all(path.exists() for path in foreign)
    print(f"concurrent: {runs} runs ({processes} at a time, {interrupted} interrupted) in "
          f"{seconds:.0f} s; {len(list(out.glob('*.png')))} outputs, {len(broken)} broken, "
          f"{len(left)} temporary files left, foreign files kept: {kept}, problems: {problems}")  # fmt: skip
    return 1 if broken or left or not kept or problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    pool_parser = sub.add_parser("pool")
    pool_parser.add_argument("--batches", type=int, default=300)
    pool_parser.add_argument("--timeout", type=float, default=60)
    concurrent_parser = sub.add_parser("concurrent")
    concurrent_parser.add_argument("--seconds", type=float, default=300)
    concurrent_parser.add_argument("--processes", type=int, default=4)
    arguments = parser.parse_args()
    if arguments.mode == "pool":
        return pool(arguments.batches, arguments.timeout)
    return concurrent(arguments.seconds, arguments.processes)


if __name__ == "__main__":
    sys.exit(main())
