"""Text as a person sees it on the terminal: one line, whatever a file name holds.

Below ``feedback`` and ``render``, which both show names: neither imports the other for it.
Here too the library's parameters are named as the options the user typed.
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


def shown(text: str) -> str:
    r"""Make text safe to show on one line: control characters and undecodable bytes escaped.

    A file name may hold a newline, or bytes that are not UTF-8; shown as
    Python's ``repr`` shows them, the line stays one line and says so.

    Examples
    --------
    >>> shown("two\nlines.png"), shown("caf\udce9.png")
    ('two\\nlines.png', 'caf\\xe9.png')
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode)
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]
