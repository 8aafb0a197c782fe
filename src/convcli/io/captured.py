"""What a C library writes around Python, on the standard output or error, caught as lines.

libtiff (under Pillow) and OpenEXR report a corrupt file on the C streams,
not through Python: their lines would stand beside convcli's one line. Their
readers catch them here, and say them the convcli way (a note, or the reason
of the error).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_KEPT = 1 << 16  # bytes of a library's lines read back: the first lines say why


@contextlib.contextmanager
def captured(*fds: int) -> Iterator[list[str]]:
    """Send what is written on ``fds`` (1, 2) in the block to a file; yield its lines.

    The list is filled when the block ends, however it ends. Lines with a
    terminal's escape codes (a progress display drawn meanwhile by another
    thread) are left out: they are not the library's.
    """
    import tempfile  # for the readers of those formats only

    # A stream closed when convcli started has nothing to catch, and its descriptor may
    # be another file's now (the input's, say).
    streams = {fd: sys.stdout if fd == 1 else sys.stderr for fd in fds}
    for stream in streams.values():
        if stream is not None:
            stream.flush()
    saved = {fd: os.dup(fd) for fd, stream in streams.items() if stream is not None}
    heard: list[str] = []
    with tempfile.TemporaryFile() as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield heard
        finally:
            if 1 in saved:
                import ctypes

                ctypes.CDLL(None).fflush(None)  # C's buffered standard output, into the sink
            for fd, copy in saved.items():
                with contextlib.suppress(OSError):
                    os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            text = sink.read(_KEPT).decode("utf-8", "replace")
            heard += [line.strip() for line in text.splitlines() if _said(line)]


def _said(line: str) -> bool:
    return bool(line.strip()) and "\x1b" not in line
