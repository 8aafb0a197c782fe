"""Options as the user writes them: their declarations, help text and parsing.

The choice lists in ``--help`` are generated from :mod:`convcli.choices`,
so they cannot drift from what the library accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer

from convcli.choices import (
    DEFAULT_TEMPLATE,
    FIELDS,
    PAD_MODE_ALIASES,
    READ_ONLY,
    Colormap,
    FileFormat,
    Method,
    MontageScale,
    PaddingWord,
    PadMode,
    Range,
    suggestion,
)
from convcli.errors import UsageError
from convcli.limits import (
    MAX_BANK_KERNELS,
    MAX_FRAMES,
    MAX_GEOMETRY,
    MAX_JOBS,
    MAX_MONTAGE_TILES,
    MAX_PIXELS_LIMIT,
    MAX_TILE,
    MIN_TILE,
    MONTAGE_TILE,
)

WRITTEN = [name for name in FileFormat if name not in READ_ONLY]
PADDING_FORMS = f"{', '.join(PaddingWord)}, N, N,M or T,B,L,R"


def spoken(choices: Iterable[str]) -> str:
    """List choices as a sentence does: ``a, b or c``.

    Examples
    --------
    >>> spoken(["clip", "abs", "raw"])
    'clip, abs or raw'
    """
    names = list(choices)
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def examples(*lines: str) -> str:
    """Return the Examples paragraph ending a command's --help."""
    # "\b" keeps click from re-wrapping the lines.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def completes(*choices: Iterable[str]) -> Callable[[str], list[str]]:
    """Return a shell-completion function offering ``choices`` (Typer's ``autocompletion``)."""

    def complete(incomplete: str) -> list[str]:
        return [name for group in choices for name in group if name.startswith(incomplete)]

    return complete


def complete_kernel(incomplete: str) -> list[str]:
    """Complete a kernel name: built-in, family (as ``name:``) or from CONVCLI_KERNEL_PATH."""
    import convcli

    names = [kernel.name.partition(":")[0] + ":" if kernel.parameters is not None else kernel.name
             for kernel in convcli.kernels()]  # fmt: skip
    return completes(names)(incomplete)


def complete_tag(incomplete: str) -> list[str]:
    """Complete a kernel tag, from every kernel's tags."""
    import convcli

    tags = {tag for kernel in convcli.kernels() for tag in kernel.tags}
    return completes(sorted(tags))(incomplete)


# apply's options in their --help groups (Typer's rich_help_panel; drawn in plain text by
# cli/app.py's _Command): what a user looks for, in the order a run goes.
KERNELS, GEOMETRY, VALUES, INPUTS, OUTPUT = "Kernels", "Geometry", "Values", "Inputs", "Output"
BATCH, REPORTS, SHEET, SCALE_OUT = "Batch", "Reports", "Contact sheet", "Scale-out"

InputsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT...",
        help="Image or .npy files, folders, or URLs (s3://bucket/photos/); '-' reads "
        "an image from standard input.",
    ),
]
KernelsOption = Annotated[
    list[str],
    typer.Option(
        "-k",
        "--kernel",
        metavar="KERNEL",
        autocompletion=complete_kernel,
        help="Kernel: a name, family:params, file.toml[:name] or a matrix like "
        "'[[0,1,0],[1,-4,1],[0,1,0]]'; a layer's weights (w.npy, w.safetensors:conv1.weight) "
        "or step (relu, maxpool:2). Repeat to apply several in sequence.",
        rich_help_panel=KERNELS,
    ),
]
BiasOption = Annotated[
    list[str] | None,
    typer.Option(
        "--bias",
        metavar="FILE[:NAME]",
        help="A layer's bias, one number per filter: an .npy, .npz, .safetensors or TOML "
        "array, or a list like '[0.1,-0.2]'. Repeat for each layer kernel, in order "
        "[default: the X.bias beside X.weight]",
        rich_help_panel=KERNELS,
    ),
]
BankOption = Annotated[
    bool,
    typer.Option(
        "--bank",
        help="Apply each -k to the inputs on its own (a filter bank), not in sequence: "
        "one output per kernel, named as a run of that kernel alone names it; -o is then "
        f"a folder (at most {MAX_BANK_KERNELS} kernels).",
        rich_help_panel=KERNELS,
    ),
]
MethodOption = Annotated[
    str,
    typer.Option(
        metavar="METHOD",
        autocompletion=completes(Method),
        help=f"Engine algorithm: {spoken(Method)}.",
        rich_help_panel=KERNELS,
    ),
]

# The geometry options, shared by apply and explain.
PaddingOption = Annotated[
    str,
    typer.Option(
        "-p",
        "--padding",
        metavar="PADDING",
        autocompletion=completes(PaddingWord),
        help=f"{PADDING_FORMS}.",
        rich_help_panel=GEOMETRY,
    ),
]
PadModeOption = Annotated[
    str,
    typer.Option(
        "--pad-mode",
        metavar="MODE",
        autocompletion=completes(PadMode),
        help=f"Border: {', '.join(PadMode)} (or {', '.join(PAD_MODE_ALIASES)}).",
        rich_help_panel=GEOMETRY,
    ),
]
PadValueOption = Annotated[
    float,
    typer.Option(
        "--pad-value", metavar="VALUE", help="Value of zero padding.", rich_help_panel=GEOMETRY
    ),
]
StrideOption = Annotated[
    str,
    typer.Option("-s", "--stride", metavar="N[,M]", help="N or N,M.", rich_help_panel=GEOMETRY),
]
DilationOption = Annotated[
    str,
    typer.Option("-d", "--dilation", metavar="N[,M]", help="N or N,M.", rich_help_panel=GEOMETRY),
]
FlipOption = Annotated[
    bool,
    typer.Option(
        "--flip", help="True convolution (kernel rotated 180°).", rich_help_panel=GEOMETRY
    ),
]

GrayOption = Annotated[
    bool, typer.Option("--gray", help="Convert to luminance first.", rich_help_panel=VALUES)
]
RangeOption = Annotated[
    str | None,
    typer.Option(
        "--range",
        metavar="MODE",
        autocompletion=completes(Range),
        help=f"Output mapping: {spoken(Range)} [default: the kernel's, else clip; raw for .npy]",
        rich_help_panel=VALUES,
    ),
]
ColormapOption = Annotated[
    str | None,
    typer.Option(
        metavar="MAP",
        autocompletion=completes(Colormap),
        help=f"False-colour heat map of the response: {spoken(Colormap)} "
        "(implies --gray; the range is --range, else the kernel's, else rescale)",
        rich_help_panel=VALUES,
    ),
]

RecursiveOption = Annotated[
    bool,
    typer.Option(
        "-r",
        "--recursive",
        help="Descend into sub-folders, mirroring them.",
        rich_help_panel=INPUTS,
    ),
]
FrameOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=MAX_FRAMES - 1,
        metavar="N",
        help="One frame of an animation (or page of a stack), counted from 0 "
        "[default: every frame, where the output format holds them]",
        rich_help_panel=INPUTS,
    ),
]
MaxPixelsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=MAX_PIXELS_LIMIT,
        metavar="N",
        help="Refuse larger inputs, checked before decoding [default: Pillow's 89478485]",
        rich_help_panel=INPUTS,
    ),
]

OutputOption = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        metavar="PATH",
        help="Output file, folder (made if it ends in /), URL, or '-' for standard output "
        f"[default: {DEFAULT_TEMPLATE} beside the input]",
        rich_help_panel=OUTPUT,
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        metavar="TEMPLATE",
        help="Output file names, from the fields "
        + ", ".join(f"{{{field}}}" for field in FIELDS)
        + f" [default: {DEFAULT_TEMPLATE}]",
        rich_help_panel=OUTPUT,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="FORMAT",
        autocompletion=completes(WRITTEN),
        help=f"Output format: {', '.join(WRITTEN)} [default: input's, or PNG or TIFF]",
        rich_help_panel=OUTPUT,
    ),
]
CompressLevelOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=9,
        metavar="0-9",
        help="PNG: zlib level, 0 (fastest) to 9 (smallest) "
        "[default: fast run-length coding, sizes like levels 1 to 6]",
        rich_help_panel=OUTPUT,
    ),
]
QualityOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=100,
        metavar="1-100",
        help="JPEG and WebP quality, 1 to 100 [default: a JPEG input's own "
        "compression for a JPEG output, else 95]",
        rich_help_panel=OUTPUT,
    ),
]
StripOption = Annotated[
    bool,
    typer.Option(
        "--strip",
        help="Leave out the input's colour profile, EXIF and resolution.",
        rich_help_panel=OUTPUT,
    ),
]

JobsOption = Annotated[
    int | None,
    typer.Option(
        "-j",
        "--jobs",
        min=1,
        max=MAX_JOBS,
        metavar="N",
        help="Parallel worker processes [default: the CPUs this process may use]",
        rich_help_panel=BATCH,
    ),
]
SkipExistingOption = Annotated[
    bool,
    typer.Option(
        "--skip-existing", help="Leave outputs that already exist.", rich_help_panel=BATCH
    ),
]
FailFastOption = Annotated[
    bool,
    typer.Option("--fail-fast", help="Stop at the first failed input.", rich_help_panel=BATCH),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Report the shapes only; write nothing.", rich_help_panel=BATCH),
]

JsonLinesOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="JSON Lines report on stdout, one record per input.",
        rich_help_panel=REPORTS,
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="Also write the report to a .json or .csv file.",
        rich_help_panel=REPORTS,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "-q",
        "--quiet",
        help="No table, no progress bar, no summary.",
        rich_help_panel=REPORTS,
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "-v",
        "--verbose",
        help="A row for every input of a batch [default: only the failed and skipped]",
        rich_help_panel=REPORTS,
    ),
]

MontageOption = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help="With --bank: one labelled contact sheet of each input and its responses "
        f"(tiles at most {MONTAGE_TILE} px, {MAX_MONTAGE_TILES} tiles; format by suffix); "
        "with a layer kernel: one input's feature maps, each beside its filter's weights",
        rich_help_panel=SHEET,
    ),
]
MontageScaleOption = Annotated[
    str | None,
    typer.Option(
        metavar="SCALE",
        autocompletion=completes(MontageScale),
        help="With --montage and --colormap: show the responses' values as heat maps, on "
        "one scale (shared) or each on its own (each) [default: the files as written; a "
        "layer's maps: each]",
        rich_help_panel=SHEET,
    ),
]

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        envvar=["CONVCLI_SCHEDULER", "DASK_SCHEDULER_ADDRESS"],
        show_envvar=False,
        metavar="ADDRESS",
        help="Run on a Dask cluster: tcp://host:port, or local[:N] for N local worker "
        "processes (the distributed extra) [env: CONVCLI_SCHEDULER, DASK_SCHEDULER_ADDRESS]",
        rich_help_panel=SCALE_OUT,
    ),
]
TileOption = Annotated[
    int | None,
    typer.Option(
        min=MIN_TILE,
        max=MAX_TILE,
        metavar="N",
        help="Filter a .npy, TIFF or Zarr input larger than memory in tiles of N x N output "
        "samples, with Dask (the distributed extra); writes .npy, a tiled TIFF or Zarr",
        rich_help_panel=SCALE_OUT,
    ),
]


def parse_ints(option: str, text: str, forms: str = "N or N,M", least: int = 1) -> tuple[int, ...]:
    """Read ``N`` or ``N,M,...`` as integers, each at least ``least``.

    Examples
    --------
    >>> parse_ints("--stride", "2,1")
    (2, 1)
    >>> parse_ints("--stride", "two")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --stride must be N or N,M (integers), got 'two'
    """
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{option} must be {forms} (integers), got {text!r}") from None
    if min(values) < least:
        raise UsageError(f"{option} must be >= {least}, got {text!r}")
    if max(values) > MAX_GEOMETRY:
        raise UsageError(f"{option} must be at most {MAX_GEOMETRY}, got {text!r}")
    return values


def parse_padding(text: str) -> str | tuple[int, ...]:
    """Read ``same``, ``valid``, ``full``, ``N``, ``N,M`` or ``T,B,L,R``.

    Examples
    --------
    >>> parse_padding("same"), parse_padding("1,2,3,4")
    ('same', (1, 2, 3, 4))
    """
    if text in set(PaddingWord):
        return text
    try:
        return parse_ints("--padding", text, PADDING_FORMS, least=0)
    except UsageError as error:
        hint = suggestion(text, list(PaddingWord))
        raise UsageError(f"{error}; {hint}" if hint else str(error)) from None
