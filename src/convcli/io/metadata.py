"""What an image carries besides its pixels: colour profile, EXIF, resolution, provenance.

Read from the input and written to the output in each format's own place
(README, "Images": the table of what each format keeps). The EXIF block is
kept with its orientation already applied to the pixels, so its tag is reset
to 1 and nothing is turned twice.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
import zlib
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image, PngImagePlugin

from convcli.choices import FileFormat
from convcli.limits import (
    MAX_BMP_PER_METRE,
    MAX_JFIF_DENSITY,
    MAX_JPEG_PROFILE_SEGMENTS,
    MAX_PHYS,
    MAX_PNG_PROFILE,
    MAX_RATIONAL,
)

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
    bits : int or None
        The significant bits of an input's samples held as 16 (10 or 12: AVIF,
        JPEG XL, JPEG 2000), for an output that holds that depth.
    bigtiff : bool
        The input was a BigTIFF: so is a TIFF output.
    """

    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    software: str | None = None
    description: str | None = None
    jpeg_tables: tuple[dict[int, list[int]], int] | None = None
    lossless: bool = False
    bits: int | None = None
    bigtiff: bool = False

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
        dpi=_dpi(image) or _exif_dpi(exif),
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
        return exif_provenance(image.getexif())
    return _text(software) or None, _text(description) or None


def exif_provenance(exif: Image.Exif) -> tuple[str | None, str | None]:
    """Return what made a file, and with which settings, from its EXIF (convcli writes them)."""
    return _text(exif.get(SOFTWARE)) or None, _text(exif.get(DESCRIPTION)) or None


def exif_for(metadata: Metadata, *, with_dpi: bool) -> Image.Exif:
    """Build the EXIF block of an output: the input's, with convcli's provenance.

    ``with_dpi`` writes the resolution into it too (WebP has no other place).
    """
    exif = _carried_exif(metadata, with_dpi=with_dpi)
    if metadata.software:
        exif[SOFTWARE] = metadata.software
    if metadata.description:
        exif[DESCRIPTION] = metadata.description
    return exif


def _carried_exif(metadata: Metadata, *, with_dpi: bool) -> Image.Exif:
    """Return the input's EXIF with the output's resolution (divided by the stride) in it.

    An EXIF resolution the output does not have (left out, or in no unit) is
    taken out, so it never says other than the output's own place.
    """
    exif = Image.Exif()
    if metadata.exif:
        exif.load(metadata.exif)
    had = X_RESOLUTION in exif
    for tag in (X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT):
        exif.pop(tag, None)
    if metadata.dpi and (with_dpi or had):
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
    FileFormat.AVIF: (),  # imagecodecs' encoder writes pixels alone
    FileFormat.JXL: ("EXIF", "resolution"),  # an Exif box (the profile is inside the pixels)
    FileFormat.JP2: ("colour profile", "EXIF", "resolution"),  # colr box; EXIF UUID box
    FileFormat.J2K: (),  # a bare codestream
    FileFormat.QOI: (),
    FileFormat.PPM: (),  # its provenance in comments (io/netpbm.py)
    FileFormat.PFM: (),
    FileFormat.TGA: (),
    FileFormat.HEIC: ("colour profile", "EXIF"),
    FileFormat.EXR: (),
}


OUTPUT_COLOURS = {"GRAY": "grey", "RGB": "RGB", "CMYK": "CMYK"}  # littleCMS's names: said so


def fit_metadata(
    metadata: Metadata, fmt: FileFormat, colour: str | None
) -> tuple[Metadata, list[str]]:
    """Leave out what would break an output of ``fmt`` whose colour is ``colour``.

    A colour profile goes on only if littleCMS parses it, its colour space is
    the output's (``GRAY``, ``RGB`` or ``CMYK``) and the format's readers
    take its size; a resolution only if the format's place holds it. Returns
    the metadata, and a note for each thing left out.
    """
    notes = []
    icc, dpi = metadata.icc, metadata.dpi
    if icc and "colour profile" in HOLDS[fmt] and (why := _unfit_profile(icc, fmt, colour)):
        icc = None
        notes.append(f"its colour profile {why}: left out")
    if dpi and "resolution" in HOLDS[fmt] and (place := _unheld_resolution(dpi, fmt)):
        dpi = None
        shown = " x ".join(f"{value:.6g}" for value in metadata.dpi or ())
        notes.append(f"its resolution ({shown} dpi) does not fit {place}: left out")
    return replace(metadata, icc=icc, dpi=dpi), notes


def _restricted(icc: bytes) -> bool:
    """Whether a profile is JPEG 2000's restricted ICC: grey's curve, or RGB's matrix and curves."""
    count = struct.unpack_from(">I", icc, 128)[0] if len(icc) >= 132 else 0
    tags = {icc[132 + 12 * n : 136 + 12 * n] for n in range(min(count, (len(icc) - 132) // 12))}
    rgb = {b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"}
    return b"kTRC" in tags or rgb <= tags


def _unfit_profile(icc: bytes, fmt: FileFormat, colour: str | None) -> str | None:
    """Say why a colour profile cannot go into this output; None if it can."""
    from PIL import ImageCms  # littleCMS: only for an input with a profile

    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return "does not parse (littleCMS)"
    if colour is not None and space != colour:
        output = OUTPUT_COLOURS.get(colour, colour)
        return f"is for {OUTPUT_COLOURS.get(space, space)}, not the {output} output"
    if fmt == FileFormat.JP2 and not _restricted(icc):
        return "is not a matrix or grey curve profile (the restricted ICC a JP2 holds)"
    if fmt == FileFormat.PNG and len(icc) > MAX_PNG_PROFILE:
        return f"({len(icc):,} bytes) is larger than PNG readers take ({MAX_PNG_PROFILE:,})"
    if fmt == FileFormat.JPG and math.ceil(len(icc) / JPEG_PROFILE_SEGMENT) > (
        MAX_JPEG_PROFILE_SEGMENTS
    ):
        most = MAX_JPEG_PROFILE_SEGMENTS * JPEG_PROFILE_SEGMENT
        return f"({len(icc):,} bytes) is larger than a JPEG holds ({most:,})"
    return None


def _unheld_resolution(dpi: tuple[float, float], fmt: FileFormat) -> str | None:
    """Name the place of ``fmt`` that cannot hold ``dpi`` (its numbers would wrap); else None."""
    per_metre = [round(value / 0.0254) for value in dpi]
    if fmt == FileFormat.PNG:
        held, place = all(1 <= value <= MAX_PHYS for value in per_metre), "PNG's pHYs chunk"
    elif fmt == FileFormat.BMP:
        held, place = all(1 <= v <= MAX_BMP_PER_METRE for v in per_metre), "BMP's header"
    elif fmt == FileFormat.JPG:
        held = all(1 <= round(value) <= MAX_JFIF_DENSITY for value in dpi)
        place = "JPEG's JFIF density"
    else:  # TIFF's tags, WebP's EXIF: fractions of 32-bit numbers
        held = all(1 / MAX_RATIONAL <= value <= MAX_RATIONAL for value in dpi)
        place = "the 32-bit fractions of TIFF and EXIF"
    return None if held else place


def png_chunks(metadata: Metadata) -> list[tuple[bytes, bytes]]:
    """Return the PNG chunks that carry ``metadata``, to go before the pixels."""
    chunks = []
    if metadata.icc:
        chunks.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc)))
    if metadata.dpi:
        per_metre = (round(value / 0.0254) for value in metadata.dpi)
        chunks.append((b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    if metadata.exif:
        exif = _carried_exif(metadata, with_dpi=False).tobytes()
        chunks.append((b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
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
    elif fmt == FileFormat.BMP:  # 0: unknown, rather than Pillow's 96 dpi
        options["dpi"] = (0, 0)
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
    exif = _carried_exif(metadata, with_dpi=False).tobytes() if metadata.exif else None
    options = {"icc_profile": metadata.icc, "exif": exif, "dpi": metadata.dpi}
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
JPEG_PROFILE_SEGMENT = JPEG_SEGMENT - 14  # of a profile in each APP2 (after ICC_PROFILE, n, of)


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


def _exif_dpi(exif: Image.Exif) -> tuple[float, float] | None:
    """Return the resolution an EXIF block gives, in pixels per inch (a PNG's or WebP's)."""
    per_inch = {2: 1.0, 3: 2.54}.get(exif.get(RESOLUTION_UNIT, _INCH))  # EXIF's default: inch
    with contextlib.suppress(KeyError, TypeError, ValueError, ZeroDivisionError):
        x, y = float(exif[X_RESOLUTION]), float(exif[Y_RESOLUTION])
        if per_inch and x > 0 and y > 0 and math.isfinite(x + y):
            return x * per_inch, y * per_inch
    return None
