"""FITS, read by hand: a grey image (integer or float), or three planes as colour.

A FITS file is a text header of 80-character cards in 2880-byte blocks,
ended by ``END``, then the data in big-endian, in blocks too. Only the
primary image is read: ``NAXIS`` 2 (grey), or 3 with ``NAXIS3`` 1 (grey) or
3 (colour: the planes are red, green, blue); other plane counts are refused,
never one plane taken silently. Samples are physical values,
``BZERO + BSCALE * stored``: 8-bit data stays 8 bits, 16-bit data with
``BZERO`` 32768 (how FITS stores unsigned 16 bits) stays 16 bits, anything
else becomes 32-bit float with 1.0 as white, as a float TIFF (``--range raw``
keeps the values). FITS counts rows from the bottom (as DS9 shows it), so
the last row in the file is the top of the picture.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.io.layout import Layout, read_exactly
from convcli.limits import MAX_TEXT_HEADER

_BLOCK, _CARD = 2880, 80
_TYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}  # BITPIX
_UNSIGNED_16 = 32768.0  # BZERO of unsigned 16-bit data


def fits_layout(stream: BinaryIO) -> Layout:
    """Read the primary header's cards (within a bound) and check what they say."""
    cards = _cards(stream)
    bitpix, axes = int(_value(cards, "BITPIX")), int(_value(cards, "NAXIS"))
    if bitpix not in _TYPES:
        raise ValueError(f"BITPIX {bitpix} is not a FITS sample type")
    if axes not in (2, 3):
        raise ValueError(f"NAXIS {axes}: convcli reads 2-D images (or three planes as colour)")
    width, height = int(_value(cards, "NAXIS1")), int(_value(cards, "NAXIS2"))
    planes = int(_value(cards, "NAXIS3")) if axes == 3 else 1
    if planes not in (1, 3):
        raise ValueError(
            f"{planes} planes: convcli reads one (grey) or three (colour), not one plane of many"
        )
    zero, scale = _value(cards, "BZERO", 0.0), _value(cards, "BSCALE", 1.0)
    kept = (bitpix == 8 and (zero, scale) == (0, 1)) or (bitpix, zero, scale) == (16, 32768, 1)
    white = (255.0 if bitpix == 8 else 65535.0) if kept else 1.0
    return Layout(width, height, planes, False, white, numbers=(bitpix, zero, scale))


def fits_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Read the data after the header: physical values, the top row first, planes last."""
    bitpix, zero, scale = layout.numbers
    dtype = np.dtype(_TYPES[int(bitpix)])
    count = layout.width * layout.height * layout.samples
    stored = np.frombuffer(read_exactly(stream, count * dtype.itemsize), dtype)
    planes = stored.reshape(layout.samples, layout.height, layout.width)[:, ::-1]
    planes = np.moveaxis(planes, 0, -1) if layout.samples == 3 else planes[0]
    if layout.white == 255:
        return planes.astype(np.uint8)
    if layout.white == 65535:  # unsigned 16 bits, stored as signed with 32768 subtracted
        return (planes.astype(np.int32) + 32768).astype(np.uint16)
    return (planes.astype(np.float64) * scale + zero).astype(np.float32)


def _cards(stream: BinaryIO) -> dict[str, str]:
    """Read the header's keywords and values, block by block up to ``END`` (the data follows)."""
    cards: dict[str, str] = {}
    for _ in range(MAX_TEXT_HEADER // _BLOCK):
        block = stream.read(_BLOCK)
        if len(block) < _BLOCK:
            raise ValueError("truncated: its header ends before END")
        for start in range(0, _BLOCK, _CARD):
            card = block[start : start + _CARD].decode("ascii", "replace")
            keyword = card[:8].strip()
            if keyword == "END":
                return cards
            if card[8:10] == "= ":
                cards.setdefault(keyword, card[10:].split("/")[0].strip())
    raise ValueError(f"its header is longer than {MAX_TEXT_HEADER:,} bytes")


def _value(cards: dict[str, str], keyword: str, default: float | None = None) -> float:
    text = cards.get(keyword)
    if text is None:
        if default is None:
            raise ValueError(f"its header has no {keyword}")
        return default
    try:
        value = float(text.replace("D", "E")) if len(text) <= 40 else float("nan")
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or (keyword.startswith(("NAXIS", "BITPIX")) and value != int(value)):
        raise ValueError(f"its {keyword} is {text[:20]!r}, not a number")
    if keyword.startswith("NAXIS") and not 0 <= value <= 1 << 31:
        raise ValueError(f"its {keyword} is {text[:20]!r}")
    return value
