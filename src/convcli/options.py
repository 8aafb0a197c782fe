"""Reading command-line option values: ``"1,2"``, ``"same"``, choices with their list."""

from __future__ import annotations

from collections.abc import Iterable

from convcli.errors import UsageError


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
