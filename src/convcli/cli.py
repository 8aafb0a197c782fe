"""The ``convcli`` command: a thin layer that parses, calls the library, renders."""

from __future__ import annotations

from typing import Annotated

import typer

from convcli import __version__

app = typer.Typer(
    name="convcli",
    help="Apply convolution kernels to images, signals and volumes.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Apply convolution kernels to images, signals and volumes."""


def main() -> None:
    """Run the command line."""
    app(prog_name="convcli")
