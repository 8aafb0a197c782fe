"""The standard streams as inputs and outputs: closed, endless or full, each is one clear error."""

from __future__ import annotations

import contextlib
import errno
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from convcli.errors import InputError, Message, reason
from convcli.io.formats import sniff_format

_HEAD = 32
# A stream may hold as many bytes as an uncompressed 16-bit RGBA image at the pixel limit.
STDIN_BYTES_PER_PIXEL = 8


def read_standard_input(limit: int) -> bytes:
    """Read an image from standard input: its signature first, then at most ``limit`` bytes.

    A stream that is not an image (``< /dev/zero``) is refused after its
    first bytes, and one that never ends after ``limit`` bytes.
    """
    if sys.stdin is None:
        raise InputError("-: standard input is closed")
    return read_stream(sys.stdin.buffer, "-: standard input", limit)


def read_special_file(path: Path, label: str, limit: int) -> bytes:
    """Read a named pipe or a device (``<(cat a.png)``, a FIFO) once, as standard input is."""
    try:
        with path.open("rb") as stream:
            return read_stream(stream, label, limit)
    except OSError as error:
        raise InputError(f"{label}: cannot read: {reason(error)}") from None


def is_special(path: Path) -> bool:
    """Whether a path names a pipe, a device or a socket: readable once, and maybe never ending."""
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
    return False


def read_stream(stream: BinaryIO, label: str, limit: int) -> bytes:
    """Read an image's bytes from a stream: the signature first, then at most ``limit`` bytes."""
    head = stream.read(_HEAD)
    if sniff_format(head) is None:
        what = "empty" if not head else "not an image convcli can read"
        raise InputError(f"{label} is {what}")
    rest = stream.read(limit + 1 - len(head))
    if len(head) + len(rest) > limit:
        raise InputError(Message("{label} holds more than {limit:,} bytes, the limit for "
                                 "{max_pixels}", label=label, limit=limit))  # fmt: skip
    return head + rest


def standard_output() -> BinaryIO:
    """Return standard output for an image's bytes; one clear error if it is closed."""
    if sys.stdout is None:
        raise InputError("-: standard output is closed")
    return sys.stdout.buffer


def deliver(stream: BinaryIO, data: bytes, label: str) -> None:
    """Write all of ``data`` to a stream and flush it (a reader that left: BrokenPipeError)."""
    try:
        rest = memoryview(data)
        while rest:  # a pipe whose reader left takes part of a write and returns short
            written = stream.write(rest) or 0
            if written <= 0:
                raise OSError(errno.EIO, "the stream took nothing")
            rest = rest[written:]
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise InputError(f"{label}: cannot write to standard output: {reason(error)}") from None
