"""convcli: apply convolution kernels to images, signals and volumes.

The library API is :func:`convolve` and :func:`output_shape`. They are loaded
on first use, so that ``import convcli`` (and ``convcli --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convcli.errors import ConvcliError, ParameterError

if TYPE_CHECKING:
    from convcli.engine import convolve, output_shape

__version__ = "0.2.0"
__all__ = ["ConvcliError", "ParameterError", "__version__", "convolve", "output_shape"]

_LAZY = {"convolve": "convcli.engine", "output_shape": "convcli.engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'convcli' has no attribute {name!r}")
