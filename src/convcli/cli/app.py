"""The ``convcli`` program: its commands, and the one place errors become exit codes.

Every error ends up in ``_Program.main``, which prints one line on stderr
and returns the exit code the README promises ("Exit codes"). The library
names its own parameters (``pad_mode``); the command line words them as the
options the user typed (``--pad-mode``, ``cli.text.option``): errors here,
a run's notes and records in ``feedback``.
"""

# No `from __future__ import annotations`: Typer reads the root callback's
# annotations at every start (see apply.py).
import atexit
import gc
import os
import signal
import sys
import threading
import traceback
from collections.abc import Collection
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from convcli import __version__
from convcli.cli import apply, explain, kernels
from convcli.cli.environment import Environment
from convcli.cli.feedback import error_line
from convcli.cli.text import option
from convcli.errors import ConvcliError, ExitCode, Signalled, raise_signalled

# Heavy modules (NumPy, Pillow) are imported inside the commands that use
# them, so that `convcli --help` starts fast.


class _Program(TyperGroup):
    """The root command, with the one error boundary of the program."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        environment: Environment | None = None,
        **extra: Any,
    ) -> int:
        """Run the program in ``environment`` (by default this process's streams, read now)."""
        arguments = _debug_first(list(sys.argv[1:] if args is None else args), self)
        obj = environment or Environment.current()  # the commands' context object
        try:
            result = super().main(arguments, prog_name, complete_var, False, obj=obj, **extra)
            code = int(result) if isinstance(result, int) else ExitCode.OK
        except Exception as error:
            code = _report_error(error, debug=arguments[:1] == ["--debug"])
        except Signalled as signalled:  # before a run began: while parsing or planning
            error_line(f"interrupted by {signalled.name} before any output was written")
            code = signalled.exit_code
        if standalone_mode:
            sys.exit(code)
        return code


_TERMS = 30  # click's widest first column: a longer option's help starts on the next line


class _Command(TyperCommand):
    """A command whose usage line names its arguments as click does: ``INPUT...``.

    Typer writes a required argument in braces (``{INPUT...}``), which reads as a
    choice of words to type.
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # a click context
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in super().collect_usage_pieces(ctx)
        ]

    def format_options(self, ctx: Any, formatter: Any) -> None:  # click's context and formatter
        """Write the arguments, then the options under their groups (``rich_help_panel``).

        In plain text, as click writes its one "Options" section (rich's help would
        cost start-up time, see ``app``); an option without a group is under
        "Options". Every section's help starts in one column.
        """
        arguments: list[tuple[str, str]] = []
        groups: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                group = getattr(param, "rich_help_panel", None) or "Options"
                groups.setdefault(group, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        column = min(max(len(term) for rows in groups.values() for term, _ in rows), _TERMS)
        for group, rows in groups.items():
            with formatter.section(group):
                formatter.write_dl([(term.ljust(column), text) for term, text in rows], _TERMS)


def _debug_first(arguments: list[str], program: TyperGroup) -> list[str]:
    """Move ``--debug``, wherever it was typed (before ``--``, not as a value), to the front."""
    end = arguments.index("--") if "--" in arguments else len(arguments)
    if "--debug" not in arguments[:end]:
        return arguments  # the usual case: no need to walk the commands' options
    takes_value = _options_with_values(program)
    flags = [
        i
        for i in range(end)
        if arguments[i] == "--debug" and (i == 0 or arguments[i - 1] not in takes_value)
    ]
    if not flags:
        return arguments
    return ["--debug", *(a for i, a in enumerate(arguments) if i not in flags)]


def _options_with_values(command: Any) -> set[str]:  # a click command
    found = {
        name
        for p in command.params
        if isinstance(p, TyperOption) and not p.is_flag
        for name in p.opts
    }
    for sub in getattr(command, "commands", {}).values():
        found |= _options_with_values(sub)
    return found


def _report_error(error: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exception(error)
    if isinstance(error, ConvcliError):
        error_line(error.worded(option))
        return int(error.exit_code)
    if isinstance(error, typer.TyperException):  # Typer's own: missing option, bad value
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `convcli`, `convcli kernels`
            typer.echo(error.format_message())  # the help, as git and vips show it: exit 0
            return int(ExitCode.OK)
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context else ""
        first_line = next(iter(error.format_message().strip().splitlines()), "unknown error")
        error_line(f"{first_line}{hint}")
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    if isinstance(error, typer.Abort):
        return int(ExitCode.INTERRUPTED)
    if isinstance(error, BrokenPipeError):  # `convcli ... | head`: the reader left
        return _closed_stdout()
    error_line(f"internal error: {type(error).__name__}: {error} (--debug shows where)")
    return int(ExitCode.FAILED)


def _closed_stdout() -> int:
    # Send what is left to /dev/null so the interpreter's final flush does not fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return int(ExitCode.FAILED)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback with an error message.")
    ] = False,
) -> None:
    """Apply convolution kernels to images, signals and volumes."""


COMMANDS = ("apply", "explain", "kernels")


def _program(commands: Collection[str] = COMMANDS) -> typer.Typer:
    """Return the program holding ``commands`` (all of them by default)."""
    convcli = typer.Typer(
        cls=_Program,
        name="convcli",
        help="Apply convolution kernels to images, signals and volumes.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        # Plain help text: rich's help formatting imports a Markdown parser, 40 ms of
        # the 150 ms `convcli --help` may take.
        rich_markup_mode=None,
    )
    convcli.callback()(_root)
    if "apply" in commands:
        convcli.command(cls=_Command, epilog=apply.EXAMPLES)(apply.apply)
    if "explain" in commands:
        convcli.command(cls=_Command, epilog=explain.EXAMPLES)(explain.explain)
    if "kernels" in commands:
        group = typer.Typer(
            help="List and inspect kernels.", no_args_is_help=True, rich_markup_mode=None
        )
        group.command("list", cls=_Command, epilog=kernels.LIST_EXAMPLES)(kernels.list_kernels)
        group.command("show", cls=_Command, epilog=kernels.SHOW_EXAMPLES)(kernels.show_kernel)
        convcli.add_typer(group, name="kernels")
    return convcli


app = _program()


def _program_for(arguments: list[str]) -> typer.Typer:
    """Return the program holding only the command ``arguments`` name first, else ``app``.

    Typer reads the options of every command the program holds, at every start:
    ``apply``'s alone is 1.4 ms less than all four. With ``--debug`` anywhere, the
    program holds them all: ``_debug_first`` tells it from a value by every option.
    """
    if arguments and arguments[0] in COMMANDS and "--debug" not in arguments:
        return _program((arguments[0],))
    return app


def main() -> None:
    """Run the command line, and end the process with its exit code."""
    # Start-up (imports, Typer's commands, planning) makes many objects and no garbage
    # cycles: the collector is off until apply's run begins, 6 ms of a 1x1 apply (the
    # other commands are short: off throughout).
    gc.disable()
    for signum in (signal.SIGINT, signal.SIGTERM):  # unwind to the boundary, said in one line
        signal.signal(signum, raise_signalled)
    sys.unraisablehook = _unraisable
    try:
        _program_for(sys.argv[1:])(prog_name="convcli")
    except SystemExit as done:
        _end(done.code)
        raise
    finally:
        # Where the process does not end at once: the interpreter's last collections need
        # not visit every object NumPy, Pillow and Typer made (17 ms of a 1x1 apply).
        gc.freeze()


def _end(code: object) -> None:
    """End the process now with ``code``, as the interpreter would, less its teardown.

    The exit handlers run and the standard streams are flushed, as at any exit; left
    out is the freeing of every module and object, which no output depends on (6 ms
    of a 1x1 apply). With another thread still running, or a stream that cannot be
    flushed, this returns and the interpreter ends the process as usual.
    """
    code = 0 if code is None else code
    if not isinstance(code, int) or threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe: the interpreter says so, as ever
        return
    os._exit(code)


def _unraisable(unraisable: Any) -> None:
    # A signal handled inside a finalizer (a Dask future's __del__) is swallowed by Python,
    # which prints "Exception ignored in ...": the run notices the signal itself
    # (errors.signals_arrived) and says it in one line.
    if not isinstance(unraisable.exc_value, Signalled | KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)
