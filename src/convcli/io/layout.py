"""What the decoders of :mod:`convcli.io.decoders` share: a header, and bounded reads.

Each decoder reads its header first into a :class:`Layout`; the caller
checks its size against ``--max-pixels`` and its frames against the limit;
only then are the samples read, exactly as many as the header announced (or,
for a format read whole, a file no larger than :attr:`Layout.size` allows).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
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
    turns : tuple of (bytes, int)
        The turns decoding applies, in order (an AVIF's irot and imir).
    durations : tuple of int
        Each frame's, in milliseconds, where the header gives them (else empty).
    plays : int or None
        How many times an animation plays (0: forever), where the header says.
    """

    width: int
    height: int
    samples: int
    alpha: bool
    white: float
    frames: int = 1
    metadata: Metadata = field(default_factory=Metadata)
    numbers: tuple[float, ...] = ()
    turns: tuple[tuple[bytes, int], ...] = ()
    durations: tuple[int, ...] = ()
    plays: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The decoded array's shape: rows x columns (x samples)."""
        rows = (self.height, self.width)
        return rows if self.samples == 1 else (*rows, self.samples)

    @property
    def bits(self) -> int:
        """Of a sample: as its metadata notes them (10, 12...), else as its white says."""
        return self.metadata.bits or (8 if self.white == 255 else 16 if self.white == 65535 else 32)

    @property
    def size(self) -> int:
        """The samples of every frame, in bytes, each sample in whole bytes."""
        return self.width * self.height * self.samples * -(-self.bits // 8) * self.frames


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes (announced by a header the caller has checked), or say it is short."""
    data = stream.read(size)
    if len(data) < size:
        raise ValueError(
            f"truncated: its header announces {size} bytes of samples, got {len(data)}"
        )
    return data


def opened(source: Path | bytes) -> BinaryIO:
    """Open a file, or the bytes of one (standard input's, an object's), as a stream."""
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
