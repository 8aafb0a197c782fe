"""``convcli explain``: a convolution written out step by step."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
from pathlib import Path
from typing import Annotated

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
from convcli.limits import ANIMATION_FRAMES, MAX_ANIMATION_FRAMES, MAX_STEPS

EXAMPLES = examples(
    "convcli explain -k sobel-x                  # on a 5x5 ramp",
    "convcli explain -k box:3 -p 1 -s 2 --input '[[1,2,3],[4,5,6],[7,8,9]]'",
    "convcli explain -k laplacian --input photo.jpg --crop 100,100,6,6 --flip",
    "convcli explain -k sobel-x -p 1 -s 2 --animate sobel.gif --html sobel.html",
    "convcli explain -k '[[[1,0],[0,-1]],[[0,1],[-1,0]],[[1,1],[1,1]]]' --input photo.jpg "
    "--crop 100,100,4,4",
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
            help="Inline matrix ('[[1,2],[3,4]]' or '[0,1,1,0]'), a .npy or an image (its "
            "luminance; its channels for a 3-D or 4-D kernel) [default: a ramp, 1 to 25 in 5x5, "
            "or 1 to 7 for a 1-D kernel]",
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
    filter_index: Annotated[
        int | None,
        typer.Option(
            "--filter",
            metavar="N",
            help="Of a 4-D kernel (C_out, C_in, kh, kw), the filter to explain [default: 0].",
            min=0,
        ),
    ] = None,
    bias: Annotated[
        str | None,
        typer.Option(
            "--bias",
            metavar="FILE[:NAME]",
            help="A layer's bias, one number per filter: an .npy, .npz, .safetensors or TOML "
            "array, or a list like '[0.1,-0.2]' [default: the kernel's, the X.bias beside "
            "X.weight]",
        ),
    ] = None,
    gray: Annotated[
        bool,
        typer.Option(
            "--gray", help="For a 3-D or 4-D kernel, explain the image's luminance (1 channel)."
        ),
    ] = False,
) -> None:
    """Show a convolution step by step: padding, the size formula, the sliding window."""
    from convcli.choices import crop_forms
    from convcli.cli.options import parse_ints, parse_padding
    from convcli.cli.render import console, explain_view

    chosen = convcli.kernel(kernel)
    forms = crop_forms(min(len(chosen.shape), 2))  # a layer's kernel: rows and columns
    explanation = convcli.explain(
        chosen, input_text, padding=parse_padding(padding), pad_mode=pad_mode,
        pad_value=pad_value, stride=parse_ints("--stride", stride),
        dilation=parse_ints("--dilation", dilation), flip=flip, steps=steps,
        crop=parse_ints("--crop", crop, forms, 0) if crop is not None else None,
        animate=animate, frames=frames, html=html, filter=filter_index, bias=bias,
        gray=gray,
    )  # fmt: skip
    if json_output:
        typer.echo(explanation.to_json())
        return
    console().print(explain_view(explanation, chosen.name, explanation.output.size))
    layer = isinstance(explanation, convcli.LayerExplanation)
    positions = explanation.output.size  # each output is one window position
    if animate is not None:
        typer.echo(f"wrote {animate}: {min(positions, frames or ANIMATION_FRAMES)} frames")
    if html is not None:
        typer.echo(f"wrote {html}: {min(positions, MAX_STEPS)} positions")
    if chosen.bias and not layer:  # a layer's outputs add it
        typer.echo(f"convcli: note: apply adds the kernel's bias, {chosen.bias:g}, to each value")
