"""What the decoders convcli runs itself (or through an extra) share: a header, and bounded reads.

Each such decoder reads its header first into a :class:`Layout`; the caller
checks its size against ``--max-pixels`` and its frames against the limit;
only then are the samples read, exactly as many as the header announced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from convcli.io.metadata import Metadata


@dataclass(frozen=True)
class Layout:
    """An image's header, read before any sample.

    Attributes
    ----------
    width, height : int
        Of the picture as it is shown (after any turn the file asks for).
    samples : int
        Per pixel, alpha included (it comes last).
    alpha : bool
        Whether the last sample is alpha.
    white : float
        255 (8-bit), 65535 (16-bit) or 1.0 (float).
    frames : int
        Images in the file.
    metadata : Metadata
        Colour profile, EXIF and provenance, where the file has them.
    numbers : tuple of float
        What else of the header decoding needs (a PGM's maximum value, ...).
    """

    width: int
    height: int
    samples: int
    alpha: bool
    white: float
    frames: int = 1
    metadata: Metadata = field(default_factory=Metadata)
    numbers: tuple[float, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        """The decoded array's shape: rows x columns (x samples)."""
        rows = (self.height, self.width)
        return rows if self.samples == 1 else (*rows, self.samples)


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes (announced by a header the caller has checked), or say it is short."""
    data = stream.read(size)
    if len(data) < size:
        raise ValueError(
            f"truncated: its header announces {size} bytes of samples, got {len(data)}"
        )
    return data
