"""The convolution engine: NumPy only, no files, no terminal, no CLI.

What other packages use is exported here; the modules behind it are
private. Names are loaded on first use, so that planning a shape with
:func:`resolve_geometry` (pure Python) does not load NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers: `import X as X` re-exports X
    from convcli.engine._api import convolve as convolve
    from convcli.engine._bands import band_rows as band_rows
    from convcli.engine._bands import convolve_bands as convolve_bands
    from convcli.engine._bands import integer_bands as integer_bands
    from convcli.engine._bands import mapped_sums as mapped_sums
    from convcli.engine._bands import padded_reads as padded_reads
    from convcli.engine._borders import canonical_pad_mode as canonical_pad_mode
    from convcli.engine._borders import pad as pad
    from convcli.engine._borders import source_index as source_index
    from convcli.engine._geometry import AxisInts as AxisInts
    from convcli.engine._geometry import Geometry as Geometry
    from convcli.engine._geometry import PaddingSpec as PaddingSpec
    from convcli.engine._geometry import output_shape as output_shape
    from convcli.engine._geometry import resolve_geometry as resolve_geometry
    from convcli.engine._layer import LayerPlan as LayerPlan
    from convcli.engine._layer import convolve_channels as convolve_channels
    from convcli.engine._layer import convolve_layer as convolve_layer
    from convcli.engine._layer import layer_asked as layer_asked
    from convcli.engine._layer import plan_layer as plan_layer
    from convcli.engine._methods import choose_method as choose_method
    from convcli.engine._methods import estimate_costs as estimate_costs
    from convcli.engine._methods import work as work
    from convcli.engine._plan import Convolution as Convolution
    from convcli.engine._plan import ConvolutionPlan as ConvolutionPlan
    from convcli.engine._plan import as_real_array as as_real_array
    from convcli.engine._pool import absolute as absolute
    from convcli.engine._pool import avg_pool as avg_pool
    from convcli.engine._pool import leaky_relu as leaky_relu
    from convcli.engine._pool import max_pool as max_pool
    from convcli.engine._pool import relu as relu
    from convcli.engine._pool import sigmoid as sigmoid
    from convcli.engine._pool import tanh as tanh

_HOMES = {
    "convolve": "_api",
    "band_rows": "_bands",
    "convolve_bands": "_bands",
    "integer_bands": "_bands",
    "mapped_sums": "_bands",
    "padded_reads": "_bands",
    "canonical_pad_mode": "_borders",
    "pad": "_borders",
    "source_index": "_borders",
    "AxisInts": "_geometry",
    "Geometry": "_geometry",
    "PaddingSpec": "_geometry",
    "output_shape": "_geometry",
    "resolve_geometry": "_geometry",
    "choose_method": "_methods",
    "estimate_costs": "_methods",
    "work": "_methods",
    "Convolution": "_plan",
    "ConvolutionPlan": "_plan",
    "as_real_array": "_plan",
    "convolve_channels": "_layer",  # the layer and its stages (issue 28)
    "LayerPlan": "_layer",
    "convolve_layer": "_layer",
    "layer_asked": "_layer",
    "plan_layer": "_layer",
    "absolute": "_pool",
    "avg_pool": "_pool",
    "leaky_relu": "_pool",
    "max_pool": "_pool",
    "relu": "_pool",
    "sigmoid": "_pool",
    "tanh": "_pool",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'convcli.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"convcli.engine.{_HOMES[name]}"), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return __all__
