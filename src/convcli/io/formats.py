"""The formats convcli reads and writes: what each holds, and how a file announces itself.

Only the formats named here are ever decoded: a file is recognised by its
first bytes, and only then handed to a decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from convcli.choices import FORMAT_ALIASES, READ_ONLY, Depth, FileFormat, suggestion
from convcli.errors import Message, UsageError

NPY_MAGIC = b"\x93NUMPY"
ARRAYS = (FileFormat.NPY, FileFormat.ZARR)  # bare arrays of any shape, not images


@dataclass(frozen=True)
class OutputFormat:
    """A format convcli writes: its name, Pillow's name, sample types, alpha and CMYK support."""

    name: FileFormat
    pillow: str | None
    depths: tuple[Depth, ...]
    alpha: bool
    cmyk: bool = False
    frames: bool = False  # holds an animation or a stack of pages
    provenance: bool = True  # has a place to say what made it ("What each format keeps")
    grey: bool = True  # holds one channel (QOI does not: grey is written as RGB)
    maps: bool = False  # writes a layer's feature maps (see for_maps)
    split: bool = False  # one file per feature map (--bank)

    def written_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Return the shape a picture of ``shape`` (alpha included) has in a file of this format."""
        if self.grey or (len(shape) == 3 and shape[2] >= 3):
            return shape
        return (*shape[:2], 4 if len(shape) == 3 else 3)  # grey and alpha as RGBA, grey as RGB

    @property
    def is_array(self) -> bool:
        """Whether it holds a bare array (float32, any shape) rather than an image."""
        return self.name in ARRAYS

    @property
    def paged(self) -> bool:
        """Whether it writes feature maps as float32 pages, one per map (a TIFF of maps)."""
        return self.maps and self.name == FileFormat.TIF

    def for_maps(self, split: bool = False) -> OutputFormat:
        """Return this format writing a layer's feature maps, which are values, not colours.

        No alpha, no inks, one frame: an array or a TIFF holds any count of maps
        (a TIFF as float32 pages), an image format one (grey) or three (as RGB);
        ``split``, one file per map, holds any count.

        Examples
        --------
        >>> tiff = output_format("tif").for_maps()
        >>> tiff.paged, tiff.depths, tiff.alpha, tiff.holds_maps(64)
        (True, (<Depth.FLOAT32: 'float32'>,), False, True)
        >>> png = output_format("png").for_maps()
        >>> png.paged, png.holds_maps(1), png.holds_maps(3), png.holds_maps(4)
        (False, True, True, False)
        >>> output_format("png").for_maps(split=True).holds_maps(64)
        True
        """
        depths = _FLOAT if self.name == FileFormat.TIF else self.depths
        return replace(
            self, maps=True, split=split, alpha=False, cmyk=False, frames=False, depths=depths
        )

    def holds_maps(self, count: int) -> bool:
        """Whether a file of this format holds ``count`` feature maps (an image: 1 or 3)."""
        return self.split or self.is_array or self.name == FileFormat.TIF or count in (1, 3)


# The depths a format holds, as the table below names them.
_8_BITS, _UP_TO_16_BITS, _FLOAT = (Depth.UINT8,), (Depth.UINT8, Depth.UINT16), (Depth.FLOAT32,)
_FORMATS = {
    fmt.name: fmt
    for fmt in (
        OutputFormat(FileFormat.PNG, "PNG", _UP_TO_16_BITS, alpha=True, frames=True),
        OutputFormat(FileFormat.JPG, "JPEG", _8_BITS, alpha=False, cmyk=True),
        OutputFormat(
            FileFormat.TIF,
            "TIFF",
            (*_UP_TO_16_BITS, *_FLOAT),
            alpha=True,
            cmyk=True,
            frames=True,
        ),
        OutputFormat(FileFormat.WEBP, "WEBP", _8_BITS, alpha=True, frames=True),
        OutputFormat(FileFormat.BMP, "BMP", _8_BITS, alpha=False, provenance=False),
        OutputFormat(FileFormat.GIF, "GIF", _8_BITS, alpha=False, frames=True),
        OutputFormat(FileFormat.NPY, None, _FLOAT, alpha=False, provenance=False),
        OutputFormat(FileFormat.ZARR, None, _FLOAT, alpha=False),
        # Written by imagecodecs (io/codecs.py), not Pillow
        OutputFormat(
            FileFormat.AVIF, None, _UP_TO_16_BITS, alpha=True, frames=True, provenance=False
        ),
        OutputFormat(FileFormat.JXL, None, _UP_TO_16_BITS, alpha=True, frames=True),
        OutputFormat(FileFormat.JP2, None, _UP_TO_16_BITS, alpha=True),
        OutputFormat(FileFormat.J2K, None, _UP_TO_16_BITS, alpha=True, provenance=False),
        OutputFormat(FileFormat.QOI, None, _8_BITS, alpha=True, provenance=False, grey=False),
        # Written by convcli's own writers (io/netpbm.py, io/heif.py, io/exr.py) or Pillow's.
        OutputFormat(FileFormat.PPM, None, _UP_TO_16_BITS, alpha=False),
        OutputFormat(FileFormat.PFM, None, _FLOAT, alpha=False, provenance=False),
        OutputFormat(FileFormat.TGA, "TGA", _8_BITS, alpha=True, provenance=False),
        OutputFormat(FileFormat.HEIC, None, _UP_TO_16_BITS, alpha=True, frames=True),
        OutputFormat(FileFormat.EXR, None, _FLOAT, alpha=True, provenance=False),
    )
}
FORMAT_NAMES = tuple(sorted([*_FORMATS, *(k for k, v in FORMAT_ALIASES.items() if v in _FORMATS)]))
# What a format convcli only reads is written as, unless --format or -o says otherwise:
# a format that holds its depths (PSD and ICO: 8 or 16 bits; FITS and raw: float or 16 bits).
WRITTEN_AS = {
    FileFormat.ICO: FileFormat.PNG, FileFormat.PSD: FileFormat.PNG,
    FileFormat.FITS: FileFormat.TIF, FileFormat.DNG: FileFormat.TIF,
}  # fmt: skip
PILLOW_READS = {FileFormat.ICO: "ICO"}  # decoded by Pillow, not written


def unmarked_formats() -> frozenset[FileFormat]:
    """Return the formats convcli writes that have no place to say who made a file.

    Examples
    --------
    >>> sorted(unmarked_formats())[:3]
    [<FileFormat.AVIF: 'avif'>, <FileFormat.BMP: 'bmp'>, <FileFormat.EXR: 'exr'>]
    """
    return frozenset(name for name, fmt in _FORMATS.items() if not fmt.provenance)


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
    if key in READ_ONLY:
        raise UsageError(
            f"convcli reads {name.lstrip('.')} files but does not write them; "
            f"write .{WRITTEN_AS[FileFormat(key)]} (or any of {', '.join(FORMAT_NAMES)})"
        )
    hint = suggestion(key, list(_FORMATS))  # not aliases: "pgn" is png, not pnm
    raise UsageError(
        f"unknown output format {name!r}; convcli writes {', '.join(FORMAT_NAMES)}"
        + (f"; {hint}" if hint else "")
    )


def default_output(kind: FileFormat) -> OutputFormat:
    """Return the format an input of ``kind`` is written in by default: its own, if written.

    Examples
    --------
    >>> default_output(FileFormat.PSD).name, default_output(FileFormat.TGA).name
    (<FileFormat.PNG: 'png'>, <FileFormat.TGA: 'tga'>)
    """
    return output_format(WRITTEN_AS.get(kind, kind))


def written_suffix(suffix: str) -> str:
    """Return the suffix of an output named after an input with ``suffix`` (PSD: PNG, ...).

    Examples
    --------
    >>> written_suffix(".NEF"), written_suffix(".jpg")
    ('.tif', '.jpg')
    """
    key = suffix.lower().lstrip(".")
    kind = FORMAT_ALIASES.get(key, key)
    return f".{WRITTEN_AS[FileFormat(kind)]}" if kind in WRITTEN_AS else suffix


def written_as_note(suffixes: set[str]) -> str | None:
    """Say, once, which inputs of a format convcli does not write were written as what."""
    said = sorted(
        f"{suffix.lstrip('.').upper()} as {output_format(written_suffix(suffix)).pillow}"
        for suffix in suffixes
        if written_suffix(suffix) != suffix
    )
    if not said:
        return None
    return Message("convcli does not write every format it reads: it writes {formats} ({format} "
                   "chooses)", formats=", ".join(said))  # fmt: skip


# What a file starts with -> the format it is. Only these are ever decoded.
_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", FileFormat.PNG), (b"\xff\xd8\xff", FileFormat.JPG),
    (b"GIF87a", FileFormat.GIF), (b"GIF89a", FileFormat.GIF), (b"BM", FileFormat.BMP),
    (b"II*\x00", FileFormat.TIF), (b"MM\x00*", FileFormat.TIF), (NPY_MAGIC, FileFormat.NPY),
    # BigTIFF, and the formats imagecodecs decodes (AVIF is told by its ftyp box's brands)
    (b"II+\x00", FileFormat.TIF), (b"MM\x00+", FileFormat.TIF), (b"qoif", FileFormat.QOI),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", FileFormat.JP2), (b"\xff\x4f\xff\x51", FileFormat.J2K),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", FileFormat.JXL), (b"\xff\x0a", FileFormat.JXL),
    # convcli's own decoders (and TGA, ICO: Pillow's); TGA has no signature (_is_tga)
    (b"P5", FileFormat.PPM), (b"P6", FileFormat.PPM), (b"PF", FileFormat.PFM),
    (b"Pf", FileFormat.PFM), (b"8BPS\x00\x01", FileFormat.PSD), (b"SIMPLE  =", FileFormat.FITS),
    (b"v/1\x01", FileFormat.EXR),
    (b"IIRO", FileFormat.DNG), (b"MMOR", FileFormat.DNG), (b"IIU\x00", FileFormat.DNG),
    (b"FUJIFILMCCD-RAW", FileFormat.DNG),  # Olympus ORF, Panasonic RW2, Fujifilm RAF
    (b"\x00MRM", FileFormat.DNG), (b"FOVb", FileFormat.DNG),  # Minolta MRW, Sigma X3F
]  # fmt: skip
_CIFF = b"HEAPCCDR"  # Canon's CRW (CIFF): "II", the header's length, then this at offset 6
_AVIF_BRANDS = {b"avif", b"avis"}
# An ISO base media file's brands (after "ftyp") that are HEIF with HEVC, or a Canon CR3.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_TGA_TYPES = {1: 1, 2: 0, 3: 0, 9: 1, 10: 0, 11: 0}  # image type -> colour map type it has


def sniff_format(head: bytes) -> FileFormat | None:
    """Name the format a file's first bytes announce, or None if convcli does not read it.

    Examples
    --------
    >>> sniff_format(b"GIF89a..."), sniff_format(b"%!PS-Adobe-3.0 EPSF")
    (<FileFormat.GIF: 'gif'>, None)
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileFormat.WEBP
    if head[4:8] == b"ftyp":
        return _iso_brand(head)
    found = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
    if found is None and head[:2] == b"II" and head[6:14] == _CIFF:
        found = FileFormat.DNG
    if found is None and head[:4] == b"\x00\x00\x01\x00" and head[4:6] != b"\x00\x00":
        found = FileFormat.ICO  # reserved, type 1 (icon), a count of images
    return found or (FileFormat.TGA if _is_tga(head) else None)


def _iso_brand(head: bytes) -> FileFormat | None:
    """AVIF, HEIC or a Canon CR3, from an ISO base media file's major (or compatible) brands."""
    major, brands = head[8:12], _brands(head)
    if major == b"crx ":
        return FileFormat.DNG
    if brands & _AVIF_BRANDS:
        return FileFormat.AVIF
    heic = major in _HEIC_BRANDS or (major in (b"mif1", b"msf1") and bool(brands & _HEIC_BRANDS))
    return FileFormat.HEIC if heic else None


def _brands(head: bytes) -> set[bytes]:
    """Return the brands of an ISO base media file's ftyp box, as far as ``head`` holds them."""
    size = int.from_bytes(head[:4], "big")
    listed = head[16 : min(size, len(head))]
    return {head[8:12], *(listed[i : i + 4] for i in range(0, len(listed) - 3, 4))}


def _is_tga(head: bytes) -> bool:
    """Whether the first bytes could be a TGA header (it has no signature): every field checked.

    Examples
    --------
    >>> _is_tga(bytes([0, 0, 2]) + bytes(9) + bytes([4, 0, 3, 0, 24, 32]))
    True
    >>> _is_tga(b"plain text, not a picture")
    False
    """
    if len(head) < 16 or _TGA_TYPES.get(head[2]) != head[1]:
        return False
    width, height = int.from_bytes(head[12:14], "little"), int.from_bytes(head[14:16], "little")
    no_map = head[1] == 1 or not any(head[3:8])  # no colour map: its fields are zero
    fields = head[16] in (8, 15, 16, 24, 32) and head[17] & 0xC0 == 0 if len(head) >= 18 else True
    return width > 0 and height > 0 and no_map and fields
