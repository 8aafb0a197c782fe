"""convcli past one machine: Dask arrays filtered tile by tile, batches on a Dask cluster.

Dask comes with the ``distributed`` extra (``pip install "convcli[distributed]"``)
and is imported only here, when one of these is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convcli import extras

if TYPE_CHECKING:  # the same names, for type checkers (tests/test_layers.py ties the two)
    from convcli.distributed.tiles import convolve as convolve

_HOMES = {"convolve": "tiles"}  # loaded on first use: Dask is imported only then
__all__ = ["convolve", "need"]


def need(module: str) -> Any:
    """Import ``module`` of the distributed extra, or say how to install it (a UsageError)."""
    return extras.need(module, "distributed")


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'convcli.distributed' has no attribute {name!r}")
    return getattr(importlib.import_module(f"convcli.distributed.{_HOMES[name]}"), name)
