"""convcli past one machine: Dask arrays filtered tile by tile, batches on a Dask cluster.

Dask comes with the ``distributed`` extra (``pip install "convcli[distributed]"``)
and is imported only here, when one of these is used.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from convcli.errors import UsageError

if TYPE_CHECKING:
    from convcli.distributed.tiles import convolve as convolve

__all__ = ["convolve", "need"]


def need(module: str) -> Any:
    """Import ``module`` of the distributed extra, or say how to install it.

    Raises
    ------
    UsageError
        When the extra is not installed.
    """
    try:
        imported: ModuleType = importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"this needs {module.split('.')[0]}, which comes with the distributed extra: "
            'pip install "convcli[distributed]"'
        ) from None
    return imported


def __getattr__(name: str) -> Any:
    if name == "convolve":
        from convcli.distributed.tiles import convolve

        return convolve
    raise AttributeError(f"module 'convcli.distributed' has no attribute {name!r}")
