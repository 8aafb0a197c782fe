"""An interactive page of ``convcli explain``: the sliding window, one position at a time.

One self-contained HTML file (``page.html`` beside this module is its
template): inline CSS and JavaScript, the pictures as ``data:`` URIs, and a
Content-Security-Policy that allows nothing else, so the page makes no
request. Every number it shows is worked out here, in Python, from the
:class:`~convcli.explain.Explanation`, and embedded as text: the cells under
each window position (the taps' coordinates), the window's values, the sums,
the output and the heat-map colours. The page's script only moves between
positions and shows what it was given, so what the browser shows is what the
engine computed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import string
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.explanation import Explanation, Step
from convcli.io.atomic import write_atomically
from convcli.io.png import write_png
from convcli.layer_explanation import LayerExplanation
from convcli.pictures.canvas import as_2d
from convcli.pictures.draw import heat_map
from convcli.text import to_json

_AXES = {1: ("samples",), 2: ("rows", "cols")}
_PICTURE_SIDE = 192  # pixels: the longer side of each picture, at most
_SMALL_GRID = 16  # a grid with more cells than this per side is drawn smaller
_KERNEL_MAP = "coolwarm"


def write_page(explanation: Explanation | LayerExplanation, path: Path, *, title: str) -> None:
    """Write the interactive page of ``explanation`` to ``path``, atomically.

    The same explanation and title give the same bytes.
    """
    text = page_text(explanation, title=title).encode("utf-8")
    write_atomically(path, lambda stream: stream.write(text))


def page_text(explanation: Explanation | LayerExplanation, *, title: str) -> str:
    """Return the page's HTML: one self-contained document.

    A layer's filter has a grid and a kernel per channel, and each position
    its products and sum on every channel, then their total with the bias.

    Examples
    --------
    >>> from convcli.explanation import worked_out
    >>> page = page_text(worked_out([1.0, 2.0, 3.0], [1.0, -1.0], padding="valid"), title="a<b")
    >>> "<title>a&lt;b</title>" in page, 'id="sum">-1<' in page, "://" in page
    (True, True, False)
    """
    layer: LayerExplanation | None
    if isinstance(explanation, LayerExplanation):  # its windows are at its first plane's places
        layer, e, output = explanation, explanation.planes[0], explanation.output
    else:
        layer, e, output = None, explanation, explanation.output
    ndim = e.geometry.spatial_ndim
    names = _AXES[ndim]
    total = output.size  # the positions explained: all, or those at a crop's cells
    css = _Colours()
    steps = [_step_record(e, step, names) for step in e.steps]
    if layer:
        _add_channels(steps, layer)
    of = "" if len(steps) == total else f" written out ({total} in all)"
    first = steps[0] if steps else None
    planes = _planes(layer, e)
    across = e.kernel.shape[-1] if ndim == 2 else e.kernel.size  # products on a line
    data = {
        "title": title,
        "shown": list(_plane(e.padded).shape),
        "output": list(_plane(output).shape),
        "inside": _box(_plane(e.inside)),
        "kernel": planes[0]["kernel"],
        "across": across,
        "of": of,
        "planes": planes,
        "bias": _number(layer.bias) if layer else None,
        "steps": steps,
    }
    fields = {
        "csp": "__CSP__",
        "title": _escape(title),
        "heading": _escape(title),
        "summary": _escape(_summary(e, layer)),
        "definition": _escape(_definition(ndim, layer is not None)),
        **_first_position(first, len(steps), of, data),
        "planes": _plane_panels(layer, e, first, css),
        **_output_grid(e, output, css),
        "formulas": "".join(
            f"<li>{_escape(name)}: {_escape(e.geometry.formula(axis, textbook=True))}</li>"
            for axis, name in enumerate(names)
        ),
        "pictures": _pictures(e, layer),
        "data": _script_json(data),
        "colours": css.text(),
    }
    page = string.Template(_template()).substitute(fields)
    return page.replace("__CSP__", _policy(page), 1)


def _planes(layer: LayerExplanation | None, e: Explanation) -> list[dict[str, Any]]:
    """Name each plane's grid, markers and kernel (as text) for the page's script."""
    if layer is None:
        kernel = [_number(v) for v in e.kernel.ravel()]
        return [{"grid": "s", "marker": "window-marker", "inside": "inside-marker",
                 "channel": None, "kernel": kernel}]  # fmt: skip
    return [
        {"grid": f"s{p}", "marker": f"window-marker-{p}", "inside": f"inside-marker-{p}",
         "channel": channel, "kernel": [_number(v) for v in plane.kernel.ravel()]}
        for p, (plane, channel) in enumerate(zip(layer.planes, layer.channels, strict=True))
    ]  # fmt: skip


def _add_channels(steps: list[dict[str, Any]], layer: LayerExplanation) -> None:
    """Give each position its window and sum on every channel; its sum is then their total."""
    for number, (record, total) in enumerate(zip(steps, layer.totals, strict=True)):
        record.pop("window")
        record["windows"] = [[_number(v) for v in plane.steps[number].window.ravel()]
                             for plane in layer.planes]  # fmt: skip
        record["sums"] = [_number(plane.steps[number].sum) for plane in layer.planes]
        record["sum"] = _number(total)


def _first_position(
    first: dict[str, Any] | None, count: int, of: str, data: dict[str, Any]
) -> dict[str, str]:
    """Fill in the first window position: what the page shows before its script runs."""
    return {
        "position": _escape(
            f"position 1 of {count}{of}" if first else "no window positions written out"
        ),
        "where": _escape(first["where"] if first else ""),
        "products": _escape(_position_products(first, data) if first else ""),
        "target": _escape(first["target"] if first else "output"),
        "sum": _escape(first["sum"] if first else ""),
    }


def _position_products(step: dict[str, Any], data: dict[str, Any]) -> str:
    """Write a position's products out, as the page's script does: per channel, then the sums."""
    if "windows" not in step:
        return _products(step["window"], data["kernel"], data["across"])
    lines = [
        f"channel {plane['channel']}: {_products(window, plane['kernel'], data['across'])}"
        f" = {total}"
        for plane, window, total in zip(data["planes"], step["windows"], step["sums"], strict=True)
    ]
    return "\n".join([*lines, f"sums: {' + '.join(step['sums'])} + bias {data['bias']}"])


def _plane_panels(
    layer: LayerExplanation | None, e: Explanation, first: dict[str, Any] | None, css: _Colours
) -> str:
    """Show each plane's grid and kernel: the input's, or every channel's, a row each."""
    names = _AXES[e.geometry.spatial_ndim]
    if layer is None:
        return _panels(e, "", _shown_title(e, names), "Kernel, as applied", first, css)
    rows = [
        '<div class="panels">'
        + _panels(plane, str(p), f"Channel {channel}: " + _lower(_shown_title(plane, names)),
                  f"Kernel[{channel}], as applied", first, css)
        + "</div>"
        for p, (plane, channel) in enumerate(zip(layer.planes, layer.channels, strict=True))
    ]  # fmt: skip
    return "".join(rows)


def _panels(
    e: Explanation, suffix: str, shown_title: str, kernel_title: str,
    first: dict[str, Any] | None, css: _Colours,
) -> str:  # fmt: skip
    """One plane's two panels: its shown grid (cells ``s{suffix}-r-c``) and its kernel."""
    tail = f"-{suffix}" if suffix else ""
    turned = ": reversed" if e.kernel.ndim == 1 else ": rotated 180°"
    kernel_colours, low, high = heat_map(e.kernel, _KERNEL_MAP)
    return (
        f'<section class="panel" aria-labelledby="shown-title{tail}">'
        f'<h2 id="shown-title{tail}">{_escape(shown_title)}</h2>'
        f'<div class="scroll">{_shown_grid(e, first, "s" + suffix)}</div>'
        f'<ul class="legend">{_legend(e)}</ul></section>'
        f'<section class="panel" aria-labelledby="kernel-title{tail}">'
        f'<h2 id="kernel-title{tail}">'
        f"{_escape(kernel_title + (f'{turned} (--flip)' if e.flip else ''))}</h2>"
        f'<div class="scroll">{_heat_grid("k" + suffix, e.kernel, kernel_colours, css, "kernel")}'
        f"</div>{_scale('k' + suffix, _KERNEL_MAP, low, high, css)}</section>"
    )


def _lower(title: str) -> str:
    return title[:1].lower() + title[1:]


def _output_grid(e: Explanation, output: npt.NDArray[np.float64], css: _Colours) -> dict[str, str]:
    """Fill in the output's grid: its title, coloured cells and colour scale."""
    output_colours, out_low, out_high = _heat(output)
    return {
        "output_title": _escape(_output_title(e, output)),
        "output": _heat_grid("o", output, output_colours, css, "output"),
        "output_scale": _scale("o", _output_map(output), out_low, out_high, css),
    }


def _products(window: list[str], kernel: list[str], across: int) -> str:
    """Write a window's products out, a line per kernel row (as the page's script does)."""
    terms = [f"({a}·{w})" for a, w in zip(window, kernel, strict=True)]
    return "".join(
        term if k == 0 else ("\n+ " if k % across == 0 else " + ") + term
        for k, term in enumerate(terms)
    )


def _template() -> str:
    return resources.files("convcli.pictures").joinpath("page.html").read_text("utf-8")


def _policy(page: str) -> str:
    """Allow the page's own style and script (by their hashes) and data: pictures: nothing else.

    A request to anywhere (a font, an image, a fetch, a form) is refused by the browser.
    """
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert style is not None  # the template has both
    assert script is not None
    return (
        "default-src 'none'; "
        f"style-src '{_hash(style.group(1))}'; "
        f"script-src '{_hash(script.group(1))}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">``: no ``<``, ``>`` or ``&`` to end it early."""
    text = to_json(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _number(value: float) -> str:
    """Write a value as ``convcli explain`` does (4 significant digits; no ``-0``)."""
    return f"{float(value) + 0.0:.4g}"


def _shape(shape: tuple[int, ...]) -> str:
    return f"{shape[0]} samples" if len(shape) == 1 else "x".join(map(str, shape))


def _plane(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Lay a 1-D array out as one row: every grid is drawn as rows and columns."""
    return values.reshape(1, -1) if values.ndim == 1 else values


def _step_record(e: Explanation, step: Step, names: tuple[str, ...]) -> dict[str, Any]:
    """Work out what the page shows of one window position."""
    cells = e.taps(step)
    whole = [a + i for a, i in zip(e.output_start, step.output_index, strict=True)]
    along = [list(range(s.start, s.stop, s.step)) for s in cells]
    rows, cols = ([0], along[0]) if len(along) == 1 else (along[0], along[1])
    where = ", ".join(
        f"{name} {s.start}..{s.stop - 1}" + (f" every {s.step}" if s.step > 1 else "")
        for name, s in zip(names, cells, strict=True)
    )
    return {
        "out": list(as_2d(step.output_index)),
        "target": f"output[{', '.join(map(str, whole))}]",
        "where": f"window on {where} of the grid",
        "rows": rows,
        "cols": cols,
        "box": [rows[0], cols[0], rows[-1] + 1, cols[-1] + 1],
        "window": [_number(v) for v in step.window.ravel()],
        "sum": _number(step.sum),
    }


def _box(mask: npt.NDArray[np.bool_]) -> list[int]:
    """Return the rows and columns a mask's True cells span: ``[top, left, bottom, right]``."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not rows.size:
        return [0, 0, 0, 0]
    return [int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1]


def _summary(e: Explanation, layer: LayerExplanation | None) -> str:
    g = e.geometry
    what = "true convolution (the kernel flipped)" if e.flip else "cross-correlation"
    if layer is not None:
        read = layer.channels
        sizes = (f"filter {layer.filter}, {_shape(layer.kernel.shape)}, over a "
                 f"{_shape((*e.image_shape, layer.input_channels))} input")  # fmt: skip
        what += f" on channels {read[0]} to {read[-1]}, summed, plus the bias {_number(layer.bias)}"
    elif g.spatial_ndim == 1:
        sizes = f"a {g.kernel_shape[0]}-tap kernel over {e.image_shape[0]} samples"
    else:
        sizes = f"a {_shape(g.kernel_shape)} kernel over a {_shape(e.image_shape)} input"
    if e.crop_start is not None:
        at = ", ".join(map(str, e.crop_start))
        sizes += f", shown at a {_shape(e.input.shape)} crop from [{at}]"
    parts = [f"{sizes}: {what}"]
    if any(s > 1 for s in g.stride):
        parts.append("stride " + ", ".join(map(str, g.stride)))
    if any(d > 1 for d in g.dilation):
        parts.append("dilation " + ", ".join(map(str, g.dilation)))
    return "; ".join(parts)


def _output_title(e: Explanation, output: npt.NDArray[np.float64]) -> str:
    whole = e.geometry.output_shape
    if output.shape == whole:
        return f"Output (feature map), {_shape(whole)}"
    first = ", ".join(map(str, e.output_start))
    return f"Output at the crop, {_shape(output.shape)} of {_shape(whole)} from [{first}]"


def _definition(ndim: int, layer: bool) -> str:
    if ndim == 1:
        return "output[n] = Σₖ padded[n·stride + k·dilation] · kernel[k]"
    if layer:
        return (
            "output[i, j] = Σ_c Σₘ Σₙ padded[i·stride + m·dilation, j·stride + n·dilation, c]"
            " · kernel[c, m, n] + bias"
        )
    return (
        "output[i, j] = Σₘ Σₙ padded[i·stride + m·dilation, j·stride + n·dilation] · kernel[m, n]"
    )


def _shown_title(e: Explanation, names: tuple[str, ...]) -> str:
    pads = ", ".join(f"{n} {b}+{a}" for n, (b, a) in zip(names, e.geometry.padding, strict=True))
    if e.crop_start is not None:
        return f"The crop in its image, {_shape(e.padded.shape)} shown"
    if not any(b or a for b, a in e.geometry.padding):
        return f"Input, {_shape(e.input.shape)} (no padding)"
    return f"Input, padded ({e.pad_mode}: {pads})"


def _kinds(e: Explanation) -> npt.NDArray[np.str_]:
    """Name the kind of each shown cell: input, context (the image around a crop) or pad."""
    kinds = np.where(e.inside, "input", "pad")
    return np.asarray(np.where(e.context, "context", kinds), dtype=np.str_)


def _shown_grid(e: Explanation, first: dict[str, Any] | None, prefix: str) -> str:
    kinds = _plane(_kinds(e))
    values = _plane(e.padded)
    window: set[tuple[int, int]] = set()
    if first is not None:  # drawn before the script runs, and for a reader without it
        window = {(r, c) for r in first["rows"] for c in first["cols"]}
    rows = []
    for r, (row_values, row_kinds) in enumerate(zip(values, kinds, strict=True)):
        cells = []
        for c, (value, kind) in enumerate(zip(row_values, row_kinds, strict=True)):
            text = _number(value)
            shown = f"({text})" if kind == "pad" else text
            classes = f"cell {kind}" + (" window" if (r, c) in window else "")
            cells.append(
                f'<td id="{prefix}-{r}-{c}" class="{classes}" data-row="{r}" data-col="{c}" '
                f'data-kind="{kind}">{_escape(shown)}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _table(values.shape, "shown", rows)


def _table(shape: tuple[int, ...], name: str, rows: list[str]) -> str:
    small = " small" if max(shape) > _SMALL_GRID else ""
    return f'<table class="grid {name}{small}"><tbody>' + "".join(rows) + "</tbody></table>"


def _legend(e: Explanation) -> str:
    kinds = set(_kinds(e).ravel().tolist())
    items = [("input", "input cell")]
    if "context" in kinds:
        items.append(("context", "the image around the crop"))
    if "pad" in kinds:
        items.append(("pad", f"(padding), {e.pad_mode}"))
    items.append(("window", "under the kernel now"))
    return "".join(
        f'<li><span class="swatch {kind}"></span>{_escape(text)}</li>' for kind, text in items
    )


class _Colours:
    """The page's generated CSS: one class per heat-map colour, one per scale bar."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}

    def cell(self, rgb: npt.NDArray[np.uint8]) -> str:
        r, g, b = (int(v) for v in rgb)
        name = f"h{r:02x}{g:02x}{b:02x}"
        ink = "#fff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#111"
        self.rules[f".grid td.{name}"] = f"background:#{name[1:]};color:{ink}"
        return name

    def bar(self, name: str, colormap: str) -> str:
        from convcli.colormaps import lookup_table

        stops = lookup_table(colormap)[np.linspace(0, 255, 9).round().astype(int)]
        colours = ",".join(f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in stops)
        self.rules[f".bar.{name}"] = f"background:linear-gradient(to right,{colours})"
        return name

    def text(self) -> str:
        return "".join(f"{rule} {{ {body}; }}\n" for rule, body in sorted(self.rules.items()))


def _output_map(values: npt.NDArray[np.float64]) -> str:
    """Coolwarm where the output has both signs (0 in the middle), viridis where it has not."""
    finite = values[np.isfinite(values)]
    return "coolwarm" if finite.size and float(finite.min()) < 0 else "viridis"


def _heat(values: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.uint8], float, float]:
    """Colour the output: about 0 where it has both signs, from its least to its most if not."""
    colormap = _output_map(values)
    if colormap == "coolwarm":
        return heat_map(values, colormap)
    return _stretched(values, colormap)


def _stretched(
    values: npt.NDArray[np.float64], colormap: str
) -> tuple[npt.NDArray[np.uint8], float, float]:
    """Colour values from their least (the map's first colour) to their most (its last)."""
    finite = values[np.isfinite(values)]
    least = float(finite.min()) if finite.size else 0.0
    # Halved (exactly: the same colours), so that values near ±1e308 do not overflow.
    rgb, _, half = heat_map(values / 2 - least / 2, colormap)
    return rgb, least, least + 2 * half


def _heat_grid(
    prefix: str,
    values: npt.NDArray[np.float64],
    colours: npt.NDArray[np.uint8],
    css: _Colours,
    name: str,
) -> str:
    plane, rgb = _plane(values), colours.reshape(*_plane(values).shape, 3)
    rows = []
    for r, row in enumerate(plane):
        cells = [
            f'<td id="{prefix}-{r}-{c}" class="cell {css.cell(rgb[r, c])}" data-row="{r}" '
            f'data-col="{c}">{_escape(_number(value))}</td>'
            for c, value in enumerate(row)
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _table(plane.shape, name, rows)


def _scale(name: str, colormap: str, low: float, high: float, css: _Colours) -> str:
    bar = css.bar(f"bar-{name}", colormap)
    middle = ", 0 in the middle" if low < 0 < high else ""
    label = f"colour scale, {colormap}, from {_number(low)} to {_number(high)}{middle}"
    return (
        f'<p class="scale muted">{_escape(colormap)}: {_escape(_number(low))}'
        f'<span class="bar {bar}" role="img" aria-label="{_escape(label)}" '
        f'title="{_escape(label)}"></span>{_escape(_number(high))}</p>'
    )


def _pictures(e: Explanation, layer: LayerExplanation | None) -> str:
    """Draw the shown grid (each channel's) as a grey picture, and the output as a heat map."""
    output = layer.output if layer else e.output
    out_rgb, out_low, out_high = _heat(output)
    planes = list(zip(layer.planes, layer.channels, strict=True)) if layer else [(e, None)]
    shown = "".join(
        _shown_picture(plane, "" if channel is None else f"-{p}", channel)
        for p, (plane, channel) in enumerate(planes)
    )
    return shown + _figure(
        "output-marker",
        out_rgb,
        f"the output computed so far, {_output_map(output)} from {_number(out_low)} to "
        f"{_number(out_high)}; the box is the current cell, grey what is still to compute",
        "the output as a heat-map picture",
        veiled=True,
    )


def _shown_picture(e: Explanation, tail: str, channel: int | None) -> str:
    """Draw a shown grid as a grey picture, its markers ``window-marker{tail}``, ``inside-...``."""
    shown_rgb, low, high = _stretched(e.padded, "gray")
    cropped = e.crop_start is not None
    padded = bool((~e.inside).any())
    what = "the input with its padding" if padded else "the input"
    what = "the crop in its image" if cropped else what
    what = what if channel is None else f"channel {channel}: {what}"
    noun = "crop" if cropped else "input"
    return _figure(
        f"window-marker{tail}",
        shown_rgb,
        f"{what}, grey from {_number(low)} (black) to {_number(high)} (white); the box is "
        f"the window{'; dashed, the ' + noun if padded else ''}",
        "the shown grid as a grey picture",
        inside=f"inside-marker{tail}" if padded else None,
    )


def _figure(
    marker: str,
    rgb: npt.NDArray[np.uint8],
    caption: str,
    alt: str,
    *,
    inside: str | None = None,
    veiled: bool = False,
) -> str:
    pixels = np.ascontiguousarray(rgb.reshape(1, -1, 3) if rgb.ndim == 2 else rgb)
    height, width = pixels.shape[:2]
    zoom = max(1, _PICTURE_SIDE // max(height, width))
    inside = f'<div class="marker inside" id="{inside}" hidden></div>' if inside else ""
    if veiled:  # over the outputs not yet computed at the shown position (the script places them)
        inside += '<div class="veil" id="veil-row" hidden></div>'
        inside += '<div class="veil" id="veil-below" hidden></div>'
    buffer = io.BytesIO()
    write_png(buffer, pixels, level=9)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><div class="frame"><img src="{uri}" width="{width * zoom}" '
        f'height="{height * zoom}" alt="{_escape(alt)}">'
        f"{inside}"
        f'<div class="marker" id="{marker}" hidden></div></div>'
        f'<figcaption class="muted">{_escape(caption)}</figcaption></figure>'
    )
