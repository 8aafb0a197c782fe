"""Reading command-line option values: ``"1,2"``, ``"same"``, choices with their list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from convcli.errors import UsageError

if TYPE_CHECKING:  # the engine package brings NumPy
    from convcli.engine.geometry import PaddingSpec


def parse_ints(option: str, text: str, forms: str = "N or N,M", least: int = 1) -> tuple[int, ...]:
    """Read ``N`` or ``N,M,...`` as integers, each at least ``least``.

    Examples
    --------
    >>> parse_ints("--stride", "2,1")
    (2, 1)
    >>> parse_ints("--stride", "two")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --stride must be N or N,M (integers), got 'two'
    """
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{option} must be {forms} (integers), got {text!r}") from None
    if min(values) < least:
        raise UsageError(f"{option} must be >= {least}, got {text!r}")
    from convcli.engine.geometry import LARGEST  # here: `kernels list` needs no NumPy

    if max(values) > LARGEST:
        raise UsageError(f"{option} must be at most {LARGEST}, got {text!r}")
    return values


def parse_padding(text: str) -> str | tuple[int, ...]:
    """Read ``same``, ``valid``, ``full``, ``N``, ``N,M`` or ``T,B,L,R``.

    Examples
    --------
    >>> parse_padding("same"), parse_padding("1,2,3,4")
    ('same', (1, 2, 3, 4))
    """
    from convcli.engine.geometry import PADDING_NAMES  # here: `kernels list` needs no NumPy

    if text in PADDING_NAMES:
        return text
    forms = f"{', '.join(PADDING_NAMES)}, N, N,M or T,B,L,R"
    return parse_ints("--padding", text, forms, least=0)


def check_choice(option: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise say which are valid."""
    options = list(choices)
    if value in options:
        return value
    raise UsageError(f"{option} must be one of {', '.join(options)}, got {value!r}")


def padding_for(option: str | tuple[int, ...], ndim: int) -> PaddingSpec:
    """Turn ``--padding`` into the engine's form for a kernel of ``ndim`` axes.

    Examples
    --------
    >>> padding_for((1, 2, 3, 4), 2)
    ((1, 2), (3, 4))
    """
    if isinstance(option, str):
        return option
    if len(option) == 1:
        return option[0]
    if len(option) == ndim:
        return option
    if len(option) == 2 * ndim:  # before/after per axis: T,B,L,R for an image
        return tuple(zip(option[::2], option[1::2], strict=True))
    counts = sorted({1, ndim, 2 * ndim})
    raise UsageError(
        f"--padding takes {', '.join(map(str, counts))} numbers for a {ndim}-D kernel, "
        f"got {len(option)}"
    )


def per_axis(name: str, values: tuple[int, ...], ndim: int) -> int | tuple[int, ...]:
    """Turn ``--stride`` or ``--dilation`` into one value, or one per axis of the kernel."""
    if len(values) == 1:
        return values[0]
    if len(values) == ndim:
        return values
    raise UsageError(f"--{name} takes 1 or {ndim} numbers for a {ndim}-D kernel, got {len(values)}")
