"""``convcli apply``: filter images, arrays and folders of them."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
import gc
from collections.abc import Mapping
from typing import Any

import typer

import convcli
from convcli.cli.environment import Environment, environment
from convcli.cli.options import (
    BankOption,
    BiasOption,
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
    bias: BiasOption = None,
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
    from convcli.cli.feedback import Feedback, note_line
    from convcli.io.readahead import read_ahead  # before convcli.batch's imports, beside them

    streams = _streams_checked(environment(ctx), inputs, json_lines)
    one_file = _read_once(inputs, bank, dry_run, skip_existing, tile, scheduler, frame)
    with read_ahead(one_file, max_pixels), convcli.batch(
        inputs, kernel, output, bank=bank, recursive=recursive, template=name,
        skip_existing=skip_existing, jobs=jobs, fail_fast=fail_fast, dry_run=dry_run,
        max_pixels=max_pixels, report=report, montage=montage,
        montage_scale=montage_scale, scheduler=scheduler, tile=tile, **settings_from(ctx.params),
    ) as run:  # fmt: skip
        to_stdout = _check_outputs(run, streams, json_lines)
        feedback = Feedback(len(run), json_lines=json_lines, quiet=quiet, streams=streams,
                            every_row=verbose or dry_run, table_on_stderr=to_stdout)  # fmt: skip
        for note in run.notes:
            note_line(note)
        if not gc.isenabled():  # off since main(), for start-up: the run's garbage is collected
            gc.freeze()
            gc.enable()
        with feedback.progress():
            reports = run.run(feedback.report)
        feedback.finish(reports)
    return int(ExitCode.FAILED if run.failed else ExitCode.OK)


def _read_once(
    inputs: list[str], bank: bool, dry_run: bool, skip_existing: bool,
    tile: int | None, scheduler: str | None, frame: int | None,
) -> str | None:  # fmt: skip
    """Return the one input read once, here, whose decode may start ahead; else None.

    Not for several inputs (a folder is told by its reader), a bank (a job per
    kernel, in worker processes), a run that may read nothing (a dry run,
    ``--skip-existing``), tiles, a cluster or a frame past the first.
    """
    if len(inputs) != 1 or inputs[0] == "-" or bank or dry_run or skip_existing:
        return None
    return None if tile or scheduler or frame else inputs[0]


def _streams_checked(streams: Environment, inputs: list[str], json_lines: bool) -> Environment:
    """Refuse, before anything is planned, streams that cannot carry what the options ask."""
    if json_lines and streams.stdout is None:
        raise ConvcliError("cannot write the --json records: standard output is closed")
    if "-" in inputs and streams.stdin_isatty:
        raise UsageError("standard input is a terminal: pipe an image in (convcli apply - < a.png)")
    return streams


def _check_outputs(run: "convcli.Batch", streams: Environment, json_lines: bool) -> bool:
    """Refuse an output on standard output that the terminal or the records want."""
    if json_lines and run.to_stdout:
        raise UsageError("--json and -o - both want standard output; write the image to a file")
    if run.to_stdout and streams.stdout_isatty:  # as gzip refuses
        raise UsageError(
            "standard output is a terminal: an image is not written on the screen; "
            "redirect it (> out.png) or use -o FILE"
        )
    return run.to_stdout


def settings_from(options: Mapping[str, Any]) -> dict[str, Any]:
    """Turn apply's options, as Typer parsed them, into what is done to every input."""
    from convcli.cli.options import parse_ints, parse_padding

    return {
        "bias": options["bias"] or None,
        "padding": parse_padding(options["padding"]),
        "pad_mode": options["pad_mode"],
        "pad_value": options["pad_value"],
        "stride": parse_ints("--stride", options["stride"]),
        "dilation": parse_ints("--dilation", options["dilation"]),
        "flip": options["flip"],
        "gray": options["gray"],
        "range": options["output_range"],
        "method": options["method"],
        "colormap": options["colormap"],
        "format": options["output_format"],
        "compress_level": options["compress_level"],
        "quality": options["quality"],
        "strip": options["strip"],
        "frame": options["frame"],
    }
