"""Optional dependencies: import one where it is used, or say which extra brings it."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from convcli.errors import UsageError


def need(module: str, extra: str) -> Any:
    """Import ``module``, which comes with convcli's ``extra``, or say how to install it.

    Raises
    ------
    UsageError
        When the extra is not installed.

    Examples
    --------
    >>> need("no_such_module", "remote")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    convcli.errors.UsageError: this needs no_such_module, ... pip install "convcli[remote]"
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"this needs {module.split('.')[0]}, which comes with the {extra} extra: "
            f'pip install "convcli[{extra}]"'
        ) from None


def has(module: str) -> bool:
    """Whether ``module`` is installed (without importing it)."""
    return importlib.util.find_spec(module) is not None
