"""The formats convcli reads and writes: what each holds, and how a file announces itself.

Only the formats named here are ever decoded: a file is recognised by its
first bytes, and only then handed to a decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.choices import FORMAT_ALIASES, FileFormat, suggestion
from convcli.errors import UsageError

if TYPE_CHECKING:
    from convcli.io.storage import Location

NPY_MAGIC = b"\x93NUMPY"
ARRAYS = (FileFormat.NPY, FileFormat.ZARR)  # bare arrays of any shape, not images


@dataclass(frozen=True)
class OutputFormat:
    """A format convcli writes: its name, Pillow's name, sample types, alpha and CMYK support."""

    name: FileFormat
    pillow: str | None
    depths: tuple[str, ...]
    alpha: bool
    cmyk: bool = False
    frames: bool = False  # holds an animation or a stack of pages

    @property
    def is_array(self) -> bool:
        """Whether it holds a bare array (float32, any shape) rather than an image."""
        return self.name in ARRAYS


_FORMATS = {
    fmt.name: fmt
    for fmt in (
        OutputFormat(FileFormat.PNG, "PNG", ("uint8", "uint16"), alpha=True, frames=True),
        OutputFormat(FileFormat.JPG, "JPEG", ("uint8",), alpha=False, cmyk=True),
        OutputFormat(
            FileFormat.TIF,
            "TIFF",
            ("uint8", "uint16", "float32"),
            alpha=True,
            cmyk=True,
            frames=True,
        ),
        OutputFormat(FileFormat.WEBP, "WEBP", ("uint8",), alpha=True, frames=True),
        OutputFormat(FileFormat.BMP, "BMP", ("uint8",), alpha=False),
        OutputFormat(FileFormat.GIF, "GIF", ("uint8",), alpha=False, frames=True),
        OutputFormat(FileFormat.NPY, None, ("float32",), alpha=False),
        OutputFormat(FileFormat.ZARR, None, ("float32",), alpha=False),
        # Written by imagecodecs (io/codecs.py), not Pillow
        OutputFormat(FileFormat.AVIF, None, ("uint8", "uint16"), alpha=True),
        OutputFormat(FileFormat.JXL, None, ("uint8", "uint16"), alpha=True),
        OutputFormat(FileFormat.JP2, None, ("uint8", "uint16"), alpha=True),
        OutputFormat(FileFormat.J2K, None, ("uint8", "uint16"), alpha=True),
        OutputFormat(FileFormat.QOI, None, ("uint8",), alpha=True),
    )
}
FORMAT_NAMES = tuple(sorted([*_FORMATS, *FORMAT_ALIASES]))


def output_format(name: str) -> OutputFormat:
    """Look up an output format by name or file suffix (``png``, ``.JPG``, ``tiff``, ...).

    Examples
    --------
    >>> output_format(".JPEG").pillow
    'JPEG'
    """
    key = name.lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    if key in _FORMATS:
        return _FORMATS[FileFormat(key)]
    hint = suggestion(key, list(FORMAT_NAMES))
    raise UsageError(
        f"unknown output format {name!r}; convcli writes {', '.join(FORMAT_NAMES)}"
        + (f"; {hint}" if hint else "")
    )


# What a file starts with -> the format it is. Only these are ever decoded.
_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", FileFormat.PNG), (b"\xff\xd8\xff", FileFormat.JPG),
    (b"GIF87a", FileFormat.GIF), (b"GIF89a", FileFormat.GIF), (b"BM", FileFormat.BMP),
    (b"II*\x00", FileFormat.TIF), (b"MM\x00*", FileFormat.TIF), (NPY_MAGIC, FileFormat.NPY),
    # BigTIFF, and the formats imagecodecs decodes (AVIF is told by its ftyp box's brands)
    (b"II+\x00", FileFormat.TIF), (b"MM\x00+", FileFormat.TIF), (b"qoif", FileFormat.QOI),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", FileFormat.JP2), (b"\xff\x4f\xff\x51", FileFormat.J2K),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", FileFormat.JXL), (b"\xff\x0a", FileFormat.JXL),
]  # fmt: skip
_AVIF_BRANDS = {b"avif", b"avis"}


def is_zarr_store(path: Location) -> bool:
    """Whether ``path`` is a Zarr array's folder or prefix (it holds zarr.json or .zarray)."""
    if isinstance(path, Path) and not path.is_dir():
        return False  # a file, the usual case: one look at it, not two
    return any((path / name).is_file() for name in ("zarr.json", ".zarray"))


def sniff_format(head: bytes) -> FileFormat | None:
    """Name the format a file's first bytes announce, or None if convcli does not read it.

    Examples
    --------
    >>> sniff_format(b"GIF89a..."), sniff_format(b"%!PS-Adobe-3.0 EPSF")
    (<FileFormat.GIF: 'gif'>, None)
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileFormat.WEBP
    if head[4:8] == b"ftyp" and _brands(head) & _AVIF_BRANDS:
        return FileFormat.AVIF
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _brands(head: bytes) -> set[bytes]:
    """Return the brands of an ISO base media file's ftyp box, as far as ``head`` holds them."""
    size = int.from_bytes(head[:4], "big")
    listed = head[16 : min(size, len(head))]
    return {head[8:12], *(listed[i : i + 4] for i in range(0, len(listed) - 3, 4))}
