"""``convcli apply``: filter images, arrays and folders of them."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
import contextlib
import functools
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from convcli.choices import MontageScale, choose
from convcli.cli.environment import Environment, environment
from convcli.cli.options import (
    BankOption,
    ColormapOption,
    CompressLevelOption,
    DilationOption,
    DryRunOption,
    FailFastOption,
    FlipOption,
    FormatOption,
    FrameOption,
    GrayOption,
    InputsArgument,
    JobsOption,
    JsonLinesOption,
    KernelsOption,
    MaxPixelsOption,
    MethodOption,
    MontageOption,
    MontageScaleOption,
    NameOption,
    OutputOption,
    PaddingOption,
    PadModeOption,
    PadValueOption,
    QualityOption,
    QuietOption,
    RangeOption,
    RecursiveOption,
    ReportOption,
    SchedulerOption,
    SkipExistingOption,
    StrideOption,
    StripOption,
    TileOption,
    VerboseOption,
    examples,
)
from convcli.errors import ConvcliError, ExitCode, UsageError
from convcli.naming import check_template

if TYPE_CHECKING:
    from collections.abc import Callable

    from convcli.cli.feedback import Feedback
    from convcli.pictures.montage import BankSheet, SheetRequest
    from convcli.report import Report
    from convcli.run.model import Job, RunOptions, Settings
    from convcli.run.planning import RunPlan


EXAMPLES = examples(
    "convcli apply photo.jpg -k sobel-x        # writes photo_sobel-x.jpg",
    "convcli apply photos/ -k gaussian:sigma=2 -o blurred/ -j 4",
    "convcli apply scan.tif -k box:5 -p valid -s 2 -o small.tif",
    "convcli apply - -k sharpen < in.png > out.png",
    "convcli apply img.png -k sobel-x -k sobel-y --bank --colormap viridis --montage sheet.png",
)


def apply(
    ctx: typer.Context,
    inputs: InputsArgument,
    kernel: KernelsOption,
    bank: BankOption = False,
    method: MethodOption = "auto",
    padding: PaddingOption = "same",
    pad_mode: PadModeOption = "reflect",
    pad_value: PadValueOption = 0.0,
    stride: StrideOption = "1",
    dilation: DilationOption = "1",
    flip: FlipOption = False,
    gray: GrayOption = False,
    output_range: RangeOption = None,
    colormap: ColormapOption = None,
    recursive: RecursiveOption = False,
    frame: FrameOption = None,
    max_pixels: MaxPixelsOption = None,
    output: OutputOption = None,
    name: NameOption = None,
    output_format: FormatOption = None,
    compress_level: CompressLevelOption = None,
    quality: QualityOption = None,
    strip: StripOption = False,
    jobs: JobsOption = None,
    skip_existing: SkipExistingOption = False,
    fail_fast: FailFastOption = False,
    dry_run: DryRunOption = False,
    json_lines: JsonLinesOption = False,
    report: ReportOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    montage: MontageOption = None,
    montage_scale: MontageScaleOption = None,
    scheduler: SchedulerOption = None,
    tile: TileOption = None,
) -> int:
    """Filter images (or .npy arrays) with one kernel, a pipeline of kernels, or a bank."""
    from convcli.catalog.lookup import KERNEL_PATH_VARIABLE
    from convcli.cli.feedback import Feedback, kernel_notes
    from convcli.io.pillow import DEFAULT_MAX_PIXELS
    from convcli.report import check_report_path
    from convcli.run.model import RunOptions
    from convcli.run.planning import plan_run

    sheet = _sheet_request(montage, bank, colormap, montage_scale)
    streams = _streams_checked(environment(ctx), inputs, json_lines)
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
        to_stdout = _check_outputs(planned, report, streams, json_lines)
        drawing = _drawing(sheet, planned, settings, options, kernel)
        feedback = Feedback(len(planned.jobs), json_lines=json_lines, quiet=quiet, streams=streams,
                            every_row=verbose or dry_run, table_on_stderr=to_stdout)  # fmt: skip
        reports = _run(planned, settings, options, client, feedback, drawing)
    return _finish(reports, report, drawing)


def _streams_checked(streams: Environment, inputs: list[str], json_lines: bool) -> Environment:
    """Refuse, before anything is planned, streams that cannot carry what the options ask."""
    if json_lines and streams.stdout is None:
        raise ConvcliError("cannot write the --json records: standard output is closed")
    if "-" in inputs and streams.stdin_isatty:
        raise UsageError("standard input is a terminal: pipe an image in (convcli apply - < a.png)")
    return streams


def _check_outputs(
    planned: "RunPlan", report: Path | None, streams: Environment, json_lines: bool
) -> bool:
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
    if to_stdout and streams.stdout_isatty:  # as gzip refuses
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
    """Check --montage and --montage-scale with the options they need."""
    if montage is None and scale is None:
        return None
    if montage is None:
        raise UsageError("--montage-scale scales the heat maps of a --montage sheet; give one")
    if not bank:
        raise UsageError(
            "--montage draws a --bank's responses side by side; add --bank (without it, "
            "several -k are one pipeline with one output)"
        )
    if scale is not None and colormap is None:
        raise UsageError("--montage-scale scales heat maps: give --colormap too")
    from convcli.pictures.montage import SheetRequest, picture_path  # Pillow: only for a sheet

    chosen = None if scale is None else choose(MontageScale, scale, "montage_scale")
    return SheetRequest(*picture_path(montage, "montage"), chosen)


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
        planned.notes.append(f"--dry-run: the --montage sheet {sheet.path} is not drawn")
        return None
    from convcli.cli.text import shown  # a label on the sheet is one line, as on stderr

    return sheet.drawing(settings, [shown(spec) for spec in specs], options.max_pixels)


def _fed(
    drawing: "BankSheet | None", jobs: "list[Job]", settings: "Settings", options: "RunOptions"
) -> "Callable[[Report], None] | None":
    """Return a callback that gives the sheet each report with its job (they come in order)."""
    if drawing is None:
        return None
    from convcli.cli.text import shown
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
    from convcli.cli.options import parse_ints, parse_padding
    from convcli.library.apply import checked_settings  # checked as convcli.apply checks them

    return checked_settings(
        options["kernel"],
        padding=parse_padding(options["padding"]),
        pad_mode=options["pad_mode"],
        pad_value=options["pad_value"],
        stride=parse_ints("--stride", options["stride"]),
        dilation=parse_ints("--dilation", options["dilation"]),
        flip=options["flip"],
        gray=options["gray"],
        range=options["output_range"],
        method=options["method"],
        colormap=options["colormap"],
        format=options["output_format"],
        compress_level=options["compress_level"],
        quality=options["quality"],
        strip=options["strip"],
        frame=options["frame"],
    )
