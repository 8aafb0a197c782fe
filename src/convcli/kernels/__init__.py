"""Kernels: what a kernel is, where kernels come from, and the parametric families.

``kernel`` defines a kernel; ``catalog`` finds one from a spec (built-in
files, user folders, kernel files, inline matrices); ``families`` builds
``gaussian:sigma=2`` and its kin; ``template`` cuts a matched filter from a
picture. Pure Python until a matrix is built.

The package is also the library's ``convcli.kernels()``: called, it lists
the catalog. One name cannot be both a subpackage and a function of
``convcli`` (importing the subpackage would replace the function), so the
package itself is callable.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import inspect

    from convcli.kernels.kernel import Kernel


def listed(tag: str | None = None) -> list[Kernel]:
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
    from convcli.choices import check_choice
    from convcli.kernels.catalog import named_kernels
    from convcli.kernels.families import FAMILIES

    found = [*named_kernels().values(), *(family.kernel() for family in FAMILIES.values())]
    if tag is None:
        return found
    check_choice("tag", tag, sorted({t for kernel in found for t in kernel.tags}))
    return [kernel for kernel in found if tag in kernel.tags]


class _Callable(types.ModuleType):
    __call__ = staticmethod(listed)

    @property
    def __signature__(self) -> inspect.Signature:  # the function's, not a method's
        import inspect  # only when asked: `kernels list` starts without it

        return inspect.signature(listed)


sys.modules[__name__].__class__ = _Callable
