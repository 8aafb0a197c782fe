"""``convcli apply``: filter images, arrays and folders of them."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

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
    from convcli.library.batch import BankSheet, RunOptions, RunPlan, Settings, SheetRequest


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
    from convcli.cli.feedback import Feedback, kernel_notes, note_line
    from convcli.cli.text import shown
    from convcli.library import batch

    sheet = _sheet_request(montage, bank, colormap, montage_scale)
    streams = _streams_checked(environment(ctx), inputs, json_lines)
    settings = settings_from(ctx.params)
    if bank:  # each member of a set (kirsch, sobel@) is a kernel of the bank
        settings, kernel = batch.bank_of(settings, kernel)
    kernel_notes(settings.kernels, batch.KERNEL_PATH_VARIABLE)
    if report is not None:
        batch.check_report_path(report)
    options = _run_options(jobs, fail_fast, dry_run, max_pixels)
    with batch.cluster(scheduler, options.workers, inputs) as client:  # before anything is written
        planned = batch.plan_run(
            inputs, output, settings, template=name and check_template(name), recursive=recursive,
            skip_existing=skip_existing, max_pixels=options.max_pixels, dry_run=dry_run, bank=bank,
            sheet=sheet.path if sheet else None, tile=tile,
        )  # fmt: skip
        to_stdout = _check_outputs(planned, report, streams, json_lines)
        drawing = _drawing(sheet, planned, settings, options, kernel)
        feedback = Feedback(len(planned.jobs), json_lines=json_lines, quiet=quiet, streams=streams,
                            every_row=verbose or dry_run, table_on_stderr=to_stdout)  # fmt: skip
        for note in planned.notes:
            note_line(note)
        with feedback.progress():
            reports = batch.run(planned, settings, options, client, feedback.report, drawing, shown)
        feedback.finish(reports)
    failed = batch.finish(reports, report, drawing)
    return int(ExitCode.FAILED if failed else ExitCode.OK)


def _run_options(
    jobs: int | None, fail_fast: bool, dry_run: bool, max_pixels: int | None
) -> "RunOptions":
    """How the run's jobs run: the workers (the usable CPUs unless given) and the limits."""
    from convcli.library import batch

    return batch.RunOptions(
        workers=jobs or batch.usable_cpus(), fail_fast=fail_fast, dry_run=dry_run,
        max_pixels=max_pixels or batch.DEFAULT_MAX_PIXELS,
    )  # fmt: skip


def _drawing(
    sheet: "SheetRequest | None",
    planned: "RunPlan",
    settings: "Settings",
    options: "RunOptions",
    kernels: list[str],
) -> "BankSheet | None":
    """Return the contact sheet to draw as reports arrive; a dry run draws none, and says so."""
    if sheet is None:
        return None
    if options.dry_run:
        planned.notes.append(f"--dry-run: the --montage sheet {sheet.path} is not drawn")
        return None
    from convcli.cli.text import shown  # a label on the sheet is one line, as on stderr
    from convcli.library import batch

    return batch.sheet_drawing(sheet, settings, [shown(k) for k in kernels], options)


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
    from convcli.library.batch import check_report_path

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
    from convcli.library.batch import sheet_request

    return sheet_request(montage, scale)


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
