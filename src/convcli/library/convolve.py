"""``convcli.convolve``: the engine's, taking a kernel spec or a :class:`Kernel` as well."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli import engine
from convcli.catalog.kernel import Kernel
from convcli.catalog.lookup import load_kernel

P = ParamSpec("P")
Response: TypeAlias = "npt.NDArray[np.floating]"
KernelLike: TypeAlias = "str | Kernel | npt.ArrayLike"


def _taking_specs(
    convolve: Callable[Concatenate[npt.ArrayLike, npt.ArrayLike, P], Response],
) -> Callable[Concatenate[npt.ArrayLike, KernelLike, P], Response]:
    """Make the engine's ``convolve`` take a kernel spec or a :class:`Kernel` as well.

    The engine stays NumPy's alone: a spec is resolved here, above it. A
    combined kernel is the magnitude (a set: the largest) of its components'
    responses, and a kernel's bias is added, as ``convcli apply`` computes them.
    """

    def taking_specs(
        x: npt.ArrayLike, kernel: KernelLike, /, *args: P.args, **options: P.kwargs
    ) -> Response:
        chosen = load_kernel(kernel) if isinstance(kernel, str) else kernel
        if not isinstance(chosen, Kernel):
            return convolve(x, chosen, *args, **options)
        from convcli.run.filtering import combined  # with the pipeline's modules: for a Kernel only

        parts = [convolve(x, matrix, *args, **options) for matrix in chosen.matrices]
        return combined(parts, chosen.bias, chosen.combine)

    # The engine's name, parameters and documentation, with the kernel's wider type.
    signature = inspect.signature(convolve)
    wider = signature.parameters["kernel"].replace(annotation="str | Kernel | ArrayLike")
    taking_specs.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[wider if p.name == "kernel" else p for p in signature.parameters.values()]
    )
    taking_specs.__name__ = taking_specs.__qualname__ = convolve.__name__
    engine_doc = (convolve.__doc__ or "").split("\n", 1)[1].rstrip() + "\n"
    taking_specs.__doc__ = _SPEC_DOC + engine_doc + _SPEC_EXAMPLES
    return taking_specs


_SPEC_DOC = """Cross-correlate (or, with ``flip``, convolve) an array with a kernel.

    ``kernel`` is a matrix, a kernel spec as :func:`convcli.kernel` takes it
    (``"sobel-x"``, ``"gaussian:sigma=2"``), or a :class:`Kernel`. Of a kernel
    with a bias, the bias is added to the response; of a combined kernel
    (``"sobel"``), the response is the magnitude of its components' (the
    square root of the sum of their squares), as ``convcli apply`` computes
    them before mapping the range.
"""
_SPEC_EXAMPLES = """
    A kernel by its spec, and a combined one:

    >>> import convcli
    >>> step = np.repeat([[0, 0, 0, 9, 9, 9]], 3, axis=0)
    >>> convcli.convolve(step, "sobel-x", pad_mode="replicate")
    array([[ 0.,  0., 36., 36.,  0.,  0.],
           [ 0.,  0., 36., 36.,  0.,  0.],
           [ 0.,  0., 36., 36.,  0.,  0.]], dtype=float32)
    >>> convcli.convolve(step, "sobel", padding="valid").tolist()
    [[0.0, 36.0, 36.0, 0.0]]
"""

convolve = _taking_specs(engine.convolve_channels)  # the engine's, and a layer with channels="sum"
