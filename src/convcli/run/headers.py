"""Reading the inputs' headers while planning: once each, no pixel decoded.

A named pipe or device is read whole once (it cannot be read again); an
input whose header cannot be read is left to fail on its own when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convcli.choices import FileFormat
from convcli.errors import InputError
from convcli.io.formats import unmarked_formats
from convcli.io.inputs import Input
from convcli.io.picture import Header
from convcli.io.reading import probe_image
from convcli.io.storage import is_remote, is_zarr_store, read_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL, read_special_file
from convcli.run.tiling import TILEABLE, TILED, tileable

if TYPE_CHECKING:
    from convcli.io.storage import Location


def read_special_files(specials: list[Input], max_pixels: int) -> dict[Location, bytes | str]:
    """Read each named pipe or device once, now: its bytes, or why it is not an image."""
    contents: dict[Location, bytes | str] = {}
    for item in specials:
        if isinstance(item.path, Path):
            try:
                contents[item.path] = read_special_file(
                    item.path, item.label, STDIN_BYTES_PER_PIXEL * max_pixels
                )
            except InputError as error:
                contents[item.path] = error.said
    return contents


def read_headers(
    found: list[Input], contents: dict[Location, bytes | str], max_pixels: int, tiled: bool
) -> dict[Location | None, Header | None]:
    """Read every input's header once (a pipe's from the bytes read); None: it fails alone.

    With ``tiled``, a ``.npy``, TIFF or Zarr array of any size is read (it is
    filtered a tile at a time). An object in a store is read only when it runs
    (a request each): None; but a Zarr array named as an input, for its metadata.
    """
    headers: dict[Location | None, Header | None] = {}
    for item in found:
        if is_remote(item.path):
            named = not item.in_folder and is_zarr_store(item.path)
            headers[item.path] = probe(item.path, item.label, TILED, whole=False) if named else None
        elif item.image and item.path is not None:
            content = contents.get(item.path, item.path)
            if isinstance(content, str):  # a pipe that was no image: it fails with its reason
                headers[item.path] = None
            else:
                # Maybe never read whole: a tiled input, a Zarr array (refused without
                # --tile), an .npy (tiled when over --max-pixels: _over_the_limit).
                in_tiles = isinstance(content, Path) and (
                    (tiled and tileable(content))
                    or content.suffix.lower() == f".{FileFormat.NPY}"
                    or is_zarr_store(content)
                )
                limit = TILED if in_tiles else max_pixels
                header = probe(content, item.label, limit)
                if in_tiles and header is not None and header.format not in TILEABLE:
                    header = probe(content, item.label, max_pixels)  # named .npy, but is not
                headers[item.path] = header
    return headers


def probe(
    source: Location | bytes, label: str, max_pixels: int, *, whole: bool = True
) -> Header | None:
    """Read a header; None if it cannot be (it fails on its own when it is read)."""
    try:
        return read_header(source, label, max_pixels, whole=whole)
    except InputError:
        return None  # it fails on its own when it is read


def read_header(
    source: Location | bytes, label: str, max_pixels: int, *, whole: bool = True
) -> Header:
    """Read a header, or say why it cannot be read (InputError).

    An object in a store is read ``whole`` (one request); a Zarr array in a
    store is not (``whole=False``): its metadata is an object of its own.
    """
    if whole and is_remote(source):
        source = read_object(source, label, STDIN_BYTES_PER_PIXEL * max_pixels)
    return probe_image(source, label, max_pixels)


def made_by_convcli(header: Header | None) -> bool:
    """Whether a file's provenance says convcli made it."""
    return header is not None and (header.software or "").startswith("convcli ")


UNMARKED = unmarked_formats()  # no place for provenance ("What each format keeps")


def unmarked(header: Header | None) -> bool:
    """Whether a file is in a format that cannot say who made it."""
    return header is not None and header.format in UNMARKED
