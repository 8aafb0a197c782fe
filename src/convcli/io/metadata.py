"""What an image carries besides its pixels: colour profile, EXIF, resolution, provenance.

Read from the input and written to the output in each format's own place
(README, "Images": the table of what each format keeps). The EXIF block is
kept with its orientation already applied to the pixels, so its tag is reset
to 1 and nothing is turned twice.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, PngImagePlugin

from convcli.choices import FileFormat

SOFTWARE = 0x0131  # EXIF and TIFF tags, in IFD0
DESCRIPTION = 0x010E
ORIENTATION = 0x0112
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
_INCH = 2
# A TIFF's IFD0 is its own structure (strips, sizes, samples); only these of its tags
# describe the picture and may travel into another file's EXIF.
_DESCRIPTIVE = {0x010D, 0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298}
_SUB_IFDS = (0x8769, 0x8825)  # the EXIF and GPS directories


@dataclass(frozen=True)
class Metadata:
    """What an image carries besides its pixels.

    Attributes
    ----------
    icc : bytes or None
        The ICC colour profile.
    exif : bytes or None
        The EXIF block (a TIFF structure behind ``Exif``), orientation reset to 1.
    dpi : (float, float) or None
        Pixels per inch, across and down.
    software, description : str or None
        What made the file, and with which settings (convcli writes both).
    jpeg_tables : tuple or None
        A JPEG input's quantisation tables and chroma subsampling, to
        compress its output alike.
    lossless : bool
        A WebP input was compressed without loss: so is its output.
    """

    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    software: str | None = None
    description: str | None = None
    jpeg_tables: tuple[dict[int, list[int]], int] | None = None
    lossless: bool = False

    @property
    def carried(self) -> list[str]:
        """Name what of the input's own metadata is present (provenance aside)."""
        present = {"colour profile": self.icc, "EXIF": self.exif, "resolution": self.dpi}
        return [name for name, value in present.items() if value]


def read_metadata(image: Image.Image, turned: bool, header_only: bool = False) -> Metadata:
    """Read what an opened file carries; ``turned``: its EXIF orientation was applied.

    ``header_only``: a PNG's chunks after its pixels are not read (none are there).
    """
    exif = _own_exif(image, header_only)
    if turned or ORIENTATION in exif:
        exif[ORIENTATION] = 1
    software, description = read_provenance(image)
    return Metadata(
        icc=image.info.get("icc_profile") or None,
        exif=_exif_bytes(exif),
        dpi=_dpi(image),
        software=software,
        description=description,
        jpeg_tables=_jpeg_tables(image),
    )


def read_provenance(image: Image.Image) -> tuple[str | None, str | None]:
    """Return what made an opened file, and with which settings, from its header alone."""
    if image.format == "PNG":  # text chunks before the pixels (convcli writes them there)
        software, description = image.info.get("Software"), image.info.get("Description")
    elif image.format == "GIF":
        software, _, description = _text(image.info.get("comment")).partition("\n")
    else:
        exif = image.getexif()
        software, description = exif.get(SOFTWARE), exif.get(DESCRIPTION)
    return _text(software) or None, _text(description) or None


def exif_for(metadata: Metadata, *, with_dpi: bool) -> Image.Exif:
    """Build the EXIF block of an output: the input's, with convcli's provenance.

    ``with_dpi`` writes the resolution into it too (WebP has no other place).
    """
    exif = Image.Exif()
    if metadata.exif:
        exif.load(metadata.exif)
    if metadata.software:
        exif[SOFTWARE] = metadata.software
    if metadata.description:
        exif[DESCRIPTION] = metadata.description
    if metadata.dpi and (with_dpi or X_RESOLUTION in exif):
        exif[X_RESOLUTION], exif[Y_RESOLUTION] = metadata.dpi
        exif[RESOLUTION_UNIT] = _INCH
    return exif


# What each format holds of the metadata; the rest is dropped, and a note says so.
HOLDS = {
    FileFormat.PNG: ("colour profile", "EXIF", "resolution"),
    FileFormat.JPG: ("colour profile", "EXIF", "resolution"),
    FileFormat.TIF: ("colour profile", "EXIF", "resolution"),
    FileFormat.WEBP: ("colour profile", "EXIF", "resolution"),
    FileFormat.BMP: ("resolution",),
    FileFormat.GIF: (),
    FileFormat.NPY: (),
    FileFormat.ZARR: (),
    FileFormat.PPM: (),  # its provenance in comments (io/netpbm.py)
    FileFormat.PFM: (),
    FileFormat.TGA: (),
    FileFormat.HEIC: ("colour profile", "EXIF"),
    FileFormat.EXR: (),
}


def png_chunks(metadata: Metadata) -> list[tuple[bytes, bytes]]:
    """Return the PNG chunks that carry ``metadata``, to go before the pixels."""
    chunks = []
    if metadata.icc:
        chunks.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc)))
    if metadata.dpi:
        per_metre = (round(value / 0.0254) for value in metadata.dpi)
        chunks.append((b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    if metadata.exif:
        chunks.append((b"eXIf", metadata.exif.removeprefix(b"Exif\x00\x00")))
    for keyword, text in (("Software", metadata.software), ("Description", metadata.description)):
        if text:
            chunks.append((b"tEXt", f"{keyword}\x00{text}".encode("latin-1", "replace")))
    return chunks


def save_options(
    fmt: FileFormat, metadata: Metadata, quality: int | None, animated: bool = False
) -> dict[str, Any]:
    """Return Pillow's ``save`` options that write ``metadata`` (and ``quality``) as ``fmt``.

    Pillow writes JPEG, WebP, BMP and GIF, and PNG only when ``animated``
    (convcli's own writer does still PNG, tifffile TIFF).
    """
    if fmt == FileFormat.PNG and animated:
        return _pillow_png_options(metadata)
    options: dict[str, Any] = {}
    if fmt in (FileFormat.JPG, FileFormat.WEBP):
        options["exif"] = _exif_block(metadata, fmt)
        if metadata.icc:
            options["icc_profile"] = metadata.icc
    if fmt in (FileFormat.JPG, FileFormat.BMP) and metadata.dpi:
        options["dpi"] = metadata.dpi
    if fmt == FileFormat.GIF and metadata.software:
        options["comment"] = "\n".join(filter(None, (metadata.software, metadata.description)))
    if fmt == FileFormat.JPG and quality is None and metadata.jpeg_tables:
        options["qtables"], options["subsampling"] = metadata.jpeg_tables
    elif fmt == FileFormat.WEBP and quality is None and metadata.lossless:
        options["lossless"] = True
    elif fmt in (FileFormat.JPG, FileFormat.WEBP):
        options["quality"] = DEFAULT_QUALITY if quality is None else quality
    return options


def exif_of_tiff(tags: dict[int, object], turned: bool) -> bytes | None:
    """Build an EXIF block of a TIFF's descriptive tags (read by tifffile)."""
    exif = Image.Exif()
    for tag in sorted(_DESCRIPTIVE - {SOFTWARE, DESCRIPTION}):
        if isinstance(value := tags.get(tag), str) and value:
            exif[tag] = value
    if turned:
        exif[ORIENTATION] = 1
    return exif.tobytes() if len(exif) else None


def _exif_block(metadata: Metadata, fmt: FileFormat) -> bytes:
    exif = exif_for(metadata, with_dpi=fmt == FileFormat.WEBP).tobytes()
    if fmt == FileFormat.JPG and len(exif) > JPEG_SEGMENT:  # one APP1 segment holds it all
        made = Metadata(software=metadata.software, description=metadata.description)
        exif = exif_for(made, with_dpi=False).tobytes()
    return exif


def _pillow_png_options(metadata: Metadata) -> dict[str, Any]:
    text = PngImagePlugin.PngInfo()
    for keyword, value in (("Software", metadata.software), ("Description", metadata.description)):
        if value:
            text.add_text(keyword, value)
    options = {"icc_profile": metadata.icc, "exif": metadata.exif, "dpi": metadata.dpi}
    return {"pnginfo": text, **{key: value for key, value in options.items() if value}}


def tiff_options(metadata: Metadata) -> dict[str, Any]:
    """Return tifffile's ``imwrite`` options that write ``metadata`` into a TIFF's IFD0."""
    exif = Image.Exif()
    if metadata.exif:
        exif.load(metadata.exif)
    copied = _DESCRIPTIVE - {SOFTWARE, DESCRIPTION}  # those two are convcli's own
    tags: list[tuple[int, str, int, object, bool]] = [
        (tag, "s", 0, value, True)
        for tag, value in sorted(exif.items())
        if tag in copied and isinstance(value, str) and value
    ]
    if ORIENTATION in exif:  # applied to the pixels: say so
        tags.append((ORIENTATION, "H", 1, 1, True))
    options: dict[str, Any] = {
        "software": metadata.software or False,  # False: not tifffile's own name
        "description": metadata.description,
        "metadata": None,  # no tifffile JSON in the description
        "iccprofile": metadata.icc,
        "extratags": tags,
    }
    if metadata.dpi:
        options["resolution"], options["resolutionunit"] = metadata.dpi, "INCH"
    return options


DEFAULT_QUALITY = 95  # JPEG and WebP, unless a JPEG input gives its own tables
JPEG_SEGMENT = 65_533  # the largest EXIF block a JPEG's APP1 segment holds


def _exif_bytes(exif: Image.Exif) -> bytes | None:
    try:
        if len(exif) or any(exif.get_ifd(tag) for tag in _SUB_IFDS):
            return exif.tobytes()
    except (ValueError, TypeError, KeyError, OverflowError, struct.error) as error:
        # Read, but not writable again: the pixels are fine, the EXIF stays behind.
        warnings.warn(f"its EXIF cannot be kept ({type(error).__name__})", stacklevel=2)
    return None


def _jpeg_tables(image: Image.Image) -> tuple[dict[int, list[int]], int] | None:
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables:
        return None
    from PIL import JpegImagePlugin  # loaded already: the image is a JPEG Pillow opened

    return dict(tables), JpegImagePlugin.get_sampling(image)


def header_exif(image: Image.Image, header_only: bool = False) -> Image.Exif:
    """Return an opened file's EXIF; ``header_only``: a PNG's, if it came before the pixels.

    A PNG may keep its EXIF after the pixels, and Pillow's ``getexif()`` decodes
    them all to find it.
    """
    if header_only and image.format == "PNG" and "exif" not in image.info:
        return Image.Exif()
    return image.getexif()


def _own_exif(image: Image.Image, header_only: bool) -> Image.Exif:
    # Of a TIFF: the descriptive tags of its IFD0, and its EXIF and GPS directories.
    exif = header_exif(image, header_only)
    if image.format not in ("TIFF", "MPO"):
        return exif
    own = Image.Exif()
    for tag, value in exif.items():
        if tag in _DESCRIPTIVE:
            own[tag] = value
    for tag in _SUB_IFDS:
        if directory := exif.get_ifd(tag):
            own[tag] = directory
    return own


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _dpi(image: Image.Image) -> tuple[float, float] | None:
    with contextlib.suppress(TypeError, ValueError):
        x, y = (float(value) for value in image.info.get("dpi") or ())
        if x > 0 and y > 0:
            return x, y
    return None
