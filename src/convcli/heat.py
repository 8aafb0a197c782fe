"""A response reduced to a contact sheet's heat-map tile, where it is filtered.

With a sheet of values asked for (``apply --montage-scale``), a bank's job
reduces its last stage's response band by band as the pipeline makes it,
where the job runs (this process, a worker process, a Dask worker): only
the tile, at most ``MONTAGE_TILE`` pixels a side, and the response's peak
travel back with its report, never the full-size response. A layer's job
(``apply -k LAYER --montage``) reduces its feature maps so, each on its
own. Arithmetic on arrays alone: the sheet colours and draws it
(:mod:`convcli.pictures.montage`, :mod:`convcli.pictures.feature_maps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.limits import MAX_MONTAGE_TILES, MONTAGE_TILE

Values = npt.NDArray[np.float32]


FEW_MAPS = 16  # a layer's sheet of at most this many maps shows them up to MONTAGE_TILE a side


def reduction(shape: tuple[int, ...], side: int = MONTAGE_TILE) -> int:
    """Return the whole factor that makes the longest side ``side`` or under (1: none)."""
    return max(1, math.ceil(max(shape[:2]) / side))


def tile_side(shape: tuple[int, ...]) -> int:
    """Return a tile's longest side: ``MONTAGE_TILE``, or half that for a layer's many maps."""
    return MONTAGE_TILE if len(shape) < 3 or shape[2] <= FEW_MAPS else MONTAGE_TILE // 2


@dataclass(frozen=True)
class HeatTile:
    """A response's values reduced by ``factor`` (1: as they are), and its peak.

    A layer's response, ``(H, W, C)``, keeps its first ``MAX_MONTAGE_TILES``
    maps, ``(h, w, C')``, and each one's peak in ``peaks``.
    """

    values: Values
    shape: tuple[int, ...]  # the response's, before reduction
    factor: int
    peak: float  # the largest finite magnitude of the whole response (0 if none is finite)
    peaks: tuple[float, ...] = ()  # of each map kept, for a response of several


class HeatReducer:
    """Reduce a response to its :class:`HeatTile` from its bands of rows, in order.

    Each block of N x N becomes its value of largest magnitude, sign kept (a
    mean would cancel the thin lines of opposite sign that an edge or a
    Laplacian draws); rows short of a whole block wait for the next band.
    A response of several maps, ``(H, W, C)``, is reduced map by map, to
    tiles of :func:`tile_side`; past ``MAX_MONTAGE_TILES`` maps are left out.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._shape, self._factor = shape, reduction(shape, tile_side(shape))
        self._maps = tuple(min(count, MAX_MONTAGE_TILES) for count in shape[2:3])
        self._waiting: Values = np.empty((0, shape[1], *self._maps), dtype=np.float32)
        self._reduced: list[Values] = []
        self._peaks: npt.NDArray[np.float64] = np.zeros(self._maps)

    def add(self, band: npt.NDArray[np.floating]) -> None:
        """Take the next band of rows (what is kept is a copy: the caller may reuse it)."""
        kept = band[..., : self._maps[0]] if self._maps else band
        values = np.asarray(kept, dtype=np.float32)
        if values.size:
            magnitudes = np.where(np.isfinite(values), np.abs(values), 0)
            self._peaks = np.maximum(self._peaks, magnitudes.max(axis=(0, 1)))
        rows = np.concatenate([self._waiting, values])
        whole = len(rows) - len(rows) % self._factor
        self._reduced.append(strongest(rows[:whole], self._factor))
        self._waiting = rows[whole:]

    def tile(self) -> HeatTile:
        """Return the tile, once every band was taken."""
        reduced = [*self._reduced, strongest(self._waiting, self._factor)]
        peaks = tuple(float(peak) for peak in np.atleast_1d(self._peaks))
        return HeatTile(np.concatenate(reduced), self._shape, self._factor,
                        max(peaks, default=0.0), peaks if self._maps else ())  # fmt: skip


def strongest(values: Values, factor: int) -> Values:
    """Reduce values by ``factor``: each block of N x N becomes its value of largest magnitude.

    Any axes after the first two (a layer's maps) are reduced each on its own.
    """
    if factor == 1:
        return values
    rows, cols = (math.ceil(side / factor) for side in values.shape[:2])
    rest = values.shape[2:]
    padded = np.zeros((rows * factor, cols * factor, *rest), dtype=np.float32)  # 0 never outweighs
    padded[: values.shape[0], : values.shape[1]] = values
    by_block = np.moveaxis(padded.reshape(rows, factor, cols, factor, *rest), 2, 1)
    blocks = by_block.reshape(rows, cols, factor * factor, *rest)
    chosen = np.nan_to_num(np.abs(blocks), nan=np.inf).argmax(axis=2)  # NaN is shown, too
    picked: Values = np.take_along_axis(blocks, chosen[:, :, np.newaxis], axis=2)
    return picked[:, :, 0]
