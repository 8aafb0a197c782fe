"""The formats convcli reads and writes beside Pillow (itself, or through an extra): one table each.

A decoder reads a header (:class:`~convcli.io.layout.Layout`), which the
caller checks, and then the frames; an extra a format needs is named, so that
a missing one fails that input alone with the line that installs it. A format
read whole (imagecodecs': AVIF, JPEG XL, JPEG 2000, QOI) is read into memory
only once its size is checked; all its frames are decoded at once (an AVIF
sequence's cannot be decoded one by one), then its metadata read from the
whole file (so that a broken file is told by its decoder). Each format's
module is imported when a file of it is first read or written: start-up
imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli import extras
from convcli.choices import FileFormat
from convcli.io.layout import Layout
from convcli.io.metadata import Metadata

Frame = npt.NDArray[np.generic]
_IMAGECODECS = (FileFormat.AVIF, FileFormat.JXL, FileFormat.JP2, FileFormat.J2K, FileFormat.QOI)


@dataclass(frozen=True)
class Decoder:
    """How one format is read: its header, then its frames; the extra it needs, if any.

    ``frames`` gives the frames from the one asked for to the last, in order:
    decoded one at a time as they are taken, or, for a format read whole, all
    when it is called. ``whole`` is set for a format read whole: it reads what
    the file carries besides its pixels from the whole file, and ``frames``
    is given the whole file too, and whether a header alone is read (then it
    leaves out what needs the picture decoded).
    """

    layout: Callable[[BinaryIO], Layout]
    frames: Callable[[BinaryIO, Layout, int], Iterable[Frame]]
    needs: tuple[str, str] | None = None  # (module, extra)
    whole: Callable[[bytes, Layout, bool], Metadata] | None = None


def _late(module: str, name: str) -> Callable[..., Any]:
    """Return a function of ``convcli.io.<module>``, the module imported at its first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"convcli.io.{module}"), name)(*args, **kwargs)

    return call


def _own(module: str, prefix: str, needs: tuple[str, str] | None = None) -> Decoder:
    """Make the decoder of a format read one frame at a time, from the stream after its header.

    Its module's ``<prefix>_layout`` reads the header, ``<prefix>_decode`` a frame.
    """
    decode = _late(module, f"{prefix}_decode")

    def frames(stream: BinaryIO, found: Layout, start: int) -> Iterator[Frame]:
        return (decode(stream, found, frame) for frame in range(start, found.frames))

    return Decoder(_late(module, f"{prefix}_layout"), frames, needs)


def _imagecodecs(kind: FileFormat) -> Decoder:
    """Make the decoder of a format imagecodecs decodes, read whole (:mod:`convcli.io.codecs`)."""
    return Decoder(
        partial(_late("codecs", "read_layout"), kind=kind),
        partial(_late("codecs", "decode"), kind=kind),
        whole=partial(_late("codecs", "metadata"), kind=kind),
    )


DECODERS = {
    FileFormat.PPM: _own("netpbm", "pnm"),
    FileFormat.PFM: _own("netpbm", "pfm"),
    FileFormat.PSD: _own("psd", "psd"),
    FileFormat.FITS: _own("fits", "fits"),
    FileFormat.HEIC: _own("heif", "heif", extras.HEIC),
    FileFormat.EXR: _own("exr", "exr", extras.EXR),
    FileFormat.DNG: _own("raw", "raw", extras.RAW),
    **{kind: _imagecodecs(kind) for kind in _IMAGECODECS},
}


Encoder = Callable[[BinaryIO, npt.NDArray[np.generic], bool, Metadata, "int | None"], None]
# stream, the picture (alpha joined last), whether it has alpha, its metadata, --quality
ENCODERS: dict[FileFormat, Encoder] = {
    FileFormat.PPM: _late("netpbm", "write_pnm"),
    FileFormat.PFM: _late("netpbm", "write_pfm"),
    FileFormat.HEIC: _late("heif", "write_heic"),
    FileFormat.EXR: _late("exr", "write_exr"),
    **{kind: partial(_late("codecs", "encode"), kind=kind) for kind in _IMAGECODECS},
}
