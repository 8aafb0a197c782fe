"""What the tests share: the sample images, convcli run in-process, images encoded in memory.

The tests import this package by name (``pythonpath = ["tests"]`` in
pyproject.toml), so it works under every pytest import mode.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from typer.testing import CliRunner, Result

from convcli.cli import app

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"
runner = CliRunner()


def run(*args: str, stdin: bytes | None = None) -> Result:
    """Run ``convcli ARGS`` in this process; standard input is ``stdin``."""
    return runner.invoke(app, list(args), input=stdin)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """Return ``image`` encoded by Pillow as ``fmt`` (``"PNG"``, ``"JPEG"``, ...)."""
    stream = io.BytesIO()
    image.save(stream, format=fmt, **options)
    return stream.getvalue()


def save_zarr(path: Path, values: Any, chunks: tuple[int, ...], **options: Any) -> None:
    """Write ``values`` as a Zarr array at ``path``, in ``chunks`` (zarr's ``options``)."""
    import zarr

    store = zarr.open_array(store=str(path), mode="w", shape=values.shape, chunks=chunks,
                            dtype=values.dtype, **options)  # fmt: skip
    store[...] = values


def fail_zarr_writes(monkeypatch: Any, error: OSError, after: int = 2) -> None:
    """Make convcli's Zarr writer raise ``error`` once ``after`` chunks are written."""
    import zarr

    from convcli.io.arrays import ZarrRegions

    written = []

    def failing(self: ZarrRegions, region: Any, values: Any) -> None:
        if len(written) == after:
            raise error
        written.append(region)
        zarr.open_array(store=self.store, mode="r+")[region] = values

    monkeypatch.setattr(ZarrRegions, "__setitem__", failing)


def count_direct_decodes(monkeypatch: Any, decoder: str) -> list[int]:
    """Count the files (their sizes) imagecodecs' ``decoder`` decodes for a read.

    Where the read decodes them (``convcli.io.pillow``), and where a decode is
    started ahead of it (``convcli.io.readahead``).
    """
    from convcli.io import pillow, readahead

    calls: list[int] = []
    for module in (pillow, readahead):
        monkeypatch.setattr(module, decoder, _counted(getattr(module, decoder), calls))
    return calls


def _counted(decode: Any, calls: list[int]) -> Any:
    def counted(data: bytes) -> Any:
        calls.append(len(data))
        return decode(data)

    return counted
