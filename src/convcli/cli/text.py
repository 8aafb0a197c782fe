"""The library's parameters named as the options the user typed, in messages and notes.

Below ``feedback``, ``render`` and ``app``, which all name options: none imports another for it.
"""

from __future__ import annotations

from convcli.errors import worded

# The parameters whose option is not ``--`` and the parameter's name, dashed.
OPTIONS = {"output": "-o", "template": "--name", "sheet": "--montage", "kernels": "-k"}


def option(parameter: str) -> str:
    """Name the option of a library parameter: ``pad_mode`` is ``--pad-mode``, ``output`` ``-o``.

    Examples
    --------
    >>> option("pad_mode"), option("template"), option("--tag")
    ('--pad-mode', '--name', '--tag')
    """
    if parameter in OPTIONS:
        return OPTIONS[parameter]
    return parameter if parameter.startswith("-") else "--" + parameter.replace("_", "-")


def as_typed(text: str) -> str:
    """Return a library's text (a message, a note) with its parameters named as options."""
    return worded(text, option)
