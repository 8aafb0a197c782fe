"""``convcli apply``: filter images, arrays and folders of them."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
import contextlib
import functools
import os
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcli.choices import READ_ONLY, Colormap, FileFormat, Method, MontageScale, Range
from convcli.cli.options import (
    DilationOption,
    FlipOption,
    PaddingOption,
    PadModeOption,
    PadValueOption,
    StrideOption,
    complete_kernel,
    completes,
    examples,
    spoken,
)
from convcli.errors import ConvcliError, ExitCode, UsageError
from convcli.limits import (
    MAX_BANK_KERNELS,
    MAX_FRAMES,
    MAX_JOBS,
    MAX_MONTAGE_TILES,
    MAX_PIXELS_LIMIT,
    MAX_TILE,
    MONTAGE_TILE,
)
from convcli.naming import DEFAULT_TEMPLATE, FIELDS, check_template

if TYPE_CHECKING:
    from collections.abc import Callable

    from convcli.cli.feedback import Feedback
    from convcli.pictures.montage import BankSheet, SheetRequest
    from convcli.report import Report
    from convcli.run.model import Job, RunOptions, Settings
    from convcli.run.planning import RunPlan


WRITTEN = [name for name in FileFormat if name not in READ_ONLY]
EXAMPLES = examples(
    "convcli apply photo.jpg -k sobel-x        # writes photo_sobel-x.jpg",
    "convcli apply photos/ -k gaussian:sigma=2 -o blurred/ -j 4",
    "convcli apply scan.tif -k box:5 -p valid -s 2 -o small.tif",
    "convcli apply - -k sharpen < in.png > out.png",
    "convcli apply img.png -k sobel-x -k sobel-y --bank --colormap viridis --montage sheet.png",
)


def apply(
    ctx: typer.Context,
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Image or .npy files, folders, or URLs (s3://bucket/photos/); '-' reads "
            "an image from standard input.",
        ),
    ],
    kernel: Annotated[
        list[str],
        typer.Option(
            "-k",
            "--kernel",
            metavar="KERNEL",
            autocompletion=complete_kernel,
            help="Kernel: a name, family:params, file.toml[:name] or a matrix like "
            "'[[0,1,0],[1,-4,1],[0,1,0]]'. Repeat to apply several in sequence.",
        ),
    ],
    bank: Annotated[
        bool,
        typer.Option(
            "--bank",
            help="Apply each -k to the inputs on its own (a filter bank), not in sequence: "
            "one output per kernel, named as a run of that kernel alone names it; -o is then "
            f"a folder (at most {MAX_BANK_KERNELS} kernels).",
        ),
    ] = False,
    montage: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="With --bank: one labelled contact sheet of each input and its responses "
            f"(tiles at most {MONTAGE_TILE} px, {MAX_MONTAGE_TILES} tiles; format by suffix)",
        ),
    ] = None,
    montage_scale: Annotated[
        str | None,
        typer.Option(
            metavar="SCALE",
            autocompletion=completes(MontageScale),
            help="With --montage and --colormap: show the responses' values as heat maps, on "
            "one scale (shared) or each on its own (each) [default: the files as written]",
        ),
    ] = None,
    padding: PaddingOption = "same",
    pad_mode: PadModeOption = "reflect",
    pad_value: PadValueOption = 0.0,
    stride: StrideOption = "1",
    dilation: DilationOption = "1",
    flip: FlipOption = False,
    gray: Annotated[bool, typer.Option("--gray", help="Convert to luminance first.")] = False,
    output_range: Annotated[
        str | None,
        typer.Option(
            "--range",
            metavar="MODE",
            autocompletion=completes(Range),
            help=f"Output mapping: {spoken(Range)} "
            "[default: the kernel's, else clip; raw for .npy]",
        ),
    ] = None,
    colormap: Annotated[
        str | None,
        typer.Option(
            metavar="MAP",
            autocompletion=completes(Colormap),
            help=f"False-colour heat map of the response: {spoken(Colormap)} "
            "(implies --gray; the range is --range, else the kernel's, else rescale)",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="PATH",
            help="Output file, folder (made if it ends in /), URL, or '-' for standard output "
            f"[default: {DEFAULT_TEMPLATE} beside the input]",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="TEMPLATE",
            help="Output file names, from the fields "
            + ", ".join(f"{{{field}}}" for field in FIELDS)
            + f" [default: {DEFAULT_TEMPLATE}]",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            autocompletion=completes(WRITTEN),
            help=f"Output format: {', '.join(WRITTEN)} [default: input's, or PNG or TIFF]",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report the shapes only; write nothing.")
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="JSON Lines report on stdout, one record per input.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Also write the report to a .json or .csv file."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            metavar="METHOD",
            autocompletion=completes(Method),
            help=f"Engine algorithm: {spoken(Method)}.",
        ),
    ] = "auto",
    compress_level: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=9,
            metavar="0-9",
            help="PNG: zlib level, 0 (fastest) to 9 (smallest) "
            "[default: fast run-length coding, sizes like levels 1 to 6]",
        ),
    ] = None,
    quality: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100,
            metavar="1-100",
            help="JPEG and WebP quality, 1 to 100 [default: a JPEG input's own "
            "compression for a JPEG output, else 95]",
        ),
    ] = None,
    frame: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_FRAMES - 1,
            metavar="N",
            help="One frame of an animation (or page of a stack), counted from 0 "
            "[default: every frame, where the output format holds them]",
        ),
    ] = None,
    strip: Annotated[
        bool,
        typer.Option("--strip", help="Leave out the input's colour profile, EXIF and resolution."),
    ] = False,
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Descend into sub-folders, mirroring them.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j",
            "--jobs",
            min=1,
            max=MAX_JOBS,
            metavar="N",
            help="Parallel worker processes [default: the CPUs this process may use]",
        ),
    ] = None,
    tile: Annotated[
        int | None,
        typer.Option(
            min=16,
            max=MAX_TILE,
            metavar="N",
            help="Filter a .npy, TIFF or Zarr input larger than memory in tiles of N x N output "
            "samples, with Dask (the distributed extra); writes .npy, a tiled TIFF or Zarr",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            envvar=["CONVCLI_SCHEDULER", "DASK_SCHEDULER_ADDRESS"],
            show_envvar=False,
            metavar="ADDRESS",
            help="Run on a Dask cluster: tcp://host:port, or local[:N] for N local worker "
            "processes (the distributed extra) [env: CONVCLI_SCHEDULER, DASK_SCHEDULER_ADDRESS]",
        ),
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
            min=1,
            max=MAX_PIXELS_LIMIT,
            metavar="N",
            help="Refuse larger inputs, checked before decoding [default: Pillow's 89478485]",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No table, no progress bar, no summary.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v",
            "--verbose",
            help="A row for every input of a batch [default: only the failed and skipped]",
        ),
    ] = False,
) -> int:
    """Filter images (or .npy arrays) with one kernel, a pipeline of kernels, or a bank."""
    from convcli.cli.feedback import Feedback, kernel_notes
    from convcli.io.images import DEFAULT_MAX_PIXELS
    from convcli.kernels.catalog import KERNEL_PATH_VARIABLE
    from convcli.report import check_report_path
    from convcli.run.model import RunOptions
    from convcli.run.planning import plan_run

    sheet = _sheet_request(montage, bank, colormap, montage_scale)
    if json_lines and sys.stdout is None:
        raise ConvcliError("cannot write the --json records: standard output is closed")
    if "-" in inputs and sys.stdin is not None and sys.stdin.isatty():
        raise UsageError("standard input is a terminal: pipe an image in (convcli apply - < a.png)")
    settings = settings_from(ctx.params)
    kernel_notes(settings.kernels, KERNEL_PATH_VARIABLE)
    if report is not None:
        check_report_path(report)
    options = RunOptions(workers=jobs or usable_cpus(), fail_fast=fail_fast, dry_run=dry_run,
                         max_pixels=max_pixels or DEFAULT_MAX_PIXELS)  # fmt: skip
    with _cluster(scheduler, options.workers, inputs) as client:  # before anything is written
        planned = plan_run(
            inputs, output, settings, template=name and check_template(name), recursive=recursive,
            skip_existing=skip_existing, max_pixels=options.max_pixels, dry_run=dry_run, bank=bank,
            sheet=sheet.path if sheet else None, tile=tile,
        )  # fmt: skip
        to_stdout = _check_outputs(planned, report, json_lines)
        drawing = _drawing(sheet, planned, settings, options, kernel)
        feedback = Feedback(len(planned.jobs), json_lines=json_lines, quiet=quiet,
                            every_row=verbose or dry_run, table_on_stderr=to_stdout)  # fmt: skip
        reports = _run(planned, settings, options, client, feedback, drawing)
    return _finish(reports, report, drawing)


def _check_outputs(planned: "RunPlan", report: Path | None, json_lines: bool) -> bool:
    """Refuse outputs that clash with the report or the terminal; return whether one is stdout."""
    from convcli.report import check_report_path

    if report is not None:
        targets = [job.target for job in planned.jobs if isinstance(job.target, Path)]
        check_report_path(report, targets)
    to_stdout = any(
        job.target is None and job.skip is None and job.failure is None for job in planned.jobs
    )
    if json_lines and to_stdout:
        raise UsageError("--json and -o - both want standard output; write the image to a file")
    if to_stdout and sys.stdout is not None and sys.stdout.isatty():  # as gzip refuses
        raise UsageError(
            "standard output is a terminal: an image is not written on the screen; "
            "redirect it (> out.png) or use -o FILE"
        )
    return to_stdout


def _run(
    planned: "RunPlan",
    settings: "Settings",
    options: "RunOptions",
    client: Any,
    feedback: "Feedback",
    drawing: "BankSheet | None",
) -> "list[Report]":
    """Run the batch on the executor its jobs call for; feedback and the sheet see each report."""
    from convcli.cli.feedback import note_line
    from convcli.distributed.executors import executor_for  # Dask itself only if asked for
    from convcli.run.batch import run_batch

    for note in planned.notes:
        note_line(note)
    each = _each(feedback.report, _fed(drawing, planned.jobs, settings, options))
    with feedback.progress():
        executor = executor_for(planned.jobs, options, client)
        reports = run_batch(planned.jobs, settings, options, executor, each)
    feedback.finish(reports)
    return reports


def _finish(reports: "list[Report]", report: Path | None, drawing: "BankSheet | None") -> int:
    """Write the report file and the contact sheet; return the exit code of the run."""
    from convcli.report import Status, write_report

    if report is not None:
        write_report(report, reports)
    if drawing:  # after the records and the report: a sheet that cannot be written loses neither
        drawing.write()
    failed = any(done.status == Status.ERROR for done in reports)
    return int(ExitCode.FAILED if failed else ExitCode.OK)


def _sheet_request(
    montage: str | None, bank: bool, colormap: str | None, scale: str | None
) -> "SheetRequest | None":
    if montage is None and scale is None:
        return None
    from convcli.pictures.montage import SheetRequest  # Pillow's drawing: only for a sheet

    return SheetRequest.checked(montage, bank, colormap, scale)


def _drawing(
    sheet: "SheetRequest | None",
    planned: "RunPlan",
    settings: "Settings",
    options: "RunOptions",
    specs: list[str],
) -> "BankSheet | None":
    if sheet is None:
        return None
    if options.dry_run:
        planned.notes.append(sheet.not_drawn)
        return None
    from convcli.cli.feedback import shown  # a label on the sheet is one line, as on stderr

    return sheet.drawing(settings, [shown(spec) for spec in specs], options.max_pixels)


def _fed(
    drawing: "BankSheet | None", jobs: "list[Job]", settings: "Settings", options: "RunOptions"
) -> "Callable[[Report], None] | None":
    """Return a callback that gives the sheet each report with its job (they come in order)."""
    if drawing is None:
        return None
    from convcli.cli.feedback import shown
    from convcli.pictures.montage import Response
    from convcli.run.job import job_source

    pending = iter(jobs)

    def add(report: "Report") -> None:
        job = next(pending)
        if job.kernel is not None:  # an input that is no image, or missing, has no tile
            source = functools.partial(job_source, job, options)
            response = Response(job.kernel, shown(job.label), job.settings_for(settings), source,
                                job.target)  # fmt: skip
            drawing.add(response, report)

    return add


def _each(*calls: "Callable[[Report], None] | None") -> "Callable[[Report], None]":
    """Return one callback that passes each report to every call given."""

    def each(report: "Report") -> None:
        for call in calls:
            if call is not None:
                call(report)

    return each


def _cluster(scheduler: str | None, workers: int, inputs: list[str]) -> AbstractContextManager[Any]:
    """Open the cluster asked for: its client (a Dask Client), or None."""
    if not scheduler:
        return contextlib.nullcontext()
    from convcli.distributed.cluster import session  # Dask: only when a cluster is asked for

    return session(scheduler, workers, inputs)


def usable_cpus() -> int:
    """Count the CPUs this process may run on: its affinity, within a cgroup's CPU quota."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:  # cgroup v2: "max 100000" or "150000 100000" (quota, period)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count or 1, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, count or 1)


def settings_from(options: Mapping[str, Any]) -> "Settings":
    """Turn apply's options, as Typer parsed them, into what is done to every input."""
    from convcli.choices import PAD_MODE_ALIASES, PadMode, choose
    from convcli.cli.options import parse_ints, parse_padding
    from convcli.kernels.catalog import load_kernel
    from convcli.run.model import Settings

    colormap = options["colormap"]
    output_range = options["output_range"] and choose(Range, options["output_range"], "range")
    pad_mode = choose(PadMode, options["pad_mode"], "pad_mode", PAD_MODE_ALIASES)
    return Settings(
        kernels=tuple(load_kernel(spec) for spec in options["kernel"]),
        padding=parse_padding(options["padding"]),
        pad_mode=pad_mode,
        pad_value=options["pad_value"],
        stride=parse_ints("--stride", options["stride"]),
        dilation=parse_ints("--dilation", options["dilation"]),
        flip=options["flip"],
        gray=options["gray"] or colormap is not None,
        range=output_range,
        method=choose(Method, options["method"], "method"),
        colormap=colormap and choose(Colormap, colormap, "colormap"),
        format=options["output_format"],
        compress_level=options["compress_level"],
        quality=options["quality"],
        strip=options["strip"],
        frame=options["frame"],
    )
