"""The ``convcli`` command: parse options, call the library, render the result.

Every error ends up in one place, ``_Program.main``, which prints one line on
stderr and turns it into the exit code of DESIGN.md section 5.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from convcli import __version__
from convcli.errors import ConvcliError, ExitCode, UsageError

if TYPE_CHECKING:
    from convcli.report import Report

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
        **extra: Any,
    ) -> int:
        arguments = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(arguments, prog_name, complete_var, False, **extra)
            code = int(result) if isinstance(result, int) else ExitCode.OK
        except Exception as error:
            code = _report_error(error, debug="--debug" in arguments)
        if standalone_mode:
            sys.exit(code)
        return code


def _report_error(error: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exception(error)
    if isinstance(error, ConvcliError):
        _error_line(str(error))
        return int(error.exit_code)
    if isinstance(error, typer.TyperException):  # Typer's own: missing option, bad value
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context else ""
        _error_line(f"{error.format_message()}{hint}")
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    if isinstance(error, typer.Abort):
        return int(ExitCode.INTERRUPTED)
    if isinstance(error, BrokenPipeError):  # `convcli ... | head`: the reader left
        return _closed_stdout()
    _error_line(f"internal error: {type(error).__name__}: {error} (--debug shows where)")
    return int(ExitCode.FAILED)


def _error_line(message: str) -> None:
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    typer.echo(f"convcli: error: {first_line}", err=True)


def _closed_stdout() -> int:
    # Send what is left to /dev/null so the interpreter's final flush does not fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return int(ExitCode.FAILED)


app = typer.Typer(
    cls=_Program,
    name="convcli",
    help="Apply convolution kernels to images, signals and volumes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich's help formatting imports a Markdown parser, 40 ms of
    # the 150 ms `convcli --help` may take.
    rich_markup_mode=None,
)
kernels_app = typer.Typer(
    help="List and inspect kernels.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(kernels_app, name="kernels")


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
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback with an error message.")
    ] = False,
) -> None:
    """Apply convolution kernels to images, signals and volumes."""


# The options of the geometry, shared by apply and explain.
Padding = Annotated[
    str, typer.Option("-p", "--padding", help="same, valid, full, N, N,M or T,B,L,R.")
]
PadMode = Annotated[
    str,
    typer.Option(
        help="Border: zero, reflect, symmetric, replicate, wrap (or constant, edge, circular)."
    ),
]
PadValue = Annotated[float, typer.Option(help="Value of zero padding.")]
Stride = Annotated[str, typer.Option("-s", "--stride", help="N or N,M.")]
Dilation = Annotated[str, typer.Option("-d", "--dilation", help="N or N,M.")]
Flip = Annotated[bool, typer.Option("--flip", help="True convolution (kernel rotated 180°).")]


@app.command()
def apply(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Image or .npy files; '-' reads an image from standard input."),
    ],
    kernel: Annotated[
        list[str],
        typer.Option(
            "-k",
            "--kernel",
            help="Kernel: a name, family:params, file.toml[:name] or a matrix like "
            "'[[0,1,0],[1,-4,1],[0,1,0]]'. Repeat to apply several in sequence.",
        ),
    ],
    padding: Padding = "same",
    pad_mode: PadMode = "reflect",
    pad_value: PadValue = 0.0,
    stride: Stride = "1",
    dilation: Dilation = "1",
    flip: Flip = False,
    gray: Annotated[bool, typer.Option("--gray", help="Convert to luminance first.")] = False,
    output_range: Annotated[
        str | None,
        typer.Option(
            "--range",
            help="Output mapping: clip, abs, rescale, offset or raw "
            "[default: the kernel's, else clip; raw for .npy]",
        ),
    ] = None,
    colormap: Annotated[
        str | None,
        typer.Option(
            help="False-colour heat map of the response: viridis, magma, inferno, coolwarm "
            "or gray (implies --gray, and --range rescale unless given)"
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="Output file, folder, or '-' for standard output "
            "[default: <stem>_<kernel><suffix> beside the input]",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="Output format: png, jpg, tif, webp, bmp, gif, npy [default: input's]"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report the shapes only; write nothing.")
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="JSON Lines report on stdout, one record per input.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Also write the report to a .json or .csv file.")
    ] = None,
    method: Annotated[
        str, typer.Option(help="Engine algorithm: auto, direct, separable or fft.")
    ] = "auto",
    compress_level: Annotated[
        int | None,
        typer.Option(
            help="PNG: zlib level, 0 (fastest) to 9 (smallest) "
            "[default: fast run-length coding, sizes like levels 1 to 6]"
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Descend into sub-folders, mirroring them.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("-j", "--jobs", help="Parallel worker processes [default: number of CPUs]"),
    ] = None,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Leave outputs that already exist.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed input.")
    ] = False,
    max_pixels: Annotated[
        int | None,
        typer.Option(
            help="Refuse larger inputs, checked before decoding [default: Pillow's 89478485]"
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No table, no progress bar, no summary.")
    ] = False,
) -> int:
    """Filter images (or .npy arrays) with one kernel or a pipeline of kernels."""
    from convcli import batch, pipeline
    from convcli.catalog import KERNEL_PATH_VARIABLE, load_kernel
    from convcli.colormaps import COLORMAPS
    from convcli.engine import METHODS, PAD_MODE_ALIASES, PAD_MODES, canonical_pad_mode
    from convcli.imageio import DEFAULT_MAX_PIXELS
    from convcli.inputs import find_inputs
    from convcli.kernel import RANGES
    from convcli.options import check_choice, parse_ints, parse_padding
    from convcli.report import check_report_path, json_line, write_report

    if output_range is not None:
        check_choice("--range", output_range, RANGES)
    if compress_level is not None and not 0 <= compress_level <= 9:
        raise UsageError(f"--compress-level must be 0 to 9, got {compress_level}")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    if max_pixels is not None and max_pixels < 1:
        raise UsageError(f"--max-pixels must be >= 1, got {max_pixels}")
    modes = [*PAD_MODES, *PAD_MODE_ALIASES]
    kernels = tuple(load_kernel(spec) for spec in kernel)
    for shadowing in {k.name: k for k in kernels if k.shadows_builtin}.values():
        typer.echo(
            f"convcli: note: kernel {shadowing.name!r} is the one in {shadowing.source} "
            f"({KERNEL_PATH_VARIABLE} comes before the built-in kernels)",
            err=True,
        )
    settings = pipeline.Settings(
        kernels=kernels,
        padding=parse_padding(padding),
        pad_mode=canonical_pad_mode(check_choice("--pad-mode", pad_mode, modes)),
        pad_value=pad_value,
        stride=parse_ints("--stride", stride),
        dilation=parse_ints("--dilation", dilation),
        flip=flip,
        gray=gray or colormap is not None,
        range=output_range or ("rescale" if colormap else None),
        method=check_choice("--method", method, METHODS),
        colormap=colormap and check_choice("--colormap", colormap, COLORMAPS),
        format=output_format,
        compress_level=compress_level,
    )
    if report is not None:
        check_report_path(report)
    if inputs.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    several = len(inputs) > 1 or any(Path(name).is_dir() for name in inputs)
    folder = _output_folder(output, several)
    found = find_inputs(inputs, recursive=recursive, exclude=folder)
    planned = batch.plan_jobs(found, output, folder, settings, skip_existing=skip_existing)
    to_stdout = any(job.target is None and job.skip is None for job in planned)
    if json_lines and to_stdout:
        raise UsageError("--json and -o - both want standard output; write the image to a file")
    limit = max_pixels or DEFAULT_MAX_PIXELS
    batch.check_jobs(planned, settings, limit)
    if folder is not None and not dry_run:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot create the output folder {folder}: {error.strerror}"
            ) from None

    options = batch.RunOptions(
        workers=jobs or os.cpu_count() or 1, fail_fast=fail_fast, dry_run=dry_run, max_pixels=limit
    )
    # A progress bar moves the cursor with escape codes: only on a terminal, never with NO_COLOR.
    show_progress = (
        not quiet and sys.stderr.isatty() and "NO_COLOR" not in os.environ and len(planned) > 1
    )
    clipped: list[str] = []
    with _progress(len(planned), show_progress) as advance:

        def on_report(done: Report) -> None:
            if done.status == "error":
                _error_line(done.error or "failed")
            notes = list(done.notes)
            if done.clip_note:
                clipped.append(done.input)
                notes += [done.clip_note] if len(clipped) == 1 else []  # once per run
            for note in notes:
                typer.echo(f"convcli: note: {note}", err=True)
            if json_lines:
                typer.echo(json_line(done))
            advance()

        started = time.perf_counter()
        reports = batch.run_jobs(planned, settings, options, on_report)
    if not json_lines and not quiet:
        from convcli.render import report_view

        _console(stderr=to_stdout).print(report_view(reports))
    if not quiet and len(reports) > 1:
        typer.echo(_summary(reports, time.perf_counter() - started, len(clipped)), err=True)
    if report is not None:
        write_report(report, reports)
    failed = any(done.status == "error" for done in reports)
    return int(ExitCode.FAILED if failed else ExitCode.OK)


@contextlib.contextmanager
def _progress(total: int, show: bool) -> Iterator[Callable[[], None]]:
    """Show a progress bar on stderr while the run lasts, or nothing."""
    if not show:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_console(stderr=True), transient=True) as progress:
        task = progress.add_task("convcli", total=total)
        yield lambda: progress.advance(task)


@app.command()
def explain(
    kernel: Annotated[str, typer.Option("-k", "--kernel", help="A kernel spec, as for apply.")],
    input_text: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Inline matrix ('[[1,2],[3,4]]' or '[0,1,1,0]'), a .npy or an image "
            "[default: a ramp, 1 to 25 in 5x5, or 1 to 7 for a 1-D kernel]",
        ),
    ] = None,
    crop: Annotated[
        str | None,
        typer.Option(help="ROW,COL,HEIGHT,WIDTH of the input to use (START,LENGTH for 1-D)."),
    ] = None,
    padding: Padding = "same",
    pad_mode: PadMode = "reflect",
    pad_value: PadValue = 0.0,
    stride: Stride = "1",
    dilation: Dilation = "1",
    flip: Flip = False,
    steps: Annotated[int, typer.Option(help="How many window positions to write out.", min=0)] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Show a convolution step by step: padding, the size formula, the sliding window."""
    from convcli.catalog import load_kernel
    from convcli.engine import PAD_MODE_ALIASES, PAD_MODES
    from convcli.explain import explain as work_out
    from convcli.explain import read_input
    from convcli.options import check_choice, padding_for, parse_ints, parse_padding, per_axis
    from convcli.render import explain_view

    chosen = load_kernel(kernel)
    if chosen.matrix is None:
        parts = " and ".join(part.name for part in chosen.components)
        raise UsageError(f"{chosen.name} combines {parts}; explain one of them")
    check_choice("--pad-mode", pad_mode, [*PAD_MODES, *PAD_MODE_ALIASES])
    matrix = read_input(
        input_text, parse_ints("--crop", crop, "ROW,COL,HEIGHT,WIDTH", 0) if crop else None,
        chosen.matrix.ndim,
    )  # fmt: skip
    ndim = chosen.matrix.ndim
    explanation = work_out(
        matrix, chosen.matrix, padding=padding_for(parse_padding(padding), ndim),
        pad_mode=pad_mode, pad_value=pad_value,
        stride=per_axis("stride", parse_ints("--stride", stride), ndim),
        dilation=per_axis("dilation", parse_ints("--dilation", dilation), ndim),
        flip=flip, steps=steps,
    )  # fmt: skip
    if json_output:
        typer.echo(json.dumps(explanation.record(), ensure_ascii=False))
        return
    total = math.prod(explanation.geometry.output_shape)
    _console().print(explain_view(explanation, chosen.name, total))
    if chosen.bias:
        typer.echo(f"convcli: note: apply adds the kernel's bias, {chosen.bias:g}, to each value")


def _console(stderr: bool = False) -> Console:
    # NO_COLOR (no-color.org): rich alone drops colours but keeps bold and italics;
    # convcli then writes no escape codes at all.
    if "NO_COLOR" in os.environ:
        return Console(stderr=stderr, color_system=None)
    return Console(stderr=stderr)


def _summary(reports: list[Report], seconds: float, clipped: int) -> str:
    count = {
        status: sum(r.status == status for r in reports) for status in ("ok", "skipped", "error")
    }
    rate = count["ok"] / seconds if seconds > 0 else 0.0
    clipping = f"; values clipped in {clipped} of them" if clipped > 1 else ""
    return (
        f"convcli: {count['ok']} done, {count['skipped']} skipped, {count['error']} failed "
        f"in {seconds:.2f} s ({rate:.1f} images/s){clipping}"
    )


def _output_folder(output: str | None, several: bool) -> Path | None:
    """Return the folder ``-o`` names: one that exists, ends in '/', or takes several inputs."""
    if output is None or output == "-":
        if several and output == "-":
            raise UsageError("several inputs cannot all go to standard output")
        return None
    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)) or several:
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o {output} is a file; with several inputs it must name a folder")
        return path
    return None


@kernels_app.command("list")
def list_kernels(
    tag: Annotated[str | None, typer.Option(help="Only kernels with this tag.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="A JSON array.")] = False,
) -> None:
    """List every kernel: built-in, families and those in CONVCLI_KERNEL_PATH."""
    from convcli.catalog import named_kernels
    from convcli.options import check_choice
    from convcli.render import kernel_entries, kernels_view

    entries = kernel_entries(list(named_kernels().values()))
    if tag is not None:
        check_choice("--tag", tag, sorted({t for entry in entries for t in entry["tags"]}))
        entries = [entry for entry in entries if tag in entry["tags"]]
    if json_output:
        typer.echo(json.dumps(entries, ensure_ascii=False))
    else:
        _console().print(kernels_view(entries))


@kernels_app.command("show")
def show_kernel(
    name: Annotated[str, typer.Argument(help="A kernel spec, as for 'apply -k'.")],
    json_output: Annotated[bool, typer.Option("--json", help="A JSON object.")] = False,
) -> None:
    """Show a kernel's matrix, sum, rank, separability and default range."""
    from convcli.catalog import load_kernel
    from convcli.render import kernel_record, kernel_view

    kernel = load_kernel(name)
    if json_output:
        typer.echo(json.dumps(kernel_record(kernel), ensure_ascii=False))
    else:
        _console().print(kernel_view(kernel))


def main() -> None:
    """Run the command line."""
    app(prog_name="convcli")
