"""The contract every input keeps, however broken: checked through the real entry point.

Shared by the fuzz tests (a fixed number of hypothesis examples, in CI) and
the long campaign (``tests/fuzz_campaign.py``, atheris). Whatever the input:

- the exit code is 0, 1 or 2, and nothing escapes the program's error boundary;
- nothing is written to the C standard error beside Python's (libtiff's own lines);
- standard error holds only ``convcli: ...`` lines: no traceback, no
  "internal error" (a bug that reached the boundary);
- exit 2 (a usage error) writes nothing;
- nothing is written outside the folder the run is given (the working
  directory included), nothing there is removed, no temporary file is left,
  and every file written decodes.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from convcli.cli import app
from helpers import runner

OK, FAILED, USAGE = 0, 1, 2
# Small limits keep every example fast: a mutated header may claim any size.
FUZZ_MAX_PIXELS = "200000"


class ContractBroken(AssertionError):
    """The program broke its contract on some input."""


def run_and_check(args: list[str], folder: Path, stdin: bytes | None = None) -> Any:
    """Run ``convcli ARGS`` in-process with ``folder`` as the only place it may write."""
    before = {path.name for path in folder.iterdir()}
    here = Path.cwd()
    around = set(here.iterdir()) if here != folder else set()
    with c_stderr() as heard:  # what C libraries (libtiff) write around Python's sys.stderr
        result = runner.invoke(app, args, input=stdin)
    check_result(result, args)
    if heard:
        raise ContractBroken(f"convcli {' '.join(args)[:300]!r}: C stderr said {heard[0]!r}")
    escaped = set(here.iterdir()) - around if here != folder else set()
    if escaped:
        names = ", ".join(sorted(path.name for path in escaped))
        raise ContractBroken(f"convcli {' '.join(args)[:300]!r}: wrote {names} outside {folder}")
    now = {path.name for path in folder.iterdir()}
    if gone := before - now:  # convcli removes only its own temporary files
        raise ContractBroken(f"convcli {' '.join(args)[:300]!r}: removed {sorted(gone)}")
    written = [path for path in folder.iterdir() if path.name not in before]
    check_outputs(written, result, args)
    return result


@contextlib.contextmanager
def c_stderr() -> Any:
    """Collect what is written to file descriptor 2 while the block runs."""
    heard: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield heard
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            heard.extend(line for line in sink.read().decode("utf-8", "replace").splitlines()
                         if line.strip())  # fmt: skip


def apply_to_bytes(content: bytes, folder: Path, name: str, options: list[str]) -> Any:
    """Write ``content`` as input ``name`` in a fresh ``folder`` and filter it with ``box``."""
    fresh_folder(folder)
    source = folder / name
    source.write_bytes(content)
    given = options.index("--format") + 1 if "--format" in options else None
    suffix = f".{options[given]}" if given else source.suffix  # -o and --format must agree
    args = ["apply", str(source), "-k", "box", "-o", str(folder / f"out{suffix}"),
            "-j", "1", "-q", "--max-pixels", FUZZ_MAX_PIXELS, *options]  # fmt: skip
    return run_and_check(args, folder)


def check_result(result: Any, args: list[str]) -> None:
    where = f"convcli {' '.join(args)[:300]!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise ContractBroken(
            f"{where}: {type(result.exception).__name__} escaped: {result.exception}"
        )
    if result.exit_code not in (OK, FAILED, USAGE):
        raise ContractBroken(f"{where}: exit code {result.exit_code}")
    for line in result.stderr.splitlines():
        if not line.startswith("convcli: ") or "internal error" in line:
            raise ContractBroken(f"{where}: stderr line {line[:300]!r}")
    if "Traceback" in result.stdout:
        raise ContractBroken(f"{where}: a traceback on stdout")


def check_outputs(written: list[Path], result: Any, args: list[str]) -> None:
    where = f"convcli {' '.join(args)[:300]!r}"
    for path in written:
        if path.name.endswith(".part"):
            raise ContractBroken(f"{where}: left a temporary file {path.name}")
        if result.exit_code == USAGE:
            raise ContractBroken(f"{where}: exit 2 but wrote {path.name}")
        if not decodes(path):
            raise ContractBroken(f"{where}: wrote {path.name}, which does not decode")


def decodes(path: Path) -> bool:
    try:
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
            return True
        if path.suffix in (".avif", ".jxl", ".jp2", ".j2k", ".qoi"):  # imagecodecs' formats
            import imagecodecs

            imagecodecs.imread(path)
            return True
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, ValueError, SyntaxError, RuntimeError):
        if path.suffix == ".tif":  # float colour: tifffile reads what Pillow cannot
            import tifffile

            with contextlib.suppress(ValueError, tifffile.TiffFileError):
                tifffile.imread(path)
                return True
        return False


def fresh_folder(folder: Path) -> Path:
    """Empty ``folder`` (made if missing) for the next example."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# --- inputs to mutate -------------------------------------------------------------


def png_bytes(shape: tuple[int, ...] = (6, 5, 3), seed: int = 0) -> bytes:
    """A small valid PNG: the seed of the structured mutations."""
    rng = np.random.default_rng(seed)
    stream = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(stream, format="PNG")
    return stream.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, body) chunks; stops at the first chunk that does not fit."""
    chunks, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Join chunks into a PNG with correct lengths and CRCs, so a decoder reads on."""
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        parts.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(parts)


KERNEL_TOML = """\
[soft]
description = "a soft blur"
matrix = [[1, 2, 1],
          [2, 4, 2],
          [1, 2, 1]]
scale = "normalize"
bias = 0.5
range = "clip"
tags = ["blur"]

[grad]
combine = "magnitude"
components = ["sobel-x", "sobel-y"]
"""
