"""A long, coverage-guided fuzz campaign with atheris (not part of the test suite).

Each input drives one of four targets through the real entry point and the
contract of ``tests/contract.py``: the bytes as an image file, the bytes
spliced into a valid PNG's chunks (lengths and CRCs kept right), the bytes as
a kernel file, and the bytes as the value of an option. A broken contract
stops the campaign with the input saved as ``crash-*``.

    pip install atheris
    cd tests && python fuzz_campaign.py -max_total_time=600 -len_control=0 -max_len=8192 \
        -rss_limit_mb=3072 -artifact_prefix=/tmp/ corpus/

(The options are libFuzzer's; ``-atheris_runs=N`` runs N inputs instead.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

# The numeric modules are loaded first, uninstrumented: atheris's comparison tracing
# keeps the arrays of every `<` alive (the first campaign grew by 370 MB a run on large
# paddings and hit its memory limit). Coverage should guide the parsers.

with atheris.instrument_imports():
    import PIL.PngImagePlugin
    import PIL.TiffImagePlugin  # noqa: F401


from helpers.contract import (
    USAGE,
    ContractBroken,
    apply_to_bytes,
    fresh_folder,
    png_bytes,
    png_chunks,
    png_from_chunks,
    run_and_check,
)

FOLDER = Path(tempfile.mkdtemp(prefix="convcli-fuzz-")) / "run"
VALID_PNG = png_bytes()
OPTIONS = ["-p", "-s", "-d", "--pad-mode", "--pad-value", "--range", "--method", "--format",
           "--max-pixels", "--compress-level", "-k"]  # fmt: skip
SUFFIXES = [".png", ".jpg", ".tif", ".gif", ".bmp", ".webp", ".npy"]


def image_file(data: atheris.FuzzedDataProvider) -> None:
    suffix = SUFFIXES[data.ConsumeIntInRange(0, len(SUFFIXES) - 1)]
    _apply(data.ConsumeBytes(data.remaining_bytes()), suffix, [])


def spliced_png(data: atheris.FuzzedDataProvider) -> None:
    chunks = png_chunks(VALID_PNG)
    index = data.ConsumeIntInRange(0, len(chunks) - 1)
    kind, body = chunks[index]
    at = data.ConsumeIntInRange(0, len(body))
    cut = data.ConsumeIntInRange(0, len(body) - at)
    chunks[index] = (kind, body[:at] + data.ConsumeBytes(data.remaining_bytes()) + body[at + cut :])
    _apply(png_from_chunks(chunks), ".png", ["--gray"] if cut % 2 else [])


def kernel_file(data: atheris.FuzzedDataProvider) -> None:
    folder = fresh_folder(FOLDER)
    (folder / "in.png").write_bytes(VALID_PNG)
    (folder / "k.toml").write_bytes(data.ConsumeBytes(data.remaining_bytes()))
    args = ["apply", str(folder / "in.png"), "-k", str(folder / "k.toml"), "-o",
            str(folder / "o.png"), "-q"]  # fmt: skip
    result = run_and_check(args, folder)
    if result.exit_code not in (0, USAGE):
        raise ContractBroken(f"a kernel file gave exit {result.exit_code}: {result.stderr}")


def option_value(data: atheris.FuzzedDataProvider) -> None:
    option = OPTIONS[data.ConsumeIntInRange(0, len(OPTIONS) - 1)]
    value = data.ConsumeUnicodeNoSurrogates(data.remaining_bytes())
    folder = fresh_folder(FOLDER)
    (folder / "in.png").write_bytes(VALID_PNG)
    args = ["apply", str(folder / "in.png"), "-o", str(folder / "o.png"), "-q", option, value]
    args += ["-k", "box"] if option != "-k" else []
    result = run_and_check(args, folder)
    refused = option == "--max-pixels" and result.exit_code == 1  # the input is over the limit
    if result.exit_code not in (0, USAGE) and not refused:
        raise ContractBroken(f"{option} {value!r} gave exit {result.exit_code}: {result.stderr}")


def _apply(content: bytes, suffix: str, options: list[str]) -> None:
    result = apply_to_bytes(content, FOLDER, f"in{suffix}", options)
    if result.exit_code not in (0, 1):
        raise ContractBroken(f"an input file gave exit {result.exit_code}: {result.stderr}")


TARGETS = [image_file, spliced_png, kernel_file, option_value]


def one_input(raw: bytes) -> None:
    data = atheris.FuzzedDataProvider(raw)
    TARGETS[data.ConsumeIntInRange(0, len(TARGETS) - 1)](data)


if __name__ == "__main__":
    # Run from a folder of its own: the contract checks that nothing is written in the
    # working directory, and a developer's editor may be writing in this one.
    arguments = [arg if arg.startswith("-") else str(Path(arg).resolve()) for arg in sys.argv[1:]]
    os.chdir(FOLDER.parent)
    atheris.Setup([sys.argv[0], *arguments], one_input)
    atheris.Fuzz()
