"""Contact sheets of a filter bank, and a kernel's weights as a picture.

``apply --bank --montage FILE`` lays each input beside its responses, one
labelled tile each, as ImageMagick's ``montage -label`` does; ``kernels show
--picture FILE`` draws a kernel's weights as coloured cells. Pillow draws
both (``ImageDraw`` and the font of :mod:`convcli.pictures.draw`); they are
written atomically, in the format their suffix names.

A sheet is built while the bank runs: each response is read back once it is
written and reduced to its tile at once (a heat map's values come with its
report, reduced where the job ran: :mod:`convcli.heat`), so only the tiles
are kept, never every full-size response.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, PngImagePlugin

from convcli._version import __version__
from convcli.catalog.kernel import Kernel
from convcli.choices import Colormap, MontageScale, Status
from convcli.colormaps import lookup_table
from convcli.errors import ConvcliError, ParameterError, cannot_write
from convcli.heat import HeatTile, reduction
from convcli.io.atomic import write_atomically
from convcli.io.colour import as_rgb
from convcli.io.metadata import SOFTWARE
from convcli.io.picture import Picture
from convcli.io.reading import read_image
from convcli.io.storage import is_url, read_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL
from convcli.limits import (
    MAX_FILTER_CHANNELS,
    MAX_KERNEL_PICTURE,
    MAX_MONTAGE_TILES,
    MONTAGE_TILE,
)
from convcli.pictures.draw import Font, enlarged, filter_picture, fitted, font, heat_map
from convcli.report import Report
from convcli.run.model import Settings

if TYPE_CHECKING:
    from convcli.io.storage import Location

RGB = npt.NDArray[np.uint8]
COLUMNS = 8  # tiles a row, as ImageMagick's montage -tile 8x: an input's row wraps after that
GAP = 10  # pixels between tiles and around the sheet
LABEL_SIZE = 13  # pixels: the labels' font
LINE = 16  # a label's line, for the 13-pixel font
BESIDE_GAP = 6  # pixels between a tile's picture and the one beside it
NARROWEST = 168  # a tile's column is at least this wide, so that its label fits
SMALLEST = 96  # a tile's longest side at least this, in pixels: smaller pictures are enlarged
TITLE_WIDTH = 560  # a narrow sheet is this wide, so that its title takes few lines
BLOCK = "N\u00a0x\u00a0N"  # kept on one line of a title (no-break spaces)
BACKGROUND, INK, FAINT, FRAME = (255, 255, 255), (32, 32, 32), (225, 225, 225), (170, 170, 170)


def picture_path(text: str, parameter: str) -> tuple[Path, str]:
    """Return the file a picture ``parameter`` names and Pillow's format for its suffix.

    Raises
    ------
    ParameterError
        Standard output, a URL, a folder, a folder that does not exist, or a
        suffix Pillow cannot write.
    """

    def refused(message: str) -> ParameterError:
        return ParameterError(f"{parameter}{message}", parameter=parameter)

    if text == "-":
        raise refused(" writes a file, not standard output; name one (.png)")
    if is_url(text):
        raise refused(f" writes a file here, not {text}")
    path = Path(text)
    if path.is_dir():
        raise refused(f" {text} is a folder; name a file (.png)")
    if not path.parent.is_dir():
        raise refused(f" {text}: the folder {path.parent} does not exist")
    kind = Image.registered_extensions().get(path.suffix.lower())
    if kind is None or kind not in Image.SAVE:
        raise refused(
            f" {text}: no picture format has the suffix {path.suffix or '(none)'!r}; "
            "use .png (or .jpg, .webp, .tif, .gif, .bmp)"
        )
    try:  # some of Pillow's writers take no colour picture (XBM: 1 bit): found out now
        Image.new("RGB", (1, 1)).save(io.BytesIO(), format=kind, **_save_options(kind))
    except Exception as error:  # each of Pillow's plugins fails its own way
        raise refused(
            f" {text}: Pillow cannot write a colour picture as {kind} ({error}); use .png"
        ) from None
    return path, kind


@dataclass(frozen=True)
class SheetRequest:
    """A contact sheet asked for (``--montage``): where, in which format, on which scale."""

    path: Path
    kind: str  # Pillow's format
    scale: MontageScale | None  # the values as heat maps, on this scale; None: the files
    layer: bool = False  # a layer's feature maps (pictures.feature_maps), not a bank's sheet

    def drawing(self, settings: Settings, specs: Sequence[str], max_pixels: int) -> BankSheet:
        """Return the sheet to build as the run's reports arrive.

        ``specs`` are the kernels as the user wrote them, which label the tiles.
        """
        return BankSheet(self, settings, specs, max_pixels)


def write_picture(image: Image.Image, path: Path, kind: str) -> None:
    """Write ``image`` atomically in Pillow's format ``kind``, saying that convcli made it.

    The maker is where convcli's outputs carry it, so a sheet written into an
    input folder is left out of the next run over that folder, as they are.
    """
    options = _save_options(kind)
    try:
        write_atomically(path, lambda stream: image.save(stream, format=kind, **options))
    except OSError as error:
        raise cannot_write(path, error, ConvcliError) from None


def _save_options(kind: str) -> dict[str, Any]:
    made = f"convcli {__version__}"
    options: dict[str, Any] = {"quality": 95} if kind in ("JPEG", "WEBP") else {}
    if kind == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_text("Software", made)
    elif kind == "GIF":
        options["comment"] = made
    else:  # EXIF, in the formats that hold it
        options["exif"] = Image.Exif()
        options["exif"][SOFTWARE] = made
    return options


# --- a kernel as a picture -------------------------------------------------------------------

GRID = 640  # pixels along a kernel picture's longest side of cells, about
WIDEST_CELL = 56
FILTER_SIDE = 128  # pixels along a layer's filter's picture, about (kernels show --picture)
KERNEL_MAP = Colormap.COOLWARM  # diverging: blue negative, the middle grey 0, red positive


def kernel_picture(kernel: Kernel) -> Image.Image:
    """Draw a kernel's weights as square cells coloured on one scale centred on 0.

    A combined kernel (``sobel``) shows each component, side by side, on one
    scale; a 3-D kernel ``(C_in, kh, kw)``, one filter, each channel, with
    its RGB swatch when it has 3; a 4-D kernel, a layer's filters, a tile
    each (see :func:`filter_pictures`). The weights are written in the
    cells when every one fits; a colour scale below states the range.

    Raises
    ------
    ParameterError
        A combined kernel of 3-D components, or one longer than
        ``MAX_KERNEL_PICTURE`` cells a side (the parameter ``picture``: the
        command line's option).
    """
    matrices = [np.atleast_2d(matrix) for matrix in kernel.matrices]
    if kernel.components and any(matrix.ndim > 2 for matrix in matrices):
        raise ParameterError(
            f"picture draws combined kernels of 1-D and 2-D components; {kernel.name}'s are 3-D",
            parameter="picture",
        )
    longest = max(max(matrix.shape[-2:]) for matrix in matrices)
    if longest > MAX_KERNEL_PICTURE:
        raise ParameterError(
            f"picture draws kernels up to {MAX_KERNEL_PICTURE} cells a side; "
            f"{kernel.name} has {longest}",
            parameter="picture",
        )
    title = [f"{kernel.name}  {'x'.join(map(str, kernel.shape))}"
             + (f"  (bias {kernel.bias:g})" if kernel.bias else "")]  # fmt: skip
    title += [kernel.description] if kernel.description else []
    biases = kernel.filter_bias or ()
    if matrices[0].ndim == 4:
        return _layer_sheet(matrices[0], title, biases)
    if matrices[0].ndim == 3:
        return _filter_sheet(matrices[0], title, biases)
    cell = max(1, min(WIDEST_CELL, GRID // longest))
    peak = max(float(np.abs(matrix).max()) for matrix in matrices)
    panels = [_cells(matrix, cell, peak) for matrix in matrices]
    names = [part.name for part in kernel.components] or [""]
    if kernel.components:
        title.append(f"{kernel.combine} of {' and '.join(names)}, on one scale")
    return _kernel_sheet(panels, names if kernel.components else [], title, peak)


def _filter_sheet(
    matrix: npt.NDArray[np.float64], title: list[str], biases: Sequence[float]
) -> Image.Image:
    """Draw one filter ``(C_in, kh, kw)``: each channel's cells, then its RGB swatch (C_in 3).

    Channels too large for a pixel a cell in rows of ``2 * GRID`` pixels are
    drawn as a layer of one filter is, reduced.
    """
    channels = matrix[:MAX_FILTER_CHANNELS]
    count, rows, cols = matrix.shape
    peak = float(np.abs(channels).max())
    panels_count = len(channels) + (count == 3)
    across = min(panels_count, max(4, math.ceil(math.sqrt(panels_count))))
    cell = min(WIDEST_CELL, GRID // max(rows, cols), 2 * GRID // (across * cols))
    if cell < 1:
        return _layer_sheet(matrix[np.newaxis], title, biases)
    title[0] += "".join(f"  (bias {bias:.4g})" for bias in biases)
    panels = [_cells(channel, cell, peak) for channel in channels]
    names = [f"channel {number}" for number in range(len(channels))]
    title.append(
        f"one filter of {count} input channel{'s' * (count > 1)} (C_in x kh x kw, as PyTorch's "
        "conv2d weights), each channel's weights on one scale"
    )
    if count == 3:
        panels.append(Image.fromarray(filter_picture(matrix, peak, cell * max(rows, cols))))
        names.append("RGB")
        title.append(_rgb_legend(peak))
    title += left_out(count, MAX_FILTER_CHANNELS, "channels", "a picture draws")
    return _kernel_sheet(panels, names, title, peak, across)


def _layer_sheet(
    matrix: npt.NDArray[np.float64], title: list[str], biases: Sequence[float]
) -> Image.Image:
    """Draw a layer's filters ``(C_out, C_in, kh, kw)``: a tile each, labelled with its index."""
    pictures, legend = filter_pictures(matrix, FILTER_SIDE)
    tiles = [
        Tile([f"filter {number}", *([f"bias {biases[number]:.4g}"] if biases else [])], picture)
        for number, picture in enumerate(pictures)
    ]
    title.append(f"{matrix.shape[0]} filters (C_out x C_in x kh x kw, as PyTorch's conv2d weights)")
    title += legend + left_out(matrix.shape[0], MAX_MONTAGE_TILES, "filters", "a sheet shows")
    return layout([tiles], title, grid_columns(len(tiles)))


def filter_pictures(filters: npt.NDArray[np.float64], side: int) -> tuple[list[RGB], list[str]]:
    """Draw a layer's filters on one scale, in about ``side`` pixels each; say how.

    At most ``MAX_MONTAGE_TILES`` filters and ``MAX_FILTER_CHANNELS`` of their
    channels are drawn (the lines say what was left out); a picture larger
    than ``side`` (a weight a pixel) is reduced, as any picture on a sheet is.
    """
    shown = filters[:MAX_MONTAGE_TILES, :MAX_FILTER_CHANNELS]
    finite = np.abs(shown[np.isfinite(shown)])
    peak = float(finite.max()) if finite.size else 0.0
    pictures = [_within(filter_picture(weights, peak, side), side) for weights in shown]
    channels = filters.shape[1]
    legend = [
        _rgb_legend(peak) + ", one scale for every filter"
        if channels == 3
        else f"weights: a grid of cells per input channel ({channels}), row by row, blue "
        f"{_number(-peak)}, grey 0, red {_number(peak)}, one scale for every filter"
    ]
    legend += left_out(channels, MAX_FILTER_CHANNELS, "each filter's channels", "a picture draws")
    return pictures, legend


def _within(rgb: RGB, side: int) -> RGB:
    """Reduce a picture longer than ``side`` by a whole factor, each pixel the mean of N x N."""
    factor = reduction(rgb.shape, side)
    return np.asarray(Image.fromarray(rgb).reduce(factor)) if factor > 1 else rgb


def _rgb_legend(peak: float) -> str:
    return (
        "weights as RGB: a weight's red, green and blue are the filter's weights on channels "
        f"0, 1 and 2, from {_number(-peak)} (0) through 0 (128, grey) to {_number(peak)} (255)"
    )


def _number(value: float) -> str:
    return f"{value or 0.0:.4g}"  # 0, not -0


def left_out(count: int, most: int, what: str, shows: str) -> list[str]:
    """Say which of ``count`` things past the ``most`` drawn were left out (none: no line)."""
    if count <= most:
        return []
    return [f"{what} {most} to {count - 1} left out ({shows} at most {most})"]


def grid_columns(count: int) -> int:
    """Columns of a sheet of ``count`` tiles: as square as it can be, at most ``COLUMNS``."""
    return max(1, min(COLUMNS, math.ceil(math.sqrt(count))))


def _cells(matrix: npt.NDArray[np.float64], cell: int, peak: float) -> Image.Image:
    """Draw one matrix: a square of ``cell`` pixels per weight, its value written if it fits."""
    rgb, _, _ = heat_map(matrix, KERNEL_MAP, scale=peak)
    rows, cols = matrix.shape
    picture = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    if cell >= 6:  # a white line between cells
        picture[cell - 1 :: cell, :] = 255
        picture[:, cell - 1 :: cell] = 255
    image = Image.fromarray(np.ascontiguousarray(picture))
    legible = _legible(matrix, cell)
    if legible is None:
        return image  # not every weight would be legible: none is written
    texts, face, size = legible
    draw = ImageDraw.Draw(image)
    for r in range(rows):
        for c in range(cols):
            light = float(rgb[r, c] @ np.array([0.299, 0.587, 0.114])) > 150
            text = texts[r][c]
            where = (
                c * cell + (cell - 1 - _length(face, text)) // 2,
                r * cell + (cell - 1 - size) // 2,
            )
            draw.text(where, text, fill=INK if light else BACKGROUND, font=face)
    return image


def _legible(
    matrix: npt.NDArray[np.float64], cell: int
) -> tuple[list[list[str]], Font, int] | None:
    """Return the weights as text, the font and its size, when every one fits its cell."""
    if cell < 24:
        return None
    for digits in (3, 2):
        texts = [[f"{value:.{digits}g}" for value in row] for row in matrix.tolist()]
        for size in range(min(14, cell // 4), 8, -1):
            face = font(size)
            if max(_length(face, text) for row in texts for text in row) <= cell - 5:
                return texts, face, size
    return None


def _kernel_sheet(
    panels: list[Image.Image],
    names: list[str],
    title: list[str],
    peak: float,
    across: int | None = None,
) -> Image.Image:
    """Set the panels in rows of ``across`` (all: one row) under a title, the colour scale below."""
    face = font(13)
    named = LINE if names else 0
    across = across or len(panels)
    count = len(panels)
    rows = [range(start, min(start + across, count)) for start in range(0, count, across)]
    panels_width = max(sum(panels[n].width + GAP for n in row) - GAP for row in rows)
    width = max(panels_width, 320) + 2 * GAP
    title = [part for text in title for part in _wrapped(face, text, width - 2 * GAP)]
    heights = [named + max(panels[n].height for n in row) for row in rows]
    top = GAP + len(title) * LINE + GAP
    height = top + sum(heights) + GAP * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height + 3 * LINE + 2 * GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for number, text in enumerate(title):
        draw.text((GAP, GAP + number * LINE), text, fill=INK, font=face)
    for row, row_height in zip(rows, heights, strict=True):
        x = GAP + (width - 2 * GAP - panels_width) // 2
        for n in row:
            draw.text((x, top), names[n] if names else "", fill=INK, font=face)
            sheet.paste(panels[n], (x, top + named))
            x += panels[n].width + GAP
        top += row_height + GAP
    below = height + GAP
    ends = (_number(-peak), _number(peak))
    scale_bar(draw, (GAP, below), width - 2 * GAP, KERNEL_MAP, ends, face, middle="0")
    draw.text((GAP, below + 2 * LINE), "weights: blue negative, red positive, grey 0",
              fill=INK, font=face)  # fmt: skip
    return sheet


# --- contact sheets ---------------------------------------------------------------------------


class NotAPicture(ConvcliError):
    """An array a sheet cannot show (1-D, 3-D): its tile says so."""


@dataclass
class Tile:
    """One picture of a sheet and its label."""

    lines: list[str]  # the label: a name, then what is shown
    rgb: RGB | None = None  # the picture; None when there is none (a failure)
    values: npt.NDArray[np.float32] | None = None  # a heat map's values, coloured when drawn
    peak: float = 0.0  # the largest magnitude of the whole response (before reduction)
    scale: tuple[str, float, float] | None = None  # a heat map's colormap and range, once coloured
    beside: RGB | None = None  # a second picture right of the first: a feature map's weights

    @property
    def rows_of_text(self) -> int:
        """The label's lines, the heat map's scale bar among them."""
        return len(self.lines) + (self.scale is not None)

    @property
    def size(self) -> tuple[int, int]:
        """The pictures' width, side by side, and height (0 x 0: none)."""
        shown = [picture for picture in (self.rgb, self.beside) if picture is not None]
        width = sum(picture.shape[1] for picture in shown) + BESIDE_GAP * (len(shown) - 1)
        return width, max((picture.shape[0] for picture in shown), default=0)

    def colour(self, colormap: str, scale: float) -> None:
        """Colour a heat map's values on ``colormap``, from 0 (or -scale) to ``scale``."""
        assert self.values is not None
        rgb, low, high = heat_map(self.values, colormap, scale=scale)
        self.rgb, self.scale = rgb, (colormap, low, high)


@dataclass(frozen=True)
class Response:
    """What a sheet needs of one output of a bank, besides its report."""

    kernel: int  # which of the run's kernels made it: the tiles of an input start at 0
    label: str  # the input, as the run names it
    source: Callable[[], Path | bytes]  # reads the input (a file, or an object's bytes)
    target: Location | None  # the output, as written


class BankSheet:
    """A contact sheet of a bank (``apply --bank --montage``), built as the reports arrive.

    One row per input: the input, then its response to each kernel in order,
    wrapping after :data:`COLUMNS` tiles. A response is its output as written
    (read back and reduced: its range and colormap, as the file has them),
    labelled with its range; with a scale asked for (``--montage-scale``),
    its values as a heat map instead (its report's ``heat_tile``: the run's
    options must ask for it, ``heat_tiles``), on a scale of its own or one
    shared by every map of the sheet.
    """

    def __init__(
        self, request: SheetRequest, settings: Settings, specs: Sequence[str], max_pixels: int
    ) -> None:
        self._request, self._specs, self._max_pixels = request, specs, max_pixels
        self._colormap, self._scale = settings.colormap, request.scale
        self.heat = request.scale is not None  # the values, not the files (needs a colormap)
        self._frame = settings.frame or 0
        self._kernels = len(settings.kernels)
        self._rows: list[list[Tile]] = []

    def add(self, response: Response, report: Report) -> None:
        """Add the tile of one output (and of its input, before its first kernel's)."""
        if response.kernel == 0:
            self._rows.append([self._input_tile(response)])
        self._rows[-1].append(self._response_tile(response, report))

    def _input_tile(self, response: Response) -> Tile:
        label = response.label
        try:
            picture = read_image(response.source(), label, self._max_pixels, self._frame)
            return _picture_tile(label, picture)
        except NotAPicture as error:
            return Tile([label, str(error)])
        except ConvcliError:
            return Tile([label, "cannot be read"])  # the run says why

    def _response_tile(self, response: Response, report: Report) -> Tile:
        name = self._specs[response.kernel]
        if report.status == Status.ERROR:
            return Tile([name, "failed"])
        mapped = f"file: range {report.range}" if self.heat else f"range {report.range}"
        if self.heat:
            heat = report.heat_tile
            if heat is None:  # no values came back with the report
                return Tile([name, "cannot be read"])
            values, shown = heat_tile(heat)
            return Tile([name, shown, mapped], values=values, peak=heat.peak)
        try:
            assert response.target is not None
            where = response.target
            picture = read_image(self._read(where), str(where), self._max_pixels)
            tile = _picture_tile(name, picture)
            tile.lines.append(mapped)
            return tile
        except NotAPicture as error:
            return Tile([name, str(error)])
        except (ConvcliError, MemoryError):
            return Tile([name, "cannot be read"])

    def _read(self, where: Location) -> Path | bytes:
        if isinstance(where, Path):
            return where
        return read_object(where, str(where), STDIN_BYTES_PER_PIXEL * self._max_pixels)

    def draw(self) -> Image.Image:
        """Draw the sheet: a title, then each input's row of labelled tiles."""
        assert self._colormap is not None or not self.heat
        tiles = [tile for row in self._rows for tile in row]
        if self._colormap is not None:
            colour_heat_maps(tiles, self._colormap, self._scale == MontageScale.SHARED)
        return layout(self._rows, self._title())

    def _title(self) -> list[str]:
        kernels = self._kernels
        inputs = len(self._rows)
        lines = [
            f"convcli apply --bank: {kernels} kernel{'s' * (kernels > 1)} on "
            f"{inputs} input{'s' * (inputs > 1)}, each input then its responses",
            f"tiles of {SMALLEST} to {MONTAGE_TILE} px: larger images are shown reduced (1/N: "
            f"each pixel the mean of {BLOCK}), smaller ones enlarged (Nx: each pixel {BLOCK})",
        ]
        if not self.heat:
            coloured = f", in {self._colormap}'s colours" if self._colormap else ""
            lines.append(f"responses as their files hold them: each in its range{coloured}")
        else:
            how = (
                "all on one scale, to the largest magnitude of any"
                if self._scale == MontageScale.SHARED
                else "each on its own scale, to its largest magnitude"
            )
            lines.append(
                f"responses as {self._colormap} heat maps of their values, {how} "
                "(0 in the middle where values have both signs); reduced, each pixel "
                f"the strongest value of {BLOCK}; the files are in the range under each"
            )
        return lines

    def write(self) -> None:
        """Draw the sheet and write it atomically, where and as the request says."""
        write_picture(self.draw(), self._request.path, self._request.kind)


def colour_heat_maps(tiles: Sequence[Tile], colormap: str, shared: bool) -> None:
    """Colour the tiles' heat maps: each on its own scale, or all on their largest peak."""
    heat_maps = [tile for tile in tiles if tile.values is not None]
    largest = max((tile.peak for tile in heat_maps), default=0.0)
    for tile in heat_maps:
        tile.colour(colormap, largest if shared else tile.peak)


def _picture_tile(label: str, picture: Picture) -> Tile:
    """Return the tile of a picture (an input, or an output as written) and its label."""
    rgb, rescaled = _as_rgb8(picture)
    tile, shown = _to_tile(rgb)
    return Tile([label, shown, *filter(None, [rescaled])], tile)


def _as_rgb8(picture: Picture) -> tuple[RGB, str | None]:
    """Return a picture's pixels as 8-bit RGB (alpha left out), and how they were rescaled.

    Black to the picture's white become 0 to 255; float values beyond them (a
    raw response in a .npy or float TIFF) are rescaled from their least to
    their greatest, which the second value says.
    """
    if picture.header.is_cmyk:
        picture, _ = as_rgb(picture)
    array = np.asarray(picture.pixels)
    if array.ndim not in (2, 3):
        raise NotAPicture(f"a {array.ndim}-D array")
    if array.ndim == 3 and array.shape[2] != 3:
        array = array[..., 0]  # one channel
    if array.ndim == 2:
        array = np.repeat(array[..., np.newaxis], 3, axis=2)
    if array.dtype == np.uint8 and picture.white == 255:
        return array, None
    low, high, rescaled = 0.0, picture.white, None
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array[:0]
    if finite.size and (finite.min() < low or finite.max() > high):
        low, high = float(finite.min()), float(finite.max())
        rescaled = f"rescaled from {low:.4g} to {high:.4g}"
    # Halved (exactly: the same values), so that a span between values near ±1e308 cannot
    # overflow; float64 values stay float64, as float32 cannot hold them.
    kind = np.dtype(np.float64 if array.dtype == np.float64 else np.float32)
    values: npt.NDArray[np.floating] = array.astype(kind)
    scale = kind.type(255 / (high / 2 - low / 2 or 0.5))
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN: nan_to_num and clip
        scaled = np.nan_to_num((values / 2 - kind.type(low) / 2) * scale)
    rgb: RGB = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return rgb, rescaled


def _to_tile(rgb: RGB) -> tuple[RGB, str]:
    """Fit a picture (8-bit RGB) to a tile; say how.

    Over ``MONTAGE_TILE`` pixels a side it is reduced, each pixel the mean
    of N x N, as any picture is made smaller (a heat map's values come
    reduced otherwise: see :func:`heat_tile`).
    """
    factor = reduction(rgb.shape)
    if factor > 1:
        reduced = np.asarray(Image.fromarray(rgb).reduce(factor))
        return reduced, f"{_size(rgb.shape)}, shown at 1/{factor}"
    return _enlarged(rgb)


def heat_tile(heat: HeatTile) -> tuple[npt.NDArray[np.float32], str]:
    """Return a heat map's values fitted to a tile (reduced where they were filtered); say how."""
    if heat.factor > 1:
        return heat.values, f"{_size(heat.shape)}, shown at 1/{heat.factor} (strongest)"
    return _enlarged(heat.values)


def _enlarged(array: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], str]:
    """Enlarge a picture under ``SMALLEST`` pixels a side, each pixel an N x N square.

    So that a small example stays visible.
    """
    factor = SMALLEST // max(array.shape[:2])
    if factor > 1:
        return enlarged(array, factor), f"{_size(array.shape)}, shown at {factor}x"
    return array, _size(array.shape)


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}x{shape[1]}"


def layout(rows: list[list[Tile]], title: list[str], columns: int = COLUMNS) -> Image.Image:
    """Place the tiles on a sheet: rows of at most ``columns``, a label under each tile.

    Every column is as wide as the widest tile; each row as high as its highest.
    """
    label_font, title_font = font(LABEL_SIZE), font(14)
    tiles = [tile for row in rows for tile in row]
    texts = [min(_length(label_font, text), MONTAGE_TILE) for t in tiles for text in t.lines]
    width = max([NARROWEST, *texts, *(t.size[0] for t in tiles)])
    lines = max((tile.rows_of_text for tile in tiles), default=0)
    grid = [row[start : start + columns] for row in rows for start in range(0, len(row), columns)]
    heights = [max([LINE * 2, *(t.size[1] for t in line)]) for line in grid]
    below = 4 + lines * LINE + GAP  # the labels under a row
    widest = max((len(line) for line in grid), default=1)
    sheet_width = max(GAP + widest * (width + GAP), TITLE_WIDTH)
    title = [part for text in title for part in _wrapped(title_font, text, sheet_width - 2 * GAP)]
    top = GAP + len(title) * 18 + GAP
    sheet_height = top + sum(GAP + height + below for height in heights)
    sheet = Image.new("RGB", (sheet_width, sheet_height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for number, text in enumerate(title):
        draw.text((GAP, GAP + number * 18), text, fill=INK, font=title_font)
    y = top
    for line, height in zip(grid, heights, strict=True):
        draw.line([(GAP, y), (sheet_width - GAP, y)], fill=FAINT)
        for c, tile in enumerate(line):
            corner = (GAP + c * (width + GAP), y + GAP)
            _place(sheet, draw, tile, corner, (width, height), label_font)
        y += GAP + height + below
    return sheet


def _place(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    tile: Tile,
    corner: tuple[int, int],
    box: tuple[int, int],
    label_font: Font,
) -> None:
    """Draw one tile, centred in its box (the picture beside it too), and its label below."""
    x, y = corner
    if tile.rgb is None and tile.beside is None:
        draw.rectangle([x, y, x + box[0] - 1, y + box[1] - 1], outline=FAINT, fill=(245, 245, 245))
    left = x + (box[0] - tile.size[0]) // 2
    for picture in (tile.rgb, tile.beside):
        if picture is None:
            continue
        h, w = picture.shape[:2]
        top = y + (box[1] - h) // 2
        # A frame just outside the tile: a picture's white edge would melt into the sheet.
        draw.rectangle([left - 1, top - 1, left + w, top + h], outline=FRAME)
        sheet.paste(Image.fromarray(picture), (left, top))
        left += w + BESIDE_GAP
    below = y + box[1] + 4
    for number, text in enumerate(tile.lines):  # centred under the tile, as montage does
        shown = fitted(text, LABEL_SIZE, box[0], keep_end=True)
        left = x + (box[0] - _length(label_font, shown)) // 2
        draw.text((left, below + number * LINE), shown, fill=INK, font=label_font)
    if tile.scale is not None:
        colormap, low, high = tile.scale
        where = (x, below + len(tile.lines) * LINE)
        scale_bar(draw, where, box[0], colormap, (f"{low:.4g}", f"{high:.4g}"), label_font)


def scale_bar(
    draw: ImageDraw.ImageDraw,
    where: tuple[int, int],
    width: int,
    colormap: str,
    ends: tuple[str, str],
    label_font: Font,
    middle: str = "",
) -> None:
    """Write a colour scale on one line: the low end's number, the map's colours, the high's."""
    x, y = where
    low, high = ends
    draw.text((x, y), low, fill=INK, font=label_font)
    left = x + _length(label_font, low) + 5
    right = x + width - _length(label_font, high) - 5
    draw.text((right + 5, y), high, fill=INK, font=label_font)
    if right - left < 8:
        return
    table = lookup_table(colormap)
    top, bottom = y + 3, y + LINE - 4
    for i in range(right - left):
        colour = table[round(255 * i / max(1, right - left - 1))]
        draw.line([(left + i, top), (left + i, bottom)], fill=(*map(int, colour),))
    if middle:  # a mark and its number at the centre (0 of a diverging scale)
        centre = (left + right) // 2
        draw.line([(centre, top - 2), (centre, bottom + 2)], fill=INK)
        draw.text((centre - _length(label_font, middle) // 2, bottom + 3), middle, fill=INK,
                  font=label_font)  # fmt: skip


def _length(face: Font, text: str) -> int:
    return math.ceil(face.getlength(text))


def _wrapped(face: Font, text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` pixels, at spaces (not no-break ones).

    No-break spaces are drawn as spaces: the bundled font has no glyph for them.
    """
    lines = [""]
    for word in text.split(" "):
        joined = f"{lines[-1]} {word}" if lines[-1] else word
        if lines[-1] and _length(face, joined.replace("\u00a0", " ")) > width:
            lines.append(word)
        else:
            lines[-1] = joined
    return [line.replace("\u00a0", " ") for line in lines]
