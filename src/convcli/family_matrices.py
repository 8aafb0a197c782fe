"""The matrices of the kernel families; loaded only when a family kernel is applied."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from convcli.kernel import Matrix


def _centred(size: int) -> tuple[Matrix, Matrix]:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    return rows, cols


def box(side: int) -> Matrix:
    """Build a ``side`` x ``side`` mean filter."""
    return np.full((side, side), 1.0 / (side * side))


def gaussian(side: int, sigma: float) -> Matrix:
    """Build a normalised, sampled 2-D Gaussian."""
    rows, cols = _centred(side)
    weights = np.exp(-(rows**2 + cols**2) / (2 * sigma**2))
    return weights / weights.sum()  # type: ignore[no-any-return]


def disk(side: int, r: float) -> Matrix:
    """Build a normalised flat disk: every pixel within ``r`` of the centre."""
    rows, cols = _centred(side)
    inside = (rows**2 + cols**2 <= r * r).astype(np.float64)
    return inside / inside.sum()  # type: ignore[no-any-return]


def log(side: int, sigma: float) -> Matrix:
    """Build the Laplacian of a Gaussian, zero-sum so that flat regions give 0."""
    rows, cols = _centred(side)
    q = (rows**2 + cols**2) / (2 * sigma**2)
    weights = -(1 - q) * np.exp(-q) / (math.pi * sigma**4)
    return weights - weights.mean()  # type: ignore[no-any-return]


def build(family: str, side: int, **parameters: float) -> Matrix:
    """Build the matrix of ``family`` with a side of ``side`` and its parameters."""
    builders: dict[str, Callable[..., Matrix]] = {
        "box": box, "gaussian": gaussian, "disk": disk, "log": log
    }  # fmt: skip
    return builders[family](side, **parameters)
