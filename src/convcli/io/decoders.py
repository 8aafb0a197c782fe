"""The formats convcli reads and writes itself or through an extra: one table each.

A decoder reads a header (:class:`~convcli.io.layout.Layout`)
and then the samples; an extra a format needs is named, so that a missing
one fails that input alone with the line that installs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli import extras
from convcli.choices import FileFormat
from convcli.io import exr, fits, heif, netpbm, psd, raw
from convcli.io.layout import Layout
from convcli.io.metadata import Metadata


@dataclass(frozen=True)
class Decoder:
    """How one format is read: its header, then its samples; the extra it needs, if any."""

    layout: Callable[[BinaryIO], Layout]
    decode: Callable[[BinaryIO, Layout, int], npt.NDArray[np.generic]]
    needs: tuple[str, str] | None = None  # (module, extra)


DECODERS = {
    FileFormat.PPM: Decoder(netpbm.pnm_layout, netpbm.pnm_decode),
    FileFormat.PFM: Decoder(netpbm.pfm_layout, netpbm.pfm_decode),
    FileFormat.PSD: Decoder(psd.psd_layout, psd.psd_decode),
    FileFormat.FITS: Decoder(fits.fits_layout, fits.fits_decode),
    FileFormat.HEIC: Decoder(heif.heif_layout, heif.heif_decode, extras.HEIC),
    FileFormat.EXR: Decoder(exr.exr_layout, exr.exr_decode, extras.EXR),
    FileFormat.DNG: Decoder(raw.raw_layout, raw.raw_decode, extras.RAW),
}


Encoder = Callable[[BinaryIO, npt.NDArray[np.generic], bool, Metadata, "int | None"], None]
# stream, the picture (alpha joined last), whether it has alpha, its metadata, --quality
ENCODERS: dict[FileFormat, Encoder] = {
    FileFormat.PPM: netpbm.write_pnm,
    FileFormat.PFM: netpbm.write_pfm,
    FileFormat.HEIC: heif.write_heic,
    FileFormat.EXR: exr.write_exr,
}
