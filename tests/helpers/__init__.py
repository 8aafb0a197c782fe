"""What the tests share: the sample images, convcli run in-process, images encoded in memory.

The tests import this package by name (``pythonpath = ["tests"]`` in
pyproject.toml), so it works under every pytest import mode.
"""

from __future__ import annotations

import io
from pathlib import Path

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
