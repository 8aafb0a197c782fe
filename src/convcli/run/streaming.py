"""Writing a picture while it is filtered: the encoder takes its rows as they are made.

The last stage maps its response to the output's samples a band of rows at
a time (:mod:`convcli.run.pipeline`). Run one after the other, filtering
and encoding each keep one core busy in turn; here the encoder runs in a
thread beside the filtering and reads each band once it is final. The PNG
writer compresses its groups of rows while the later bands are filtered
(:mod:`convcli.io.png`); for JPEG, Pillow's image is filled band by band,
so only the encoding itself waits for the last band. The file is the same,
byte for byte, as when it is written after the filtering: the same encoder,
the same settings, the same groups whatever the threads. It is still
written atomically, and a failure on either side leaves no file.

A picture is written so where that can pay and is simple: one picture (not
an animation or a stack) of a megabyte of samples or more, PNG or JPEG, one
or three channels without alpha or a colour map, more than one thread
allowed, and the output's folder already there (a batch makes a missing one
only once its input is filtered).
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.choices import FileFormat
from convcli.io.metadata import Metadata
from convcli.io.picture import Picture
from convcli.run.model import InputPlan, Settings
from convcli.run.output import write_output

STREAMED = (FileFormat.PNG, FileFormat.JPG)
SMALLEST = 1 << 20  # bytes of samples: a smaller output is encoded after, as quickly


class Abandoned(Exception):
    """The rows will not all come (the filtering failed), or the writer stopped."""


class Rows:
    """An output's samples, how many of its rows are final, and how many the writer has taken.

    The rows a writer has taken are let go as it goes (their memory given
    back to the system, in whole pages): they read as zeros afterwards. So
    the output's array does not stay whole beside the input while the
    encoder lags behind the filtering.

    Examples
    --------
    >>> rows = Rows((4, 2), np.dtype(np.uint8))
    >>> rows.values[:] = 7
    >>> rows.finish(4)
    >>> rows.wait(4)
    >>> rows.abandon()
    >>> rows.wait(4)
    Traceback (most recent call last):
    ...
    convcli.run.streaming.Abandoned: the output's rows will not all come
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        size = math.prod(shape) * dtype.itemsize
        # A private anonymous mapping: its pages are given back with madvise (a shared
        # one's would stay), and are large pages where the system has them.
        self._memory = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            self._memory.madvise(mmap.MADV_HUGEPAGE)
        self.values: npt.NDArray[np.generic] = np.frombuffer(
            self._memory, dtype, count=math.prod(shape)
        ).reshape(shape)
        self._let_go = 0  # bytes given back, from the start
        self._final = 0
        self._abandoned = False
        self._changed = threading.Condition()

    def finish(self, stop: int) -> None:
        """Say that the first ``stop`` rows are final; raise :class:`Abandoned` if no one waits."""
        with self._changed:
            if self._abandoned:
                raise Abandoned("the output's writer stopped")
            self._final = stop
            self._changed.notify_all()

    def complete(self) -> bool:
        """Whether every row was said final."""
        with self._changed:
            return self._final >= len(self.values)

    def abandon(self) -> None:
        """Say that the rows will not all come, or are no longer wanted: both sides stop."""
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()

    def taken(self, stop: int) -> None:
        """Say the writer needs the first ``stop`` rows no longer: their whole pages are let go."""
        end = stop * self.values.strides[0] // mmap.PAGESIZE * mmap.PAGESIZE if stop else 0
        if end > self._let_go and hasattr(mmap, "MADV_DONTNEED"):
            self._memory.madvise(mmap.MADV_DONTNEED, self._let_go, end - self._let_go)
            self._let_go = end

    def wait(self, stop: int) -> None:
        """Return once the first ``stop`` rows are final; raise :class:`Abandoned` if never."""
        with self._changed:
            while not self._abandoned and self._final < stop:
                self._changed.wait()
            if self._abandoned:
                raise Abandoned("the output's rows will not all come")


class Writer:
    """Writes one input's output in a thread while its last stage is filtered, where it can.

    Parameters are :func:`convcli.run.pipeline.process`'s: where the output
    goes, the settings, how it is named in messages, the threads allowed.
    """

    def __init__(
        self, target: Path | BinaryIO, settings: Settings, label: str, threads: int | None
    ) -> None:
        self.target, self.settings, self.label, self.threads = target, settings, label, threads
        self._thread: threading.Thread | None = None
        self._rows: Rows | None = None
        self._error: BaseException | None = None

    @staticmethod
    def wanted(target: Path | BinaryIO, threads: int | None, make_folder: bool) -> bool:
        """Whether an output may be written beside its filtering: threads and folder allow it."""
        cores = threads or os.cpu_count() or 1
        folder_missing = make_folder and isinstance(target, Path) and not target.parent.is_dir()
        return cores > 1 and not folder_missing

    def start(self, picture: Picture, planned: InputPlan, metadata: Metadata) -> Rows | None:
        """Start writing the picture's output; return the rows to fill, or None: written after."""
        shape = planned.stages[-1].geometry.output_shape
        channels = 1 if len(shape) == 2 else shape[-1]
        several = self.settings.frame is None and picture.frames > 1
        simple = picture.alpha is None and not self.settings.colormap and not several
        small = math.prod(shape) * np.dtype(planned.depth).itemsize < SMALLEST
        if not simple or small or planned.format.name not in STREAMED or channels not in (1, 3):
            return None
        self._rows = Rows(shape, np.dtype(planned.depth))
        self._thread = threading.Thread(
            target=self._write, args=(self._rows, planned, metadata), name="convcli-writer"
        )
        self._thread.start()
        return self._rows

    def _write(self, rows: Rows, planned: InputPlan, metadata: Metadata) -> None:
        try:
            write_output(self.target, rows.values, None, planned.format, self.settings, metadata,
                         self.label, self.threads, arriving=rows)  # fmt: skip
        except BaseException as error:  # told in the filtering's thread, by wrote()
            self._error = error
            rows.abandon()

    def wrote(self) -> bool:
        """Wait for the output started to be written; False if none was. Raise what stopped it."""
        if self._thread is None:
            return False
        try:
            self._thread.join()
        except BaseException:  # interrupted: the writer stops at its next band, if any is left
            if self._rows is not None:
                self._rows.abandon()
            raise
        if self._error is not None and not isinstance(self._error, Abandoned):
            raise self._error
        return True

    @contextlib.contextmanager
    def filling(
        self, picture: Picture, planned: InputPlan, metadata: Metadata
    ) -> Iterator[Rows | None]:
        """Start the writer (see :meth:`start`) for the block that fills its rows.

        If the block fails, the writer is stopped (its file removed) and the
        writer's own error, if it failed first, is raised in place of the
        block's. If it ends without saying every row final (a stage that makes
        its output otherwise), the writer is stopped and forgotten: the output
        is written after the filtering, as without one.
        """
        rows = self.start(picture, planned, metadata)
        try:
            yield rows
        except BaseException:
            if rows is None:
                raise
            if (error := self._stop()) is not None:
                raise error from None
            raise
        if rows is not None and not rows.complete():  # made elsewhere: written after, as usual
            self._stop()

    def _stop(self) -> BaseException | None:
        """Stop the writer (its file removed) and forget it; return its own error, if any."""
        assert self._rows is not None, "started"
        assert self._thread is not None, "started with its rows"
        self._rows.abandon()
        self._thread.join()
        error = None if isinstance(self._error, Abandoned) else self._error
        self._thread = self._rows = self._error = None
        return error
