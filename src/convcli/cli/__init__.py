"""The command line: a thin layer over the library, and the only user of Typer and rich.

``app`` holds the program and its error boundary; ``apply``, ``explain``
and ``kernels`` are the commands; ``options`` declares and parses what the
user types; ``render`` and ``feedback`` are what the user sees.
"""

from convcli.cli.app import app, main

__all__ = ["app", "main"]
