"""Atomic file writes: a temporary file in the destination folder, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _file_mode() -> int:
    # mkstemp creates 0600; the output should get the permissions any new file would.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file so that it appears whole or not at all.

    ``write`` fills a temporary file beside ``path``; only when it returns is
    the file renamed over ``path``. If anything fails or is interrupted, the
    temporary file is removed and an existing ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_atomically(target, lambda stream: stream.write(b"done"))
    >>> target.read_bytes()
    b'done'
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    os.close(descriptor)  # reopened by name: writers such as tifffile want a named file
    try:
        with open(temporary, "wb") as stream:
            write(stream)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
