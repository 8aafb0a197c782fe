"""The names a user chooses from, each defined once.

Every layer takes its choices from here: the engine its border modes and
methods, the range mapping its modes, the image writer its formats, and the
command line its validation and ``--help`` text. Pure Python, so that
``convcli --help`` lists them without loading NumPy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from convcli.errors import ParameterError


class PadMode(StrEnum):
    """What lies beyond the edge of the input (see the engine's border table)."""

    ZERO = "zero"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"
    REPLICATE = "replicate"
    WRAP = "wrap"


# NumPy's and PyTorch's names for the same modes.
PAD_MODE_ALIASES = {"constant": PadMode.ZERO, "edge": PadMode.REPLICATE, "circular": PadMode.WRAP}


class PaddingWord(StrEnum):
    """The padding that has a name rather than numbers."""

    VALID = "valid"
    SAME = "same"
    FULL = "full"


class Method(StrEnum):
    """The engine's algorithms; ``auto`` picks one by the cost model."""

    AUTO = "auto"
    DIRECT = "direct"
    SEPARABLE = "separable"
    FFT = "fft"


class Range(StrEnum):
    """How a filter response becomes the numbers an output holds."""

    CLIP = "clip"
    ABS = "abs"
    RESCALE = "rescale"
    OFFSET = "offset"
    RAW = "raw"


class Colormap(StrEnum):
    """The false-colour heat maps of ``--colormap``."""

    VIRIDIS = "viridis"
    MAGMA = "magma"
    INFERNO = "inferno"
    COOLWARM = "coolwarm"
    GRAY = "gray"


class FileFormat(StrEnum):
    """The formats convcli reads and writes, by their usual file suffix."""

    PNG = "png"
    JPG = "jpg"
    TIF = "tif"
    WEBP = "webp"
    BMP = "bmp"
    GIF = "gif"
    NPY = "npy"


FORMAT_ALIASES = {"jpeg": FileFormat.JPG, "tiff": FileFormat.TIF}

Choice = TypeVar("Choice", bound=StrEnum)


def choose(
    kind: type[Choice], value: object, parameter: str, aliases: Mapping[str, Choice] | None = None
) -> Choice:
    """Return the member of ``kind`` that ``value`` (or one of its ``aliases``) names.

    Raises
    ------
    ParameterError
        Naming ``parameter`` and every valid choice.

    Examples
    --------
    >>> choose(PadMode, "edge", "pad_mode", PAD_MODE_ALIASES)
    <PadMode.REPLICATE: 'replicate'>
    >>> choose(Method, "fast", "method")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: method must be one of auto, direct, separable, fft, got 'fast'
    """
    aliases = aliases or {}
    name = aliases.get(value, value) if isinstance(value, str) else value
    return kind(check_choice(parameter, name, [*kind, *aliases]))


def check_choice(parameter: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise say which are valid.

    Examples
    --------
    >>> check_choice("--tag", "blur", ["blur", "edge"])
    'blur'
    """
    options = list(choices)
    if isinstance(value, str) and value in options:
        return value
    raise ParameterError(
        f"{parameter} must be one of {', '.join(options)}, got {value!r}", parameter=parameter
    )
