"""Optional dependencies: import one where it is used, or say which extra brings it."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from convcli.errors import InputError, UsageError

# The extras that read (and write) a format, each a library with its own licence (README).
HEIC = ("pillow_heif", "heic")  # GPL-2 wheels (x265)
EXR = ("OpenEXR", "exr")
RAW = ("rawpy", "raw")  # LGPL-2.1 (LibRaw)
JXL = ("pillow_jxl", "jxl")  # GPL-3.0-or-later: a JPEG XL's own colour profile


def need(module: str, extra: str, reading: str | None = None) -> Any:
    """Import ``module``, which comes with convcli's ``extra``, or say how to install it.

    ``reading`` names an input that needs it: then that input alone fails.

    Raises
    ------
    UsageError
        When the extra is not installed.
    InputError
        When the extra is not installed and ``reading`` names the input.

    Examples
    --------
    >>> need("no_such_module", "remote")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    convcli.errors.UsageError: this needs no_such_module, ... pip install "convcli[remote]"
    """
    found = optional(module)
    if found is None:
        what = f"{reading}: reading it" if reading else "this"
        error = InputError if reading else UsageError
        raise error(f"{what} needs {brought_by(module, extra)}")
    return found


def optional(module: str) -> Any:
    """Import ``module``, or return None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def brought_by(module: str, extra: str) -> str:
    """Say which extra brings ``module`` and how to install it: every missing extra's words.

    Examples
    --------
    >>> brought_by("pillow_jxl", "jxl")
    'pillow_jxl, which comes with the jxl extra: pip install "convcli[jxl]"'
    """
    package = module.split(".")[0]
    return f'{package}, which comes with the {extra} extra: pip install "convcli[{extra}]"'


def has(module: str) -> bool:
    """Whether ``module`` is installed (without importing it)."""
    return importlib.util.find_spec(module) is not None
