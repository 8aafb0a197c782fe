"""What a C library prints around Python, caught: convcli's one line on stderr stays one line.

OpenEXR's core writes a corrupt file's errors to standard error (its binding
a warning to standard output), and LibRaw a short read or corrupt data; their
lines would stand beside convcli's. They are caught while the library works,
and given to the caller to say the convcli way (in its error, or as a note).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def printed(name: str = "") -> Iterator[list[str]]:
    """Catch what is printed on file descriptors 1 and 2, as lines, each without ``name``.

    ``name`` is how the library names the stream it reads (OpenEXR's
    ``"<python_buffer>: "``, LibRaw's ``"unknown file: "``): not the file's.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    heard: list[str] = []
    with tempfile.TemporaryFile() as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield heard
        finally:
            ctypes.CDLL(None).fflush(None)  # C's buffered standard output, into the sink
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            text = sink.read(1 << 16).decode("utf-8", "replace")
            heard += [line.strip().removeprefix(name) for line in text.splitlines() if line.strip()]
