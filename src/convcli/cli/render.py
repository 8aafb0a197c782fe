"""What a person sees: rich tables for reports, kernels and explanations."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Column, Table
from rich.text import Text

from convcli.choices import INTEGER_METHOD, Range, StageKind, Status
from convcli.text import shown

if TYPE_CHECKING:  # these bring the engine, and NumPy, with them
    import numpy as np
    import numpy.typing as npt

    from convcli import Explanation, Kernel, LayerExplanation, Report

    Matrix = npt.NDArray[np.float64]

SHAPES = "shapes: rows x cols (x channels), as in NumPy"
UNWRAPPED = 100_000  # columns for output that is not a terminal
AXIS_NAMES = {1: ("samples",), 2: ("rows", "cols"), 3: ("planes", "rows", "cols")}
_LAYER_AXES = ("filter", "channel")  # a 4-D kernel's first two axes, a 3-D one's first


def console(stderr: bool = False, file: TextIO | None = None) -> Console:
    """Return a console on standard output (or error), or on ``file``, that honours NO_COLOR."""
    # NO_COLOR (no-color.org): rich alone drops colours but keeps bold and italics;
    # convcli then writes no colour or style codes at all.
    made = Console(
        file=file, stderr=stderr, color_system=None if "NO_COLOR" in os.environ else "auto"
    )
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = UNWRAPPED  # piped or redirected: lines as long as they are, never cut
    return made


def report_view(reports: list[Report]) -> RenderableType:
    """One table for a single input (with the formula per axis), else a row per input."""
    if len(reports) == 1 and reports[0].status in (Status.OK, Status.PLANNED):
        return _single_report(reports[0])
    rows = [
        [Text(shown(report.input)), Text(report.kernel), Text(_shapes(report)),
         _status(report.status, report.error if report.status == Status.SKIPPED else None),
         Text(f"{report.seconds:.3f}"), Text(shown(report.output or ""))]
        for report in reports
    ]  # fmt: skip
    # Paths, kernel specs, shapes and times stay whole; only a status's reason wraps.
    headers = ("input", "kernel", "shape", "status", "time (s)", "output")
    columns = [Column(header, no_wrap=header != "status") for header in headers]
    columns[4].justify = "right"
    # A column with nothing to say in any row (no outputs, no shapes: all failed) is left out.
    kept = [n for n in range(len(columns)) if any(row[n].plain not in ("", "-") for row in rows)]
    table = _Fitted([columns[n] for n in kept], [[row[n] for n in kept] for row in rows])
    return _titled("convcli apply", table, SHAPES if 2 in kept else None)


def _shapes(report: Report) -> str:
    if report.input_shape is None:
        return "-"
    return f"{_shape(report.input_shape)} → {_shape(report.output_shape)}"


_STYLES = {Status.OK: "", Status.PLANNED: "cyan", Status.SKIPPED: "yellow", Status.ERROR: "red"}


def _status(status: Status, reason: str | None = None) -> Text:
    styles = _STYLES
    return Text(f"{status} ({reason})" if reason else status, style=styles[status])


def _single_report(report: Report) -> RenderableType:
    rows = [("input", Text(f"{shown(report.input)}  {_shape(report.input_shape)}"))]
    layered = any(stage.kind != StageKind.KERNEL for stage in report.stages)
    for number, stage in enumerate(report.stages, start=1):
        ndim = stage.geometry.spatial_ndim
        names = AXIS_NAMES.get(ndim, tuple(f"axis {i}" for i in range(ndim)))
        prefix = f"stage {number}: " if len(report.stages) > 1 else ""
        rows += [(f"{prefix}{key}" if not n else key, Text(value))
                 for n, (key, value) in enumerate(stage.rows(names, report.pad_mode))]  # fmt: skip
        if layered:  # the maps' shape, channels included, as they change from stage to stage
            rows.append(("shape out", Text(_shape(stage.output_shape))))
        timed = "" if stage.seconds is None else f"  {stage.seconds * 1000:.1f} ms"
        rows.append(("method", Text(f"{_method(stage.method)}{timed}")))
    rows += [("output", Text(f"{shown(report.output or '')}  {_shape(report.output_shape)}")),
             ("time", Text(f"{report.seconds:.3f} s"))]  # fmt: skip
    table = _Fitted([Column(style="bold", no_wrap=True), Column(no_wrap=True)],
                    [[Text(key), value] for key, value in rows], show_header=False)  # fmt: skip
    return _titled(f"convcli apply: {shown(report.input)}", table, SHAPES)


def _method(name: str) -> str:
    """Say a report's method to a person: ``integer-int16`` is "exact integer sums (int16)"."""
    prefix = f"{INTEGER_METHOD}-"
    return ", ".join(
        f"exact integer sums ({part.removeprefix(prefix)})" if part.startswith(prefix) else part
        for part in name.split("/")
    )


def _titled(title: str, table: RenderableType, caption: str | None = None) -> RenderableType:
    # Title and caption as lines of their own: a table's own are padded to its width,
    # which leaves trailing spaces in piped output.
    return Group(Text(title), table, *([Text(caption)] if caption else []))


class _Fitted:
    """A table while its whole cells fit the terminal; narrower, a block of lines per row.

    Paths and kernel specs are copied from the terminal: their columns never
    wrap, and the one column that may (a description, a reason) keeps room for
    its longest word and for ``WRAPPED_LEAST`` columns. Where that does not fit,
    each row is shown as ``header  value`` lines, a blank line between rows (a
    table without a header is shown as its own lines).
    """

    WRAPPED_LEAST = 30

    def __init__(
        self, columns: list[Column], rows: list[list[Text]], *, show_header: bool = True
    ) -> None:
        self.least = 1 + sum(  # a boxed table: "│ " before each cell, " │" after the last
            self._least(column, [row[n] for row in rows], show_header) + 3
            for n, column in enumerate(columns)
        )
        self.table = Table(*columns, show_header=show_header)
        for row in rows:
            self.table.add_row(*row)
        if show_header:
            headers = [Text(str(column.header)) for column in columns]
            self.records = _Records([list(zip(headers, row, strict=True)) for row in rows])
        else:  # a table of keys and values: one block already
            self.records = _Records([[(key, value) for key, value in rows]])

    @classmethod
    def _least(cls, column: Column, cells: list[Text], show_header: bool) -> int:
        texts = [*cells, *([Text(str(column.header))] if show_header else [])]
        widest = max((text.cell_len for text in texts), default=0)
        if column.no_wrap:
            return widest
        words = max((_longest_word(text) for text in texts), default=0)
        return max(words, min(widest, cls.WRAPPED_LEAST))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table if self.least <= options.max_width else self.records


class _Records:
    """Blocks of ``key  value`` lines, a blank line between blocks; empty values left out.

    A value wraps between words under itself; one with a word (a path) too wide
    to fit beside its key starts on the next line, at the left edge. No line is
    padded with spaces to the terminal's width.
    """

    def __init__(self, blocks: list[list[tuple[Text, Text]]]) -> None:
        self.blocks = [[(key, value) for key, value in block if value.plain] for block in blocks]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = max((key.cell_len for block in self.blocks for key, _ in block), default=0) + 2
        for number, block in enumerate(self.blocks):
            if number:
                yield Text("")
            for key, value in block:
                room = options.max_width - indent
                if _longest_word(value) > room:  # a path too wide to sit beside its key
                    yield Text(key.plain, style="bold")
                    yield from _wrapped(console, value, options.max_width)
                    continue
                for line, wrapped in enumerate(_wrapped(console, value, room)):
                    head = key.plain if line == 0 else ""
                    yield Text.assemble((head, "bold"), " " * (indent - len(head)), wrapped)


def _wrapped(console: Console, text: Text, width: int) -> list[Text]:
    """Wrap ``text`` between words (a word wider than ``width`` folds), no trailing spaces."""
    lines = list(text.wrap(console, width, overflow="fold"))
    for line in lines:
        line.rstrip()
    return lines


def _longest_word(text: Text) -> int:
    return max((Text(word).cell_len for word in text.plain.split()), default=0)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(map(str, shape))


# kernels list's groups: a kernel's source says which it is in ("built-in", a file: Kernels).
_KERNEL_GROUPS = {"built-in family": "Families (name:key=value,...)",
                  "built-in set": "Sets (and NAME@, NAME> of a kernel with an angle)",
                  "built-in step": "Steps of a layer (apply -k, between its kernels)"}  # fmt: skip


def kernels_view(entries: list[dict[str, Any]]) -> RenderableType:
    """Build the tables of ``convcli kernels list``: kernels, families and sets under headings."""
    built_in = ("built-in", "built-in family", "built-in set", "built-in step")
    show_source = any(entry["source"] not in built_in for entry in entries)
    # Kernel specs, shapes, ranges, tags and sources stay whole; the description wraps.
    headers = ["name", "shape", "range", "tags", "description"] + ["source"] * show_source
    groups: dict[str, list[list[Text]]] = {}
    for entry in entries:
        name = entry["name"]
        if entry["parameters"] and ":" not in name:  # not one named in full (sobel:angle=0)
            name += ":" + ",".join(f"{k}={_number(v)}" for k, v in entry["parameters"].items())
        row = [name, _shape(tuple(entry["shape"])), entry["range"] or Range.CLIP,
               ", ".join(entry["tags"]), entry["description"]]  # fmt: skip
        heading = _KERNEL_GROUPS.get(entry["source"], "Kernels")
        groups.setdefault(heading, []).append(
            [Text(cell) for cell in row + [entry["source"]] * show_source]
        )
    every = [row for rows in groups.values() for row in rows]
    # The whole columns as wide in every group, so that the groups read as one table.
    widths = [max((row[n].cell_len for row in every), default=0) for n in range(len(headers))]

    def columns() -> list[Column]:  # a table's own: rich keeps its cells in its columns
        return [Column(header, no_wrap=header != "description",
                       min_width=None if header == "description" else width)
                for header, width in zip(headers, widths, strict=True)]  # fmt: skip

    least = _Fitted(columns(), every).least
    headed = [(heading, _Fitted(columns(), rows)) for heading, rows in groups.items()]
    return _titled("convcli kernels", _Headed(least, headed) if headed else _Fitted(columns(), []))


class _Headed:
    """Tables under headings, all in one form: tables where the widest fits, else records."""

    def __init__(self, least: int, sections: list[tuple[str, _Fitted]]) -> None:
        self.least = least
        self.sections = sections

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fits = self.least <= options.max_width
        for number, (heading, fitted) in enumerate(self.sections):
            yield Text("\n" * bool(number) + heading, style="bold")
            yield fitted.table if fits else fitted.records


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def kernel_view(kernel: Kernel) -> RenderableType:
    """Show a kernel's matrix, coloured by sign and magnitude, with what can be said of it."""
    parts: list[RenderableType] = [Text(kernel.name, style="bold"), Text(kernel.description)]
    if kernel.matrix is not None:
        parts.append(_matrix_view(kernel.matrix))
        separable = "yes (an outer product of 1-D kernels)" if kernel.separable else "no"
        facts = [("shape", _shape(kernel.shape)), ("sum", f"{kernel.total:.6g}"),
                 ("rank", str(kernel.rank) if kernel.rank is not None else "-"),
                 ("separable", separable)]  # fmt: skip
    else:
        for part in kernel.components:
            parts += [Text(f"component {part.name}", style="bold"), _matrix_view(part.matrix)]  # type: ignore[arg-type]
        names = ", ".join(part.name for part in kernel.components)
        facts = [("shape", _shape(kernel.shape)), ("combine", f"{kernel.combine} of {names}")]
    facts += [("range", kernel.range or Range.CLIP), ("source", kernel.origin)]
    if kernel.bias:
        facts.append(("bias", f"{kernel.bias:g}"))
    info = Table.grid(padding=(0, 2))
    for key, value in facts:
        info.add_row(Text(key, style="bold"), value)
    parts.append(info)
    return Group(*parts)


def _matrix_view(matrix: Matrix, min_width: int = 0) -> RenderableType:
    import numpy as np  # only here: `kernels list` needs no NumPy

    peak = float(np.abs(matrix).max()) or 1.0
    width = max(min_width, *(len(_number_text(float(value))) for value in matrix.flat))
    views: list[RenderableType] = []
    for index in np.ndindex(matrix.shape[:-2]):  # a layer's: each filter's channels, from 0
        if index:
            where = [
                f"{axis} {number}"
                for axis, number in zip(_LAYER_AXES[-len(index) :], index, strict=True)
            ]
            views.append(Text(", ".join(where), style="dim"))
        rows = [[_cell(float(value), peak, width) for value in row]
                for row in np.atleast_2d(matrix[index])]  # fmt: skip
        views.append(_Rows(rows))
    return Group(*views)


class _Rows:
    """Matrix rows of equal-width cells; a row too wide for the terminal folds, never cut."""

    def __init__(self, rows: list[list[Text]]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        rows = self.rows
        if _too_wide(rows, width):  # first, cells only as wide as the widest number
            tight = max(len(cell.plain.strip()) for row in rows for cell in row)
            rows = [
                [Text(c.plain.strip().rjust(tight), style=c.style) for c in row] for row in rows
            ]
        folds = _too_wide(rows, width)
        for number, row in enumerate(rows):
            if folds and number:
                yield Text("")  # a blank line tells where each folded row starts
            line: list[Text] = []
            used = -1  # the line's width: its cells and a space before each but the first
            for cell in row:  # between cells, so that no number is split
                if line and used + 1 + cell.cell_len > width:
                    yield Text(" ").join(line)
                    line, used = [], -1
                line.append(cell)
                used += 1 + cell.cell_len
            # A single cell wider than the terminal still folds.
            yield from Text(" ").join(line).wrap(console, width, overflow="fold")


def _too_wide(rows: list[list[Text]], width: int) -> bool:
    # Each row's width joined by single spaces, not joined: a row may hold 1000 cells.
    return any(sum(cell.cell_len for cell in row) + len(row) - 1 > width for row in rows)


def _cell(value: float, peak: float, width: int) -> Text:
    # Green for positive, red for negative, brighter the larger; zero is dim.
    text = _number_text(value).rjust(width)
    if value == 0:
        return Text(text, style="dim")
    strength = abs(value) / peak
    colour = "green" if value > 0 else "red"
    return Text(text, style=f"bold {colour}" if strength > 0.5 else colour)


def explain_view(e: Explanation | LayerExplanation, name: str, total_steps: int) -> RenderableType:
    """Build the ``convcli explain`` page: kernel, padded input, formula, steps, output.

    A layer's filter shows each channel's kernel and grid, and each window's
    products and sum per channel, then their total with the bias.
    """
    from convcli import LayerExplanation  # only here: `kernels list` needs no NumPy

    layer: LayerExplanation | None
    if isinstance(e, LayerExplanation):
        layer, planes = e, e.planes
    else:
        layer, planes = None, [e]
    first = planes[0]
    g = first.geometry
    names = AXIS_NAMES[g.spatial_ndim]
    width = max(_cell_width(plane) for plane in planes)  # one width: the grids line up
    cropped = first.crop_start is not None
    # With a crop, indices are the input's (as --crop's): padding lies before 0 and past the end.
    befores = tuple(b for b, _ in g.padding) if cropped else None
    channels: list[RenderableType] = []
    for plane, channel in zip(planes, layer.channels if layer else [None], strict=True):
        if channel is not None:
            channels.append(Text(f"channel {channel}", style="bold reverse"))
        channels.extend(_kernel_and_grid(plane, names, width))
    parts: list[RenderableType] = [
        _explain_title(first, layer, name, names),
        Text(_definition(g.spatial_ndim, befores, layer is not None), style="dim"),
        *channels,
        Text("output size" + (" of the whole input" if cropped else "") + ", per axis",
             style="bold"),
        *(Text(f"  {n}: {g.formula(axis, textbook=True)}") for axis, n in enumerate(names)),
        Text(f"sliding window (first {len(first.steps)} of {total_steps} positions"
             + (" at the crop)" if cropped else ")"), style="bold"),
        *(line for number in range(len(first.steps))
          for line in _step_lines(first, layer, number, names)),
        _output_heading(first, names),
        _matrix_view(e.output, width),
    ]  # fmt: skip
    return Group(*parts)


def _kernel_and_grid(e: Explanation, names: tuple[str, ...], width: int) -> list[RenderableType]:
    """Show the kernel (as written and as applied, with --flip) and the grid it slides over."""
    written = [Text("kernel, as written", style="bold"), _matrix_view(e.written, width)]
    return [
        *(written if e.flip else []),
        Text("kernel, as applied" + (": rotated 180°" if e.flip else ""), style="bold"),
        _matrix_view(e.kernel, width),
        *_grid_heading(e, names),
        _padded_view(e, width),
    ]


def _explain_title(
    first: Explanation, layer: LayerExplanation | None, name: str, names: tuple[str, ...]
) -> Text:
    """Say what is explained: the kernel, its size, what it runs over, and which operation."""
    what = "true convolution (--flip)" if first.flip else "cross-correlation"
    whole = _extent(first.image_shape, "samples")
    size = _extent(first.geometry.kernel_shape, "taps")
    if layer is not None:
        whole += f"x{layer.input_channels}"
        size = f"filter {layer.filter}, {_shape(layer.kernel.shape)}"
        read = layer.channels
        what += f" on channels {read[0]}..{read[-1]}, summed, plus the bias"
    over = whole
    if first.crop_start is not None:
        over = f"{_cells(names, first.crop_start, first.input.shape)} of {whole}"
    return Text(f"convcli explain: {name}, {size}, over {over}: {what}", style="bold")


def _step_lines(
    first: Explanation, layer: LayerExplanation | None, number: int, names: tuple[str, ...]
) -> list[Text]:
    """Write one window position: where the window is, its products and their sum.

    With a crop, the whole output's index and the input's cells: what apply computes there.
    A layer's filter: the products and sum on each channel, then their total with the bias.
    """
    if layer is None:
        return [_window_line(first, number, names), Text(f"    {_terms(first, number)}")]
    sums = " + ".join(_number_text(plane.steps[number].sum) for plane in layer.planes)
    return [
        _window_line(first, number, names),
        *(Text(f"    channel {channel}: {_terms(plane, number)}")
          for plane, channel in zip(layer.planes, layer.channels, strict=True)),
        Text(f"    total: {sums} + bias {_number_text(layer.bias)} = "
             f"{_number_text(layer.totals[number])}", style="bold"),
    ]  # fmt: skip


def _window_line(e: Explanation, number: int, names: tuple[str, ...]) -> Text:
    """Say which output a window position computes, and where the window is."""
    step = e.steps[number]
    cropped = e.crop_start is not None
    cells = e.taps(step)
    if cropped:
        cells = tuple(
            slice(c.start + o, c.stop + o, c.step) for c, o in zip(cells, e.offset, strict=True)
        )
    where = ", ".join(
        f"{n} {c.start}..{c.stop - 1}" + (f" every {c.step}" if c.step > 1 else "")
        for n, c in zip(names, cells, strict=True)
    )
    index = ", ".join(str(i + o) for i, o in zip(step.output_index, e.output_start, strict=True))
    return Text(f"  output[{index}]: window at {'input' if cropped else 'padded'} {where}")


def _terms(e: Explanation, number: int) -> str:
    """Write a window's products out, and their sum."""
    step = e.steps[number]
    terms = " + ".join(
        f"({_number_text(float(a))}·{_number_text(float(w))})"
        for a, w in zip(step.window.ravel(), e.kernel.ravel(), strict=True)
    )
    return f"{terms} = {_number_text(step.sum)}"


def _output_heading(e: Explanation, names: tuple[str, ...]) -> Text:
    """Say what the output grid shows: the whole output, or its cells at the crop."""
    heading = f"output (feature map) {_shape(e.output.shape)}"
    if e.crop_start is not None:
        whole = _shape(e.geometry.output_shape)
        heading += f" at the crop: {_cells(names, e.output_start, e.output.shape)} of {whole}"
    return Text(heading, style="bold")


def _cells(names: tuple[str, ...], starts: tuple[int, ...], shape: tuple[int, ...]) -> str:
    """Name a block of cells: ``rows 200..205, cols 250..255``."""
    return ", ".join(
        f"{n} {a}..{a + size - 1}" for n, a, size in zip(names, starts, shape, strict=True)
    )


def _grid_heading(e: Explanation, names: tuple[str, ...]) -> list[Text]:
    """Say what the shown grid is and what its marks mean (in words too: NO_COLOR, pipes)."""
    g = e.geometry
    padding = f"{e.pad_mode}: " + ", ".join(
        f"{n} {b}+{a}" for n, (b, a) in zip(names, g.padding, strict=True)
    )
    if e.crop_start is None:
        return [Text(f"input, padded ({padding}); (x) marks a padding cell", style="bold")]
    shown = _cells(names, e.offset, e.padded.shape)
    marks = ["plain: the crop"]
    if e.context.any():
        marks.append("[x]: the input around it")
    if (~(e.inside | e.context)).any():
        marks.append(f"(x): padding past the input's edges ({padding})")
    return [Text(f"input {shown}, the crop in context", style="bold"),
            Text("  " + "; ".join(marks))]  # fmt: skip


def _extent(shape: tuple[int, ...], unit: str) -> str:
    return f"{shape[0]} {unit}" if len(shape) == 1 else _shape(shape)


def _definition(ndim: int, before: tuple[int, ...] | None = None, layer: bool = False) -> str:
    """Write the definition over the padded input, or with ``before``, over the input's indices.

    A layer's filter sums over the channels c too, and adds its bias.
    """
    shifts = [f" - {b}" if b else "" for b in before or (0,) * ndim]
    grid = "padded" if before is None else "input"
    if ndim == 1:
        return f"output[n] = Σₖ {grid}[n·stride + k·dilation{shifts[0]}] · kernel[k]"
    if layer:
        return (
            f"output[i, j] = Σ_c Σₘ Σₙ {grid}[i·stride + m·dilation{shifts[0]}, "
            f"j·stride + n·dilation{shifts[1]}, c] · kernel[c, m, n] + bias"
        )
    return (
        f"output[i, j] = Σₘ Σₙ {grid}[i·stride + m·dilation{shifts[0]}, "
        f"j·stride + n·dilation{shifts[1]}] · kernel[m, n]"
    )


def _cell_width(e: Explanation) -> int:
    values = [*e.kernel.flat, *e.written.flat, *e.output.flat]
    longest = max(len(_number_text(float(value))) for value in values)
    padded = max(len(_number_text(float(value))) + 2 for value in e.padded.flat)  # "(x)", "[x]"
    return max(7, longest, padded)


def _padded_view(e: Explanation, width: int) -> RenderableType:
    """Show the grid: padding in parentheses, context in brackets, the first window underlined."""
    import numpy as np  # only here: `kernels list` needs no NumPy

    first = np.zeros(e.padded.shape, dtype=bool)
    if e.steps:
        first[e.taps(e.steps[0])] = True
    grids = (np.atleast_2d(a) for a in (e.padded, e.inside, e.context, first))
    rows = []
    for values, inside, context, window in zip(*grids, strict=True):
        cells = []
        for value, keep, around, covered in zip(values, inside, context, window, strict=True):
            number = _number_text(float(value))
            text = number if keep else f"[{number}]" if around else f"({number})"
            style = ("" if keep else "cyan" if around else "dim") + (
                " bold underline" if covered else ""
            )
            cells.append(Text(text.rjust(width), style=style.strip()))
        rows.append(cells)
    return _Rows(rows)


def _number_text(value: float) -> str:
    return f"{value:.4g}"
