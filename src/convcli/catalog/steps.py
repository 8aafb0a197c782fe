"""A layer's steps in the ``-k`` pipeline: activations and pools, read from their specs.

``relu``, ``leaky-relu[:SLOPE]``, ``tanh``, ``sigmoid``, ``abs``, and
``maxpool:K[,STRIDE[,PADDING]]``, ``avgpool:K[,STRIDE[,PADDING]]`` (the
stride is K unless given, as in PyTorch). Their names come before every
kernel's: a kernel file's kernel named ``relu`` is not reached by ``-k relu``.
"""

from __future__ import annotations

from convcli.catalog.kernel import LEAKY_SLOPE, Kernel, Step, finite_number
from convcli.catalog.lookup import load_kernel
from convcli.choices import Activation, Pool
from convcli.errors import KernelError
from convcli.limits import MAX_KERNEL_SIZE

STEP_NAMES = (*Activation, *Pool)


def load_stage(spec: str) -> Kernel | Step:
    """Resolve one ``-k`` spec of a pipeline: a step, else a kernel (:func:`load_kernel`).

    Examples
    --------
    >>> load_stage("maxpool:3,2,1")
    Step(name='maxpool:3,2,1', kind=<Pool.MAX: 'maxpool'>, slope=0.01, size=3, stride=2, padding=1)
    >>> load_stage("sobel-x").name
    'sobel-x'
    """
    step = read_step(spec)
    return step if step is not None else load_kernel(spec)


def read_step(spec: str) -> Step | None:
    """Return the step ``spec`` names, or None if it names none.

    Raises
    ------
    KernelError
        A step's parameters are wrong; the message shows its form.
    """
    name, sep, params = spec.strip().partition(":")
    if name not in STEP_NAMES:
        return None
    if name in tuple(Pool):
        return _pool(Pool(name), params, spec.strip())
    kind = Activation(name)
    if kind is not Activation.LEAKY_RELU:
        if sep:
            raise KernelError(f"{name} takes no parameters, got {spec.strip()!r}")
        return Step(name, kind)
    slope = LEAKY_SLOPE if not sep else _number(params, f"{name}:SLOPE")
    return Step(f"{name}:{slope:g}" if sep else name, kind, slope=slope)


def _pool(kind: Pool, params: str, spec: str) -> Step:
    """Read a pool's ``K[,STRIDE[,PADDING]]``: whole numbers, its padding at most half of K."""
    form = f"{kind}:K[,STRIDE[,PADDING]]"
    parts = [part.strip() for part in params.split(",")] if params.strip() else []
    if not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        raise KernelError(f"{spec!r}: a pool is {form}, whole numbers (maxpool:2 or {kind}:3,2,1)")
    size = int(parts[0])
    stride = int(parts[1]) if len(parts) > 1 else size
    padding = int(parts[2]) if len(parts) > 2 else 0
    if not 1 <= size <= MAX_KERNEL_SIZE or stride < 1:
        raise KernelError(
            f"{spec!r}: a pool's window is 1 to {MAX_KERNEL_SIZE} and its stride 1 or more"
        )
    if padding > size // 2:
        raise KernelError(
            f"{spec!r}: a pool's padding is at most half its window ({size // 2} for {size}), "
            "as in PyTorch"
        )
    name = f"{kind}:{size}" + (f",{stride}" if (stride, padding) != (size, 0) else "")
    name += f",{padding}" if padding else ""
    return Step(name, kind, size=size, stride=stride, padding=padding)


def _number(text: str, form: str) -> float:
    value = finite_number(text)
    if value is None:
        raise KernelError(f"{form}: {text!r} is not a finite number")
    return value
