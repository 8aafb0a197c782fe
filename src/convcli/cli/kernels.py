"""``convcli kernels list`` and ``convcli kernels show``: what kernels there are."""

# No `from __future__ import annotations`: Typer reads these annotations at every
# start, and evaluated once here they need not be compiled again from strings.
from typing import TYPE_CHECKING, Annotated, Any

import typer

import convcli
from convcli.cli.options import complete_kernel, complete_tag, examples

if TYPE_CHECKING:
    from convcli import Kernel

LIST_EXAMPLES = examples("convcli kernels list --tag edge", "convcli kernels list --json")
SHOW_EXAMPLES = examples(
    "convcli kernels show sobel-x",
    "convcli kernels show gaussian:sigma=1.5 --json",
    "convcli kernels show sobel-x --picture sobel-x.png",
)


def list_kernels(
    tag: Annotated[
        str | None,
        typer.Option(
            metavar="TAG", autocompletion=complete_tag, help="Only kernels with this tag."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="A JSON array.")] = False,
) -> None:
    """List every kernel: built-in, families and those in CONVCLI_KERNEL_PATH."""
    from convcli.cli.render import console, kernels_view

    entries = [entry(kernel) for kernel in convcli.kernels(tag)]
    if json_output:
        from convcli.text import to_json

        typer.echo(to_json(entries))
    else:
        steps = step_entries() if tag is None else []  # no matrix: in the table only
        console().print(kernels_view(entries + steps))


def step_entries() -> list[dict[str, Any]]:
    """Return the steps of a layer's pipeline as ``kernels list`` shows them (no matrix)."""
    from convcli.choices import Activation, Pool

    window = "[,STRIDE[,PADDING]]"
    steps = [
        (Activation.RELU, "max(x, 0), value by value (PyTorch's relu)"),
        (f"{Activation.LEAKY_RELU}[:SLOPE]", "x, or SLOPE * x where negative (SLOPE: 0.01)"),
        (Activation.TANH, "the hyperbolic tangent, value by value"),
        (Activation.SIGMOID, "1 / (1 + exp(-x)), value by value"),
        (Activation.ABS, "|x|, value by value"),
        (f"{Pool.MAX}:K{window}", "the largest value of each K x K window (PyTorch's max_pool2d)"),
        (f"{Pool.AVG}:K{window}", "the mean of each K x K window (PyTorch's avg_pool2d)"),
    ]
    return [{"name": str(name), "shape": [], "description": text, "tags": ["layer"],
             "source": "built-in step", "range": "-", "parameters": None}
            for name, text in steps]  # fmt: skip


def show_kernel(
    name: Annotated[
        str,
        typer.Argument(
            metavar="KERNEL",
            autocompletion=complete_kernel,
            help="A kernel spec, as for 'apply -k'.",
        ),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="A JSON object.")] = False,
    picture: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="Also draw the weights as a heat map to FILE: a coloured cell each, blue "
            "negative, red positive, the values written where they fit (format by suffix)",
        ),
    ] = None,
) -> None:
    """Show a kernel's matrix, sum, rank, separability and default range; draw its weights."""
    from convcli.cli.render import console, kernel_view

    kernel = convcli.kernel(name, picture=picture)
    if json_output:
        typer.echo(kernel.to_json())
    else:
        console().print(kernel_view(kernel))


def entry(kernel: "Kernel") -> dict[str, Any]:
    """Return a kernel's record in ``kernels list --json``: a family's with its parameters."""
    parameters = kernel.parameters and {
        name: "auto" if value is None else value for name, value in kernel.parameters
    }
    return {"name": kernel.name, "shape": list(kernel.shape), "description": kernel.description,
            "tags": list(kernel.tags), "source": kernel.origin, "range": kernel.range,
            "parameters": parameters}  # fmt: skip
