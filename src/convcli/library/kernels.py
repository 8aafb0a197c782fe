"""``convcli.kernel``, ``kernels`` and ``convolve``: kernels by their spec, as the CLI says them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeAlias

import numpy as np
import numpy.typing as npt

from convcli import engine
from convcli.catalog.families import FAMILIES
from convcli.catalog.kernel import Kernel
from convcli.catalog.lookup import load_kernel, named_kernels
from convcli.choices import check_choice
from convcli.errors import ParameterError

P = ParamSpec("P")
Response: TypeAlias = "npt.NDArray[np.floating]"
KernelLike: TypeAlias = "str | Kernel | npt.ArrayLike"


def kernel(spec: str) -> Kernel:
    """Return the kernel a spec names, as ``convcli apply -k SPEC`` takes it.

    Parameters
    ----------
    spec : str
        A name (``sobel-x``, or one in ``CONVCLI_KERNEL_PATH``'s folders), a
        family with parameters (``gaussian:sigma=2``, ``box:5``), a kernel
        file (``file.toml`` or ``file.toml:name``), a matched filter
        (``template:circle.png``) or an inline matrix (``"[[0,1,0],[1,-4,1],[0,1,0]]"``);
        ImageMagick's kernel strings too (README, "Kernels").

    Returns
    -------
    Kernel
        Its ``matrix`` (float64; None for a combined kernel such as ``sobel``,
        whose ``components`` have one each), ``name``, ``description``,
        ``range`` (the output mapping it asks for; None: ``clip``), ``tags``,
        ``separable``, ``rank``, ``bias``, ``source``.

    Raises
    ------
    KernelError
        The spec names nothing, or what it names is invalid; the message
        says where, and suggests close names.

    Examples
    --------
    >>> import convcli
    >>> sobel_x = convcli.kernel("sobel-x")
    >>> sobel_x.matrix
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    >>> print(sobel_x.range, sobel_x.separable, sobel_x.tags)
    abs True ('edge', 'gradient')
    >>> convcli.kernel("gaussian:sigma=0.5,size=3").matrix.round(3)
    array([[0.011, 0.084, 0.011],
           [0.084, 0.619, 0.084],
           [0.011, 0.084, 0.011]])
    >>> [part.name for part in convcli.kernel("sobel").components]
    ['sobel-x', 'sobel-y']
    >>> convcli.kernel("sobel-z")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: unknown kernel 'sobel-z'; did you mean sobel-y, sobel-x, sobel? ...
    """
    if not isinstance(spec, str):
        raise ParameterError(
            f"spec must be a kernel spec, a string, got {type(spec).__name__}", parameter="spec"
        )
    return load_kernel(spec)


def kernels(tag: str | None = None) -> list[Kernel]:
    """List every kernel: built-in, those in ``CONVCLI_KERNEL_PATH``, then the families.

    What ``convcli kernels list`` shows: each family at its defaults
    (``gaussian`` is ``gaussian:sigma=1``); :func:`convcli.kernel` gives
    one with other parameters.

    Parameters
    ----------
    tag : str, optional
        Only the kernels with this tag (``edge``, ``blur``, ...).

    Returns
    -------
    list of Kernel

    Raises
    ------
    ParameterError
        ``tag`` is no kernel's tag.

    Examples
    --------
    >>> import convcli
    >>> [k.name for k in convcli.kernels(tag="laplacian")]
    ['laplacian', 'laplacian-8']
    >>> convcli.kernels()[-1]
    Kernel('log', shape=(7, 7), range='abs', source='built-in family')
    """
    found = [*named_kernels().values(), *(family.kernel() for family in FAMILIES.values())]
    if tag is None:
        return found
    check_choice("tag", tag, sorted({t for kernel in found for t in kernel.tags}))
    return [kernel for kernel in found if tag in kernel.tags]


def _taking_specs(
    convolve: Callable[Concatenate[npt.ArrayLike, npt.ArrayLike, P], Response],
) -> Callable[Concatenate[npt.ArrayLike, KernelLike, P], Response]:
    """Make the engine's ``convolve`` take a kernel spec or a :class:`Kernel` as well.

    The engine stays NumPy's alone: a spec is resolved here, above it. A
    combined kernel is the magnitude of its components' responses, and a
    kernel's bias is added, as ``convcli apply`` computes them.
    """

    def taking_specs(
        x: npt.ArrayLike, kernel: KernelLike, /, *args: P.args, **options: P.kwargs
    ) -> Response:
        chosen = load_kernel(kernel) if isinstance(kernel, str) else kernel
        if not isinstance(chosen, Kernel):
            return convolve(x, chosen, *args, **options)
        from convcli.run.pipeline import combined  # with the pipeline's modules: for a Kernel only

        parts = [convolve(x, matrix, *args, **options) for matrix in chosen.matrices]
        return combined(parts, chosen.bias)

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

convolve = _taking_specs(engine.convolve)
