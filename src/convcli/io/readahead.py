"""An input's decode started ahead, in a thread, while the program imports the rest.

``convcli apply`` imports NumPy, Pillow, its kernels, the run and the engine
(about 0.1 s) before its pipeline reads the input. For one large PNG or JPEG
that imagecodecs decodes straight into the array
(:func:`~convcli.io.deep.direct_bytes`), the command line has its decode
started as soon as it knows the path: the header is checked here first, as
reading checks it (the size within ``--max-pixels``, a JPEG's metadata
segments); NumPy and imagecodecs are all the decode imports. imagecodecs
releases the GIL while it decodes, so the program's imports go on beside it.

The pipeline's read (:func:`convcli.io.pillow`'s direct decode) takes the
array, once, for the same file: the same device, inode, size, modification
and change times as when its header was read here. A file changed since, a
decode that failed, a file read another way: the pipeline reads and decodes
as ever, so every error and exit code is its own. The one handoff lives in
:func:`read_ahead`'s block only: the library, called from Python, never
finds one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.choices import FileFormat
from convcli.errors import InputError
from convcli.io.deep import (
    DIRECT_PIXELS,
    codec,
    decode_jpeg,
    decode_png,
    direct_bytes,
    jpeg_frame,
)
from convcli.io.formats import sniff_format
from convcli.limits import PILLOW_MAX_PIXELS

_HEAD = 26  # a PNG's signature and IHDR up to its colour type; a JPEG's SOI
# The decoders take the GIL back now and then (measured: libjpeg-turbo's most); beside the
# imports, which hold it, each such wait lasts Python's switch interval (5 ms): a 6000x4000
# JPEG's decode took 125 ms instead of 47. At 1 ms it takes its own time.
SWITCH_SECONDS = 0.001
_JPEG_COMPONENTS = (1, 3)  # grey, colour: Pillow's L and RGB (CMYK is Pillow's, as inks)


class _Decode:
    """One file's decode, started in a thread: the file as its header was read, and its pixels.

    The caller waits while the thread reads the file and checks it (Python's
    work, which the GIL would otherwise hand back and forth between the two
    every few milliseconds); it goes on once the decoder has let the GIL go.
    A plain class: a dataclass's methods are compiled at every start.
    """

    def __init__(self, path: Path, identity: tuple[int, ...], jpeg: bool, pixels: int) -> None:
        self.path, self.identity, self.jpeg, self.pixels = path, identity, jpeg, pixels
        self.array: npt.NDArray[np.generic] | None = None
        self._decoding = threading.Event()
        self.thread = threading.Thread(target=self._decode, name="convcli read-ahead", daemon=True)
        self.thread.start()
        self._decoding.wait()

    def _decode(self) -> None:
        try:
            data = direct_bytes(self.path, self.jpeg, self.pixels)
            if data is None or _identity(self.path.stat()) != self.identity:
                return
            codec(self.jpeg)  # its library loaded while the caller waits (an import holds the GIL)
            interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_SECONDS)
            self._decoding.set()
            try:
                self.array = decode_jpeg(data) if self.jpeg else decode_png(data)
            finally:
                sys.setswitchinterval(interval)
        except Exception:  # a broken file: the pipeline reads it again, and says what is wrong
            return
        finally:
            self._decoding.set()


_pending: _Decode | None = None  # the one decode started, within read_ahead's block


@contextlib.contextmanager
def read_ahead(path: str | None, max_pixels: int | None) -> Iterator[None]:
    """Decode the file at ``path`` in a thread, within this block, if imagecodecs decodes it whole.

    ``path`` None, or a file Pillow decodes (small, palette, CMYK...), or one
    over ``max_pixels`` (None: Pillow's limit): nothing is started. The block
    ends with the thread's end, so the process ends with its one thread; an
    error (a kernel misspelt) does not wait for the decode, which ends with
    the process.
    """
    global _pending
    pending = None if path is None else _started(Path(path), max_pixels or PILLOW_MAX_PIXELS)
    _pending = pending
    try:
        yield
    finally:
        _pending = None
    if pending is not None:
        pending.thread.join()


def decoded_ahead(source: Path, pixels: int) -> npt.NDArray[np.generic] | None:
    """Take the pixels decoded ahead, if ``source`` is the very file they were decoded from.

    ``pixels``: the picture's, as the reader found them in its header: the
    same bytes and size, the same choice of decoder. Once: the handoff is
    empty after. Waits for the decode to end (the caller would otherwise
    decode the file itself). None where there is none, the file has
    changed, or its decode failed.
    """
    global _pending
    pending = _pending
    if pending is None or pending.pixels != pixels:
        return None
    try:
        if _identity(source.stat()) != pending.identity:
            return None
    except OSError:
        return None
    _pending = None
    pending.thread.join()
    return pending.array


def _started(path: Path, max_pixels: int) -> _Decode | None:
    """Check a file's header as reading would; start its decode if imagecodecs would make it."""
    try:
        # A file alone: a named pipe, even opened, would lose its bytes or its writer.
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        with path.open("rb") as stream:
            found = os.fstat(stream.fileno())
            head = stream.read(_HEAD)
            kind = sniff_format(head)
            if kind not in (FileFormat.PNG, FileFormat.JPG):
                return None
            size = _png_size(head) if kind == FileFormat.PNG else _jpeg_size(stream, str(path))
    except (OSError, ValueError, InputError):  # the pipeline says what is wrong, or refuses it
        return None
    pixels = 0 if size is None else size[0] * size[1]
    # Fewer: Pillow's (decoded before imagecodecs would load); more: refused, unread.
    if not DIRECT_PIXELS <= pixels <= max_pixels:
        return None
    try:
        return _Decode(path, _identity(found), kind == FileFormat.JPG, pixels)
    except RuntimeError:  # no thread to be had: the pipeline decodes, as ever
        return None


def _png_size(head: bytes) -> tuple[int, int] | None:
    """Return a PNG's width and height, from its IHDR chunk (always the first)."""
    if len(head) < _HEAD or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", head, 16)
    return width, height


def _jpeg_size(stream: BinaryIO, label: str) -> tuple[int, int] | None:
    """Return an 8-bit grey or colour JPEG's width and height, its metadata checked first."""
    frame = jpeg_frame(stream, label)
    if frame is None:
        return None
    width, height, components, bits = frame
    return (width, height) if components in _JPEG_COMPONENTS and bits == 8 else None


def _identity(found: os.stat_result) -> tuple[int, ...]:
    """Return what tells a file from another, or from itself rewritten."""
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)
