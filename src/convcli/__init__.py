"""convcli: apply convolution kernels to images, signals and volumes.

The library (README, "The library"): :func:`apply` (what ``convcli apply``
does to one input, the result returned), :func:`batch` (what it does to
files and folders: jobs, a cluster, a report, a contact sheet), the
:class:`Report` of each input, :func:`kernel` and :func:`kernels`
(kernels by their spec, as the command line names them), :func:`read` and
:func:`write` (images at full depth, with their frames and metadata),
:func:`convolve` and :func:`output_shape` (the engine), the stages of a
layer around it (:func:`max_pool`, :func:`avg_pool`, :func:`relu`,
:func:`leaky_relu`, :func:`tanh`, :func:`sigmoid`, :func:`absolute`),
:func:`explain` (a convolution worked out step by step, and drawn), the types
they return, and the errors they raise. Each is loaded on first use, so that ``import convcli``
(and ``convcli --help``) stays fast.
"""

from convcli._version import __version__
from convcli.errors import ConvcliError, InputError, KernelError, ParameterError, UsageError

# Not typing's: importing typing would take longer than the rest of `import convcli`.
# Type checkers take any TYPE_CHECKING for theirs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from convcli.catalog.kernel import Kernel
    from convcli.engine import (
        absolute,
        avg_pool,
        leaky_relu,
        max_pool,
        output_shape,
        relu,
        sigmoid,
        tanh,
    )
    from convcli.explanation import Explanation
    from convcli.layer_explanation import LayerExplanation
    from convcli.library.apply import apply
    from convcli.library.batch import Batch, batch
    from convcli.library.convolve import convolve
    from convcli.library.explain import explain
    from convcli.library.images import Image, read, write
    from convcli.library.kernels import kernel, kernels
    from convcli.report import Report


# Where each of the names loaded on first use lives.
_LAZY = {
    "Batch": "convcli.library.batch",
    "Explanation": "convcli.explanation",
    "Image": "convcli.library.images",
    "Kernel": "convcli.catalog.kernel",
    "LayerExplanation": "convcli.layer_explanation",
    "Report": "convcli.report",
    "absolute": "convcli.engine",
    "apply": "convcli.library.apply",
    "avg_pool": "convcli.engine",
    "batch": "convcli.library.batch",
    "convolve": "convcli.library.convolve",
    "explain": "convcli.library.explain",
    "kernel": "convcli.library.kernels",
    "kernels": "convcli.library.kernels",
    "leaky_relu": "convcli.engine",
    "max_pool": "convcli.engine",
    "output_shape": "convcli.engine",
    "read": "convcli.library.images",
    "relu": "convcli.engine",
    "sigmoid": "convcli.engine",
    "tanh": "convcli.engine",
    "write": "convcli.library.images",
}
__all__ = [
    "Batch",
    "ConvcliError",
    "Explanation",
    "Image",
    "InputError",
    "Kernel",
    "KernelError",
    "LayerExplanation",
    "ParameterError",
    "Report",
    "UsageError",
    "__version__",
    "absolute",
    "apply",
    "avg_pool",
    "batch",
    "convolve",
    "explain",
    "kernel",
    "kernels",
    "leaky_relu",
    "max_pool",
    "output_shape",
    "read",
    "relu",
    "sigmoid",
    "tanh",
    "write",
]
del TYPE_CHECKING


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once loaded, an ordinary attribute
        return value
    raise AttributeError(f"module 'convcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
