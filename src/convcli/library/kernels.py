"""``convcli.kernel`` and ``kernels``: kernels by their spec, as the CLI says them.

Without NumPy: a kernel's matrix is built when first asked for, so
``convcli kernels list`` stays as quick as it was.
"""

from __future__ import annotations

import os

from convcli.catalog.families import listed_families
from convcli.catalog.kernel import Kernel
from convcli.catalog.lookup import load_kernel, named_kernels
from convcli.catalog.sets import listed_sets
from convcli.choices import check_choice
from convcli.errors import ParameterError


def kernel(spec: str, *, picture: str | os.PathLike[str] | None = None) -> Kernel:
    """Return the kernel a spec names, as ``convcli apply -k SPEC`` takes it.

    Parameters
    ----------
    spec : str
        A name (``sobel-x``, or one in ``CONVCLI_KERNEL_PATH``'s folders), a
        family with parameters (``gaussian:sigma=2``, ``box:5``), a kernel
        file (``file.toml`` or ``file.toml:name``), a matched filter
        (``template:circle.png``) or an inline matrix (``"[[0,1,0],[1,-4,1],[0,1,0]]"``);
        ImageMagick's kernel strings too (README, "Kernels").
    picture : str or path, optional
        Also draw its weights as a heat map to this file (``kernels show
        --picture``): a coloured cell each, blue negative, red positive, the
        values written where they fit; the format by the suffix (``.png``).

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
    ParameterError
        ``picture`` names no file a picture can be written to.

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
    found = load_kernel(spec)
    if picture is not None:
        from convcli.pictures.kernel_picture import kernel_picture
        from convcli.pictures.montage import picture_path, write_picture

        path, kind = picture_path(os.fspath(picture), "picture")
        write_picture(kernel_picture(found), path, kind)
    return found


def kernels(tag: str | None = None) -> list[Kernel]:
    """List every kernel: built-in, those in ``CONVCLI_KERNEL_PATH``, the families, the sets.

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
    Kernel('freichen', shape=(3, 3), range='rescale', source='built-in set')
    """
    named, sets = named_kernels(), listed_sets()
    taken = {*named, *(kernel.name for kernel in sets)}
    found = [*named.values(), *listed_families(taken), *sets]
    if tag is None:
        return found
    check_choice("tag", tag, sorted({t for kernel in found for t in kernel.tags}))
    return [kernel for kernel in found if tag in kernel.tags]
