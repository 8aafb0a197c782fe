"""Where the program runs: its standard streams, and which of them are terminals.

Read once, when the program starts (``cli/app.py``), and handed to the commands as
their context's object, as httpie hands its ``Environment``: a test gives its own,
with a terminal where it has none.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import typer


class Environment:
    """The standard streams (None where closed) and whether each is a terminal.

    A plain class, not a dataclass: ``dataclasses`` and the class it writes
    cost ``convcli --help`` a millisecond of its start.
    """

    __slots__ = ("stderr", "stderr_isatty", "stdin", "stdin_isatty", "stdout", "stdout_isatty")

    def __init__(
        self,
        stdin: TextIO | None,
        stdout: TextIO | None,
        stderr: TextIO | None,
        stdin_isatty: bool = False,
        stdout_isatty: bool = False,
        stderr_isatty: bool = False,
    ) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.stdin_isatty, self.stdout_isatty = stdin_isatty, stdout_isatty
        self.stderr_isatty = stderr_isatty

    @classmethod
    def current(cls) -> Environment:
        """Return this process's streams as they are now (Python makes a closed one None)."""
        streams = sys.stdin, sys.stdout, sys.stderr
        return cls(*streams, *(stream is not None and stream.isatty() for stream in streams))


def environment(ctx: typer.Context) -> Environment:
    """Return the environment the program was started in (a command run alone: this process's)."""
    found = ctx.find_object(Environment)
    return found if found is not None else Environment.current()
