"""``convcli explain``: a convolution written out step by step."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import convcli
from convcli.cli.options import (
    DilationOption,
    FlipOption,
    PaddingOption,
    PadModeOption,
    PadValueOption,
    StrideOption,
    complete_kernel,
    examples,
)
from convcli.errors import UsageError, cannot_write
from convcli.limits import ANIMATION_FRAMES, MAX_ANIMATION_FRAMES, MAX_STEPS

if TYPE_CHECKING:
    from convcli import Explanation

EXAMPLES = examples(
    "convcli explain -k sobel-x                  # on a 5x5 ramp",
    "convcli explain -k box:3 -p 1 -s 2 --input '[[1,2,3],[4,5,6],[7,8,9]]'",
    "convcli explain -k laplacian --input photo.jpg --crop 100,100,6,6 --flip",
    "convcli explain -k sobel-x -p 1 -s 2 --animate sobel.gif --html sobel.html",
)


def explain(
    kernel: Annotated[
        str,
        typer.Option(
            "-k",
            "--kernel",
            metavar="KERNEL",
            autocompletion=complete_kernel,
            help="A kernel spec, as for apply.",
        ),
    ],
    input_text: Annotated[
        str | None,
        typer.Option(
            "--input",
            metavar="INPUT",
            help="Inline matrix ('[[1,2],[3,4]]' or '[0,1,1,0]'), a .npy or an image "
            "[default: a ramp, 1 to 25 in 5x5, or 1 to 7 for a 1-D kernel]",
        ),
    ] = None,
    crop: Annotated[
        str | None,
        typer.Option(
            metavar="R,C,H,W",
            help="ROW,COL,HEIGHT,WIDTH of the input to explain, in its context "
            "(START,LENGTH for 1-D).",
        ),
    ] = None,
    padding: PaddingOption = "same",
    pad_mode: PadModeOption = "reflect",
    pad_value: PadValueOption = 0.0,
    stride: StrideOption = "1",
    dilation: DilationOption = "1",
    flip: FlipOption = False,
    steps: Annotated[
        int,
        typer.Option(
            metavar="N", help="How many window positions to write out.", min=0, max=MAX_STEPS
        ),
    ] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    animate: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write the window positions as an animation: .gif, or .png/.apng (APNG).",
            dir_okay=False,
        ),
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help=f"Window positions to animate [default: all, up to {ANIMATION_FRAMES}].",
            min=1,
            max=MAX_ANIMATION_FRAMES,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write an interactive page that steps through every window position "
            "(one self-contained HTML file).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Show a convolution step by step: padding, the size formula, the sliding window."""
    from convcli.choices import PAD_MODE_ALIASES, PadMode, choose
    from convcli.cli.options import parse_ints, parse_padding
    from convcli.cli.render import console, explain_view
    from convcli.explanation import crop_forms, one_matrix, read_input  # the options' text
    from convcli.run.prepare import padding_for, per_axis  # as apply's: 1, ndim or 2*ndim numbers

    if frames is not None and animate is None:
        raise UsageError("--frames counts the frames of --animate: give --animate FILE too")
    animated = frames or ANIMATION_FRAMES
    needed = MAX_STEPS if html else max(steps, animated) if animate else steps  # positions
    chosen = convcli.kernel(kernel)
    ndim = one_matrix(chosen).ndim  # refuses a combined kernel first
    choose(PadMode, pad_mode, "pad_mode", PAD_MODE_ALIASES)  # the settings before --input
    matrix = read_input(input_text, ndim)
    part = parse_ints("--crop", crop, crop_forms(ndim), 0) if crop is not None else None
    explanation = convcli.explain(
        chosen, matrix, padding=padding_for(parse_padding(padding), ndim),
        pad_mode=pad_mode, pad_value=pad_value,
        stride=per_axis("stride", parse_ints("--stride", stride), ndim),
        dilation=per_axis("dilation", parse_ints("--dilation", dilation), ndim),
        flip=flip, crop=part, steps=needed,
    )  # fmt: skip
    written = _write_pictures(
        explanation, animate, animated, html,
        f"convcli explain: {chosen.name} over {input_text or 'a ramp'}",
    )  # fmt: skip
    explanation = replace(explanation, steps=explanation.steps[:steps])
    if json_output:
        typer.echo(explanation.to_json())
        return
    console().print(explain_view(explanation, chosen.name, explanation.output.size))
    for line in written:
        typer.echo(line)
    if chosen.bias:
        typer.echo(f"convcli: note: apply adds the kernel's bias, {chosen.bias:g}, to each value")


def _write_pictures(
    explanation: "Explanation", animate: Path | None, frames: int, html: Path | None, title: str
) -> list[str]:
    """Write the animation and the page that were asked for; say what each holds."""
    written = []
    if animate is not None:
        from convcli.pictures.animation import write_animation

        shown = replace(explanation, steps=explanation.steps[:frames])
        _check_plottable(shown)
        _writing(animate, lambda: write_animation(shown, animate))
        written.append(f"wrote {animate}: {len(shown.steps)} frames")
    if html is not None:
        from convcli.pictures.page import write_page

        _writing(html, lambda: write_page(explanation, html, title=title))
        written.append(f"wrote {html}: {len(explanation.steps)} positions")
    return written


def _check_plottable(e: "Explanation") -> None:
    """Refuse a 1-D animation of values that are not finite: its curves have no place for them."""
    import numpy as np

    drawn = [e.padded, e.output, *(step.products for step in e.steps)]
    if e.geometry.spatial_ndim == 1 and not all(np.isfinite(values).all() for values in drawn):
        raise UsageError(
            "--animate draws a 1-D input as curves, and NaN or infinity (in the input, or a "
            "product or sum past the largest float) has no place on them; use --json or --html"
        )


def _writing(path: Path, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as error:  # the file is an option's value: a usage error, as for --input
        raise cannot_write(path, error, UsageError) from None
