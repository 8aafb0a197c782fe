"""A layer's feature maps on one sheet, each beside the weights of the filter that made it.

The sheet of a contact sheet (:func:`convcli.pictures.montage.layout`): a
tile per map, labelled with its filter's index, the map a heat map (reduced
as a bank's heat maps are, each pixel the strongest value of N x N: see
:mod:`convcli.heat`) with its colour scale below, the filter's weights beside
it (:func:`convcli.pictures.montage.filter_pictures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from PIL import Image

from convcli.catalog.kernel import Kernel
from convcli.choices import Colormap, MontageScale, StageKind, Status
from convcli.errors import ConvcliError, ParameterError
from convcli.heat import HeatReducer, HeatTile, tile_side
from convcli.limits import MAX_MONTAGE_TILES
from convcli.pictures.montage import (
    BLOCK,
    Response,
    SheetRequest,
    Tile,
    colour_heat_maps,
    filter_pictures,
    grid_columns,
    heat_tile,
    layout,
    left_out,
    write_picture,
)
from convcli.report import Report
from convcli.run.model import Settings


def feature_sheet(
    maps: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = None,
    colormap: Colormap | str | None = None,
    scale: MontageScale | str = MontageScale.EACH,
    title: Sequence[str] = (),
) -> Image.Image:
    """Draw a layer's feature maps in a grid, each beside its filter's weights.

    Parameters
    ----------
    maps : array, ``(H, W, C)``
        The layer's output, channels last (``(H, W)``: one map).
    weights : array, ``(C, C_in, kh, kw)``
        The filters that made them, PyTorch's layout (``(C_in, kh, kw)``: one).
        Map ``i`` is filter ``i``'s.
    bias : array of ``C`` numbers, optional
        Written under each map's index.
    colormap : str, optional
        The heat maps' colours; values of both signs put 0 in the middle. By
        default ``coolwarm`` (0 grey), or ``magma`` (0 black) when no map
        shown has a negative value (after ``relu``).
    scale : ``each`` or ``shared``
        Each map on its own scale, to its largest magnitude, or all on the
        largest of any.
    title : lines of text
        What the maps are of (the command, the input), above the sheet's own.

    Returns
    -------
    PIL.Image.Image
        RGB. At most ``MAX_MONTAGE_TILES`` maps are shown (the title says
        which were left out), up to ``MONTAGE_TILE`` pixels a side when there
        are at most 16, else half that; the weights take about half a map's
        side.

    Raises
    ------
    ParameterError
        ``maps`` are not 2-D or 3-D, ``weights`` not 3-D or 4-D, or their
        counts (or the bias's) differ.
    """
    values = np.asarray(maps)
    values = values[..., np.newaxis] if values.ndim == 2 else values
    if values.ndim != 3 or values.shape[2] == 0:
        raise ParameterError(
            f"maps must be (H, W, C), channels last; got shape {values.shape}", parameter="maps"
        )
    reducer = HeatReducer(values.shape)
    reducer.add(values)
    return layer_sheet(
        reducer.tile(), weights, bias=bias, colormap=colormap, scale=scale, title=title
    )


def layer_sheet(
    heat: HeatTile,
    weights: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = None,
    colormap: Colormap | str | None = None,
    scale: MontageScale | str = MontageScale.EACH,
    title: Sequence[str] = (),
) -> Image.Image:
    """Draw the sheet of a layer's maps reduced as they were made (a report's ``heat_tile``).

    As :func:`feature_sheet`, whose maps are ``heat``'s: a response of shape
    ``(H, W, C)`` reduced by :class:`convcli.heat.HeatReducer`.
    """
    filters = np.asarray(weights, dtype=np.float64)
    filters = filters[np.newaxis] if filters.ndim == 3 else filters
    biases = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    count = heat.shape[2] if len(heat.shape) == 3 else 1
    _check(count, filters, biases)
    values = heat.values.reshape(*heat.values.shape[:2], -1)
    pictures, legend = filter_pictures(filters, tile_side(heat.shape) // 2)
    tiles, how = [], ""
    for number, peak in enumerate(heat.peaks or (heat.peak,)):
        map_values, how = heat_tile(replace(heat, values=values[..., number]))
        lines = [f"filter {number}"]
        lines += [f"bias {biases[number]:.4g}"] if biases is not None else []
        tiles.append(Tile(lines, values=map_values, peak=peak, beside=pictures[number]))
    shared = MontageScale(scale) == MontageScale.SHARED
    signed = bool((values[..., : len(tiles)] < 0).any())
    colormap = colormap or (Colormap.COOLWARM if signed else Colormap.MAGMA)
    colour_heat_maps(tiles, colormap, shared)
    c_in, kh, kw = filters.shape[1:]
    lines = [
        *title,
        f"{count} feature map{'s' * (count > 1)}, {how}, each beside the weights of the filter "
        f"that made it ({c_in}x{kh}x{kw}), labelled with the filter's index",
        f"maps as {colormap} heat maps of their values, "
        + (
            "all on one scale, to the largest magnitude of any"
            if shared
            else "each on its own scale, to its largest magnitude"
        )
        + (" (0 in the middle where values have both signs)" if signed else "")
        + (f"; reduced, each pixel the strongest value of {BLOCK}" if heat.factor > 1 else ""),
        *legend,
        *left_out(count, MAX_MONTAGE_TILES, "maps", "a sheet shows"),
    ]
    return layout([tiles], lines, grid_columns(len(tiles)))


def _check(
    count: int, filters: npt.NDArray[np.float64], biases: npt.NDArray[np.float64] | None
) -> None:
    if filters.ndim != 4:
        raise ParameterError(
            f"weights must be (C_out, C_in, kh, kw); got shape {filters.shape}",
            parameter="weights",
        )
    if filters.shape[0] != count:
        raise ParameterError(
            f"weights have {_counted(filters.shape[0], 'filter')} but there are "
            f"{_counted(count, 'map')}",
            parameter="weights",
        )
    if biases is not None and len(biases) != count:
        raise ParameterError(
            f"bias has {_counted(len(biases), 'number')} but there are {_counted(count, 'map')}",
            parameter="bias",
        )


def _counted(count: int, thing: str) -> str:
    return f"{count} {thing}{'s' * (count != 1)}"


class LayerSheet:
    """The sheet of a layer run's feature maps (``apply -k w.npy --montage``), from its report.

    The run's one input's output maps, reduced where the job ran (its
    report's ``heat_tile``: the run's options must ask for it,
    ``heat_tiles``), each beside its filter in the pipeline's last layer.
    """

    heat = True  # the values, never the files

    def __init__(self, request: SheetRequest, settings: Settings) -> None:
        self._request, self._settings = request, settings
        self._scale = request.scale or MontageScale.EACH
        self._colormap = settings.colormap
        self._drawn: tuple[str, Report] | None = None

    def add(self, response: Response, report: Report) -> None:
        """Take the report of the run's input (its label names it on the sheet)."""
        self._drawn = (response.label, report)

    def write(self) -> None:
        """Draw the sheet and write it atomically; an input that failed or was skipped has none.

        Raises
        ------
        ConvcliError
            The input ran no layer (an ``.npy`` array's 3-D kernel filters a volume).
        """
        if self._drawn is None:
            return
        label, report = self._drawn
        if report.status != Status.OK:
            return  # failed or skipped: its record says so
        kinds = [stage.kind for stage in report.stages]
        if StageKind.LAYER not in kinds or report.heat_tile is None:
            raise ConvcliError(
                f"{self._request.path}: not drawn: {label} ran no layer (on an .npy array a "
                "3-D kernel filters a volume; a 4-D kernel is a layer)"
            )
        last = len(kinds) - 1 - kinds[::-1].index(StageKind.LAYER)
        layer = self._settings.kernels[last]
        assert isinstance(layer, Kernel)
        after = [stage.kernel for stage in report.stages[last + 1 :]]
        shape = "x".join(map(str, layer.shape))
        title = [f"{label}: the feature maps of the layer {layer.name} ({shape})"
                 + (f", then {', '.join(after)}" if after else "")]  # fmt: skip
        image = layer_sheet(report.heat_tile, layer.matrices[0], bias=layer.filter_bias,
                            colormap=self._colormap, scale=self._scale, title=title)  # fmt: skip
        write_picture(image, self._request.path, self._request.kind)
