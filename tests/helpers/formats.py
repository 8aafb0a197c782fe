"""Files of the formats convcli decodes itself, built here from their specifications.

Each builder writes the bytes the format's own documents describe (Netpbm's
PGM/PPM/PFM pages, the FITS standard 4.0, Adobe's PSD file format
specification, Adobe's DNG specification through tifffile), independently of
convcli's readers; HEIC and OpenEXR are made by the extras' own libraries
(pillow-heif, OpenEXR), imported only when called.
"""

from __future__ import annotations

import io
import struct

import numpy as np


def pnm(array: np.ndarray, maxval: int | None = None, comment: bytes = b"") -> bytes:
    """A binary PGM (grey) or PPM (colour): big-endian, top row first."""
    maxval = maxval or (65535 if array.dtype == np.uint16 else 255)
    magic = b"P5" if array.ndim == 2 else b"P6"
    height, width = array.shape[:2]
    dtype = ">u2" if maxval > 255 else "u1"
    header = magic + b"\n" + comment + f"{width} {height}\n{maxval}\n".encode()
    return header + array.astype(dtype).tobytes()


def pfm(array: np.ndarray, little: bool = True) -> bytes:
    """A PFM: grey ``Pf`` or colour ``PF``, bottom row first; the scale's sign gives the order."""
    magic = b"Pf" if array.ndim == 2 else b"PF"
    height, width = array.shape[:2]
    scale = b"-1.0" if little else b"1.0"
    data = array[::-1].astype("<f4" if little else ">f4").tobytes()
    return magic + f"\n{width} {height}\n".encode() + scale + b"\n" + data


def fits(planes: np.ndarray, bitpix: int, bzero: float = 0, bscale: float = 1) -> bytes:
    """A FITS primary image of stored values ``planes`` ((H, W) or (P, H, W), top row first)."""
    stored = planes[..., ::-1, :]  # FITS's first row is the bottom one
    axes = stored.shape[::-1]
    cards = [("SIMPLE", "T"), ("BITPIX", str(bitpix)), ("NAXIS", str(len(axes)))]
    cards += [(f"NAXIS{i + 1}", str(n)) for i, n in enumerate(axes)]
    if bzero or bscale != 1:
        cards += [("BZERO", repr(float(bzero))), ("BSCALE", repr(float(bscale)))]
    text = b"".join(f"{key:<8}= {value:>20}".ljust(80).encode() for key, value in cards)
    text += b"END".ljust(80)
    kind = {8: ">u1", 16: ">i2", 32: ">i4", -32: ">f4", -64: ">f8"}[bitpix]
    data = np.ascontiguousarray(stored, dtype=kind).tobytes()
    return _blocks(text, b" ") + _blocks(data, b"\x00")


def _blocks(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 2880)


def psd(planes: np.ndarray, mode: int = 3, rle: bool = False, resources: bytes = b"") -> bytes:
    """A PSD with empty layer sections and its composite: ``planes`` is (channels, H, W)."""
    channels, height, width = planes.shape
    depth = 16 if planes.dtype == np.uint16 else 8
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, depth, mode)
    sections = struct.pack(">I", 0) + struct.pack(">I", len(resources)) + resources
    sections += struct.pack(">I", 0)
    rows = [
        row.astype(">u2" if depth == 16 else "u1").tobytes() for plane in planes for row in plane
    ]
    if not rle:
        return header + sections + struct.pack(">H", 0) + b"".join(rows)
    import imagecodecs

    packed = [imagecodecs.packbits_encode(row) for row in rows]
    counts = struct.pack(f">{len(packed)}H", *map(len, packed))
    return header + sections + struct.pack(">H", 1) + counts + b"".join(packed)


def psd_resource(ident: int, data: bytes) -> bytes:
    """One image resource block: signature, ID, an empty Pascal name, size, data (even)."""
    return b"8BIM" + struct.pack(">H2xI", ident, len(data)) + data + b"\x00" * (len(data) % 2)


def dng(mosaic: np.ndarray) -> bytes:
    """A minimal uncompressed DNG: a 16-bit RGGB mosaic with the tags LibRaw needs."""
    import tifffile

    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "convcli test", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50717, "I", 1, 4095, True),  # WhiteLevel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
    ]
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, mosaic, photometric=32803, extratags=tags, subfiletype=0,
                     metadata=None)  # fmt: skip
    return buffer.getvalue()


def heic(*frames: np.ndarray, quality: int = 90, **options) -> bytes:
    """A HEIC of pillow-heif's own, one top-level image per frame; ``options`` for the first."""
    import pillow_heif

    heif = pillow_heif.HeifFile()
    for pixels in frames:
        mode = {3: "RGB", 4: "RGBA"}[pixels.shape[2]] + (";16" if pixels.dtype == np.uint16 else "")
        height, width = pixels.shape[:2]
        heif.add_frombytes(mode=mode, size=(width, height), data=pixels.tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=quality, **options)
    return buffer.getvalue()


def exr(channels: dict[str, np.ndarray]) -> bytes:
    """A scanline OpenEXR of OpenEXR's own, ZIP-compressed: one array per channel."""
    import OpenEXR as openexr

    header = {"compression": openexr.ZIP_COMPRESSION, "type": openexr.scanlineimage}
    buffer = io.BytesIO()
    # The binding reads each array's memory as if contiguous: slices are copied first.
    contiguous = {name: np.ascontiguousarray(values) for name, values in channels.items()}
    openexr.File(header, contiguous).write(buffer)
    return buffer.getvalue()
