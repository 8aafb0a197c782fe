"""Text as convcli writes it, for programs and for people: JSON, and names on one line.

Pure Python (the standard library alone): the command line, the library and
the run all write their JSON and show their names here.
"""

from __future__ import annotations

import math
import re

_SURROGATE = re.compile("[\udc80-\udcff]")


def to_json(
    value: object,
    indent: int | None = None,
    *,
    separators: tuple[str, str] | None = None,
    ensure_ascii: bool = False,
) -> str:
    r"""Write JSON as UTF-8 text: every JSON convcli writes is written here.

    A number that is not finite (NaN, infinity) is ``null``, as JavaScript's
    ``JSON.stringify`` writes it: RFC 8259 has no such numbers. A file name's
    undecodable bytes become ``\udcXX`` escapes: Python names such bytes with
    lone surrogates (``os.fsdecode``); escaped, the text stays valid UTF-8,
    and ``json.loads`` then ``os.fsencode`` give the name's bytes back.

    Examples
    --------
    >>> import os
    >>> to_json({"input": os.fsdecode(b"caf\xe9.png")})
    '{"input": "caf\\udce9.png"}'
    >>> to_json({"sum": float("inf"), "output": [1.5, float("nan")]})
    '{"sum": null, "output": [1.5, null]}'
    """
    import json  # not at start-up: the command line shows names without it

    text = json.dumps(_finite(value), ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, allow_nan=False)  # fmt: skip
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _finite(value: object) -> object:
    """Return ``value`` with each float that is not finite replaced by None, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


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
