"""Sets of kernels: a kernel at every 45 or 90 degrees (``sobel@``, ``sobel>``), and named sets.

A set is a combined kernel: without ``--bank`` its response is the largest
of its members' (ImageMagick's Kirsch edge magnitude; ``rescale`` unless
``--range`` says otherwise, as the magnitude kernels), with ``--bank`` each
member is an output of its own, named by its angle. ``freichen``, Frei and
Chen's nine masks, combines them as they do: the share of its four edge
masks in the nine's response. A family with an angle
(or Gabor's ``theta``) turns by it: each member is that family at its angle,
so its name is a spec of its own (``sobel:angle=45``); another named 2-D
kernel has its matrix turned (``sobel-x@90``: ``sobel-x:angle=90``, ...).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from convcli.catalog.kernel import FREI_CHEN, MAXIMUM, Kernel, Matrix, Step, finite_number
from convcli.choices import Range
from convcli.errors import KernelError, Message, ParameterError

if TYPE_CHECKING:
    from convcli.catalog.families import Family

# The families are imported where a set needs them (a kernel such as sobel-x needs none).

SET_TAG = "set"
MAX_MEMBERS = 64  # as many kernels as a bank takes
# "sobel@" (every 45 degrees), "sobel>" (every 90), "gabor:2@30" (every 30).
SET_SPEC = re.compile(r"(?P<base>[^@>]+)(?:@(?P<step>.*)|(?P<quarter>>))")
# Sets by name: what they stand for, and what they are.
NAMED_SETS = {
    "kirsch": (
        "kirsch@45",
        "Kirsch's edge magnitude: the largest response of its 8 compass "
        "kernels (ImageMagick's Kirsch@); with --bank each its own output",
    ),
    "compass": (
        "compass@45",
        "Prewitt's compass edge magnitude: the largest response of its 8 "
        "kernels (ImageMagick's Compass@); with --bank each its own output",
    ),
}
# Frei and Chen's nine masks, ImageMagick's FreiChen:11 to :19 (its FreiChen:10 is all
# nine): four edge masks first, then four line masks and the average.
_FREICHEN_MASKS = range(11, 20)
_FREICHEN_NAMES = ("freichen", "freichen:10")


def _step(spec: str, text: str) -> float:
    """Read the degrees after ``@`` (45 when none are given)."""
    step = finite_number(text or "45")
    if step is None:
        raise KernelError(f"{spec}: a set is NAME@DEGREES (as sobel@45) or NAME> (every 90 "
                          f"degrees); {text!r} is not a number of degrees")  # fmt: skip
    return step


def family_named(name: str) -> Family | None:
    """Return the family ``name`` names: as written, or as ImageMagick writes it (``Sobel``)."""
    from convcli.catalog.families import FAMILIES

    return FAMILIES.get(name) or FAMILIES.get(name.lower())


def named_set(name: str) -> Kernel | None:
    """Return the set named ``kirsch``, ``Compass``, ``freichen`` or ``FreiChen:10``, or None."""
    if name.lower() in _FREICHEN_NAMES:
        return _freichen_set()
    if name.lower() not in NAMED_SETS:
        return None
    spec, description = NAMED_SETS[name.lower()]
    kernel = set_kernel(spec, _nothing)
    return kernel and replace(kernel, name=name.lower(), description=description)


def _nothing(name: str) -> Kernel | None:
    return None


def set_kernel(spec: str, find: Callable[[str], Kernel | None]) -> Kernel | None:
    """Return the rotation set ``spec`` names (``sobel@``, ``sobel>``, ``gabor:2@30``), or None.

    A family with an angle turns by it; another kernel, which ``find``
    finds by its name (``sobel-x@``), has its matrix turned (see :func:`turn`).

    Raises
    ------
    KernelError
        ``spec`` is a set of a kernel with no angle, of a step that does not
        divide 360, of too many members, or of members of different shapes.

    Examples
    --------
    >>> [part.name for part in set_kernel("sobel>", _nothing).components]
    ['sobel:angle=0', 'sobel:angle=90', 'sobel:angle=180', 'sobel:angle=270']
    """
    match = SET_SPEC.fullmatch(spec)
    if match is None:
        return None
    from convcli.catalog.families import FAMILIES

    step = 90.0 if match["quarter"] else _step(spec, match["step"])
    count = round(360 / step) if step else 0
    if not 2 <= count <= MAX_MEMBERS or count * step != 360:
        raise KernelError(
            f"{spec}: the step must divide 360 degrees into 2 to {MAX_MEMBERS} turns, got {step:g}"
        )
    angles = [index * step for index in range(count)]
    name, _, text = match["base"].partition(":")
    family = family_named(name)
    if family is None or family.turning is None:
        kernel = find(match["base"])
        if kernel is None:
            turning = ", ".join(f.name for f in FAMILIES.values() if f.turning)
            raise KernelError(f"{spec}: only a family with an angle ({turning}) or a kernel of "
                              "its own name makes a set")  # fmt: skip
        return _set_of(f"{kernel.name}@{step:g}", [turn(kernel, a) for a in angles], MAXIMUM,
                       f"{kernel.name} every {step:g} degrees: the largest response of the "
                       f"{count}; with --bank each its own output")  # fmt: skip
    members = family.turned(text, angles)
    given = family.given({**family.parse(text), family.turning: None}) if text else ""
    name = f"{family.name}:{given}@{step:g}" if given else f"{family.name}@{step:g}"
    return _set_of(name, members, MAXIMUM,
                   f"{family.name} every {step:g} degrees: the largest response of the {count}; "
                   f"with --bank each its own output")  # fmt: skip


def turn(kernel: Kernel, angle: float) -> Kernel:
    """Return a kernel's matrix turned clockwise by ``angle``, named ``NAME:angle=A``.

    Exact: a multiple of 90 degrees turns any 2-D matrix, an odd multiple of
    45 a 3x3 one (see :func:`convcli.catalog.families.rotate`).

    Examples
    --------
    >>> from convcli.catalog.lookup import load_kernel
    >>> turn(load_kernel("sobel-x"), 90).matrix.tolist() == load_kernel("sobel-y").matrix.tolist()
    True
    """
    if kernel.weights is None or len(kernel.shape) != 2:
        what = "combines others" if kernel.weights is None else f"is {len(kernel.shape)}-D"
        raise KernelError(f"{kernel.name} {what}: only a 2-D matrix turns")
    from convcli.catalog.families._base import check_eighths

    try:
        eighths = check_eighths(angle, kernel.shape)
    except KernelError as error:
        raise KernelError(f"{kernel.name}: {error}") from None
    return replace(
        kernel,
        name=f"{kernel.name}:angle={angle % 360:g}",
        shape=kernel.shape if eighths % 4 == 0 else kernel.shape[::-1],
        weights=functools.partial(_turned, kernel, angle),
        description=f"{kernel.description}, turned {angle % 360:g} degrees clockwise",
    )


def _turned(kernel: Kernel, angle: float) -> Matrix:
    from convcli.catalog.families import rotate

    return rotate(kernel.matrix, angle)  # type: ignore[arg-type]


def _freichen_set() -> Kernel:
    # Frei and Chen's edge measure: the cosine of the angle between a 3x3 window and the
    # subspace of the four edge masks, sqrt(sum of their responses^2 / sum of all nine's).
    from convcli.catalog.families import FAMILIES

    family = FAMILIES["freichen"]
    members = [family.kernel(f"n={n}") for n in _FREICHEN_MASKS]
    return _set_of("freichen", members, FREI_CHEN,
                   "Frei and Chen's nine masks (ImageMagick's FreiChen:10): the share of the "
                   "edge masks 11 to 14 in all nine's response, 0 to 1; with --bank each its "
                   "own output")  # fmt: skip


def _set_of(name: str, members: list[Kernel], combine: str, description: str) -> Kernel:
    shapes = {member.shape for member in members}
    if len(shapes) > 1:
        raise KernelError(
            f"{name}: its members differ in shape ({', '.join(map(str, sorted(shapes)))}); "
            "give each as its own -k"
        )
    first = members[0]
    return Kernel(name, first.shape, None, description=description, range=Range.RESCALE,
                  tags=(*first.tags, SET_TAG), source="built-in set",
                  components=tuple(members), combine=combine)  # fmt: skip


def bank_members(kernels: tuple[Kernel | Step, ...]) -> tuple[Kernel, ...]:
    """Return the kernels of a bank: each set's members in its place (``--bank``).

    Raises
    ------
    ParameterError
        A step (``relu``, ``maxpool:2``): it acts on what a kernel before it
        gives, and a bank's kernels each act on the input alone.
    """
    for k in kernels:
        if isinstance(k, Step):
            raise ParameterError(
                Message("{bank} applies each kernel to the input on its own, and {step} is a "
                        "layer's step, which acts on what the kernel before it gives: leave out "
                        "{bank} to run them as one pipeline", step=k.name),
                parameter="bank",
            )  # fmt: skip
    kernels_only = [k for k in kernels if isinstance(k, Kernel)]
    return tuple(p for k in kernels_only for p in (k.components if SET_TAG in k.tags else (k,)))


def listed_sets() -> list[Kernel]:
    """Return the sets ``kernels list`` shows: ``kirsch``, ``compass`` and ``freichen``."""
    return [kernel for name in (*NAMED_SETS, "freichen") if (kernel := named_set(name))]
