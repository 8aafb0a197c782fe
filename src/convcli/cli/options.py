"""Options as the user writes them: their declarations, help text and parsing.

The choice lists in ``--help`` are generated from :mod:`convcli.choices`,
so they cannot drift from what the library accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

import typer

from convcli.choices import PAD_MODE_ALIASES, PaddingWord, PadMode, suggestion
from convcli.errors import UsageError

PADDING_FORMS = f"{', '.join(PaddingWord)}, N, N,M or T,B,L,R"


def spoken(choices: Iterable[str]) -> str:
    """List choices as a sentence does: ``a, b or c``.

    Examples
    --------
    >>> spoken(["clip", "abs", "raw"])
    'clip, abs or raw'
    """
    names = list(choices)
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def examples(*lines: str) -> str:
    """Return the Examples paragraph ending a command's --help."""
    # "\b" keeps click from re-wrapping the lines.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def completes(*choices: Iterable[str]) -> Callable[[str], list[str]]:
    """Return a shell-completion function offering ``choices`` (Typer's ``autocompletion``)."""

    def complete(incomplete: str) -> list[str]:
        return [name for group in choices for name in group if name.startswith(incomplete)]

    return complete


def complete_kernel(incomplete: str) -> list[str]:
    """Complete a kernel name: built-in, family (as ``name:``) or from CONVCLI_KERNEL_PATH."""
    from convcli.kernels.catalog import listing

    names = [entry["name"] + ":" * bool(entry["parameters"]) for entry in listing()]
    return completes(names)(incomplete)


def complete_tag(incomplete: str) -> list[str]:
    """Complete a kernel tag, from every kernel's tags."""
    from convcli.kernels.catalog import listing

    return completes(sorted({tag for entry in listing() for tag in entry["tags"]}))(incomplete)


# The geometry options, shared by apply and explain.
PaddingOption = Annotated[
    str,
    typer.Option(
        "-p",
        "--padding",
        metavar="PADDING",
        autocompletion=completes(PaddingWord),
        help=f"{PADDING_FORMS}.",
    ),
]
PadModeOption = Annotated[
    str,
    typer.Option(
        "--pad-mode",
        metavar="MODE",
        autocompletion=completes(PadMode),
        help=f"Border: {', '.join(PadMode)} (or {', '.join(PAD_MODE_ALIASES)}).",
    ),
]
PadValueOption = Annotated[
    float, typer.Option("--pad-value", metavar="VALUE", help="Value of zero padding.")
]
StrideOption = Annotated[str, typer.Option("-s", "--stride", metavar="N[,M]", help="N or N,M.")]
DilationOption = Annotated[str, typer.Option("-d", "--dilation", metavar="N[,M]", help="N or N,M.")]
FlipOption = Annotated[bool, typer.Option("--flip", help="True convolution (kernel rotated 180°).")]


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
    from convcli.engine import LARGEST  # pure Python: the engine's geometry, without NumPy

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
    if text in set(PaddingWord):
        return text
    try:
        return parse_ints("--padding", text, PADDING_FORMS, least=0)
    except UsageError as error:
        hint = suggestion(text, list(PaddingWord))
        raise UsageError(f"{error}; {hint}" if hint else str(error)) from None
