"""The standard streams as inputs and outputs: closed, endless or full, each is one clear error."""

from __future__ import annotations

import sys
from typing import BinaryIO

from convcli.errors import InputError
from convcli.io.formats import sniff_format

_HEAD = 32


def read_standard_input(limit: int) -> bytes:
    """Read an image from standard input: its signature first, then at most ``limit`` bytes.

    A stream that is not an image (``< /dev/zero``) is refused after its
    first bytes, and one that never ends after ``limit`` bytes.
    """
    if sys.stdin is None:
        raise InputError("-: standard input is closed")
    stream = sys.stdin.buffer
    head = stream.read(_HEAD)
    if sniff_format(head) is None:
        what = "empty" if not head else "not an image convcli can read"
        raise InputError(f"-: standard input is {what}")
    rest = stream.read(limit + 1 - len(head))
    if len(head) + len(rest) > limit:
        raise InputError(
            f"-: more than {limit:,} bytes on standard input, the limit for --max-pixels"
        )
    return head + rest


def standard_output() -> BinaryIO:
    """Return standard output for an image's bytes; one clear error if it is closed."""
    if sys.stdout is None:
        raise InputError("-: standard output is closed")
    return sys.stdout.buffer


def deliver(stream: BinaryIO, data: bytes, label: str) -> None:
    """Write all of ``data`` to a stream and flush it (a reader that left: BrokenPipeError)."""
    try:
        stream.write(data)
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise InputError(f"{label}: cannot write to standard output: {error.strerror}") from None
