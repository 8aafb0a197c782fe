"""A response reduced to a contact sheet's heat-map tile, where it is filtered.

With a sheet of values asked for (``apply --montage-scale``), a bank's job
reduces its last stage's response band by band as the pipeline makes it,
where the job runs (this process, a worker process, a Dask worker): only
the tile, at most ``MONTAGE_TILE`` pixels a side, and the response's peak
travel back with its report, never the full-size response. Arithmetic on
arrays alone: the sheet colours and draws it (:mod:`convcli.pictures.montage`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.limits import MONTAGE_TILE

Values = npt.NDArray[np.float32]


def reduction(shape: tuple[int, ...], side: int = MONTAGE_TILE) -> int:
    """Return the whole factor that makes the longest side ``side`` or under (1: none)."""
    return max(1, math.ceil(max(shape[:2]) / side))


@dataclass(frozen=True)
class HeatTile:
    """A 2-D response's values reduced by ``factor`` (1: as they are), and its peak."""

    values: Values
    shape: tuple[int, ...]  # the response's, before reduction
    factor: int
    peak: float  # the largest finite magnitude of the whole response (0 if none is finite)


class HeatReducer:
    """Reduce a 2-D response to its :class:`HeatTile` from its bands of rows, in order.

    Each block of N x N becomes its value of largest magnitude, sign kept (a
    mean would cancel the thin lines of opposite sign that an edge or a
    Laplacian draws); rows short of a whole block wait for the next band.
    """

    def __init__(self, shape: tuple[int, ...], side: int = MONTAGE_TILE) -> None:
        self._shape, self._factor = shape, reduction(shape, side)
        self._waiting: Values = np.empty((0, shape[1]), dtype=np.float32)
        self._reduced: list[Values] = []
        self._peak = 0.0

    def add(self, band: npt.NDArray[np.floating]) -> None:
        """Take the next band of rows (what is kept is a copy: the caller may reuse it)."""
        values = np.asarray(band, dtype=np.float32)
        finite = values[np.isfinite(values)]
        if finite.size:
            self._peak = max(self._peak, float(np.abs(finite).max()))
        rows = np.concatenate([self._waiting, values])
        whole = len(rows) - len(rows) % self._factor
        self._reduced.append(strongest(rows[:whole], self._factor))
        self._waiting = rows[whole:]

    def tile(self) -> HeatTile:
        """Return the tile, once every band was taken."""
        reduced = [*self._reduced, strongest(self._waiting, self._factor)]
        return HeatTile(np.concatenate(reduced), self._shape, self._factor, self._peak)


def strongest(values: Values, factor: int) -> Values:
    """Reduce values by ``factor``: each block of N x N becomes its value of largest magnitude."""
    if factor == 1:
        return values
    rows, cols = (math.ceil(side / factor) for side in values.shape)
    padded = np.zeros((rows * factor, cols * factor), dtype=np.float32)  # 0 never outweighs
    padded[: values.shape[0], : values.shape[1]] = values
    by_block = padded.reshape(rows, factor, cols, factor).transpose(0, 2, 1, 3)
    blocks = by_block.reshape(rows, cols, factor * factor)
    chosen = np.nan_to_num(np.abs(blocks), nan=np.inf).argmax(axis=2)  # NaN is shown, too
    picked: Values = np.take_along_axis(blocks, chosen[..., None], axis=2)
    return picked[..., 0]
