"""The convolution engine: NumPy only, no files, no terminal, no CLI."""

from convcli.engine.api import convolve
from convcli.engine.borders import PAD_MODE_ALIASES, PAD_MODES, canonical_pad_mode
from convcli.engine.geometry import Geometry, output_shape, resolve_geometry
from convcli.engine.methods import METHODS, choose_method
from convcli.engine.strips import convolve_strips

__all__ = [
    "METHODS",
    "PAD_MODES",
    "PAD_MODE_ALIASES",
    "Geometry",
    "canonical_pad_mode",
    "choose_method",
    "convolve",
    "convolve_strips",
    "output_shape",
    "resolve_geometry",
]
