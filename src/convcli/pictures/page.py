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
from convcli.pictures.canvas import as_2d
from convcli.pictures.draw import heat_map
from convcli.text import to_json

_AXES = {1: ("samples",), 2: ("rows", "cols")}
_PICTURE_SIDE = 192  # pixels: the longer side of each picture, at most
_SMALL_GRID = 16  # a grid with more cells than this per side is drawn smaller
_KERNEL_MAP = "coolwarm"


def write_page(explanation: Explanation, path: Path, *, title: str) -> None:
    """Write the interactive page of ``explanation`` to ``path``, atomically.

    The same explanation and title give the same bytes.
    """
    text = page_text(explanation, title=title).encode("utf-8")
    write_atomically(path, lambda stream: stream.write(text))


def page_text(explanation: Explanation, *, title: str) -> str:
    """Return the page's HTML: one self-contained document.

    Examples
    --------
    >>> from convcli.explanation import worked_out
    >>> page = page_text(worked_out([1.0, 2.0, 3.0], [1.0, -1.0], padding="valid"), title="a<b")
    >>> "<title>a&lt;b</title>" in page, 'id="sum">-1<' in page, "://" in page
    (True, True, False)
    """
    e = explanation
    ndim = e.geometry.spatial_ndim
    names = _AXES[ndim]
    total = e.output.size  # the positions explained: all, or those at a crop's cells
    css = _Colours()
    steps = [_step_record(e, step, names) for step in e.steps]
    of = "" if len(steps) == total else f" written out ({total} in all)"
    first = steps[0] if steps else None
    kernel_texts = [_number(v) for v in e.kernel.ravel()]
    across = e.kernel.shape[-1] if ndim == 2 else e.kernel.size  # products on a line
    data = {
        "title": title,
        "shown": list(_plane(e.padded).shape),
        "output": list(_plane(e.output).shape),
        "inside": _box(_plane(e.inside)),
        "kernel": kernel_texts,
        "across": across,
        "of": of,
        "steps": steps,
    }
    fields = {
        "csp": "__CSP__",
        "title": _escape(title),
        "heading": _escape(title),
        "summary": _escape(_summary(e)),
        "definition": _escape(_definition(ndim)),
        **_first_position(first, len(steps), of, kernel_texts, across),
        "shown_title": _escape(_shown_title(e, names)),
        "shown": _shown_grid(e, first),
        "legend": _legend(e),
        **_heat_grids(e, css),
        "formulas": "".join(
            f"<li>{_escape(name)}: {_escape(e.geometry.formula(axis, textbook=True))}</li>"
            for axis, name in enumerate(names)
        ),
        "pictures": _pictures(e),
        "data": _script_json(data),
        "colours": css.text(),
    }
    page = string.Template(_template()).substitute(fields)
    return page.replace("__CSP__", _policy(page), 1)


def _first_position(
    first: dict[str, Any] | None, count: int, of: str, kernel: list[str], across: int
) -> dict[str, str]:
    """Fill in the first window position: what the page shows before its script runs."""
    return {
        "position": _escape(
            f"position 1 of {count}{of}" if first else "no window positions written out"
        ),
        "where": _escape(first["where"] if first else ""),
        "products": _escape(_products(first["window"], kernel, across) if first else ""),
        "target": _escape(first["target"] if first else "output"),
        "sum": _escape(first["sum"] if first else ""),
    }


def _heat_grids(e: Explanation, css: _Colours) -> dict[str, str]:
    """Fill in the kernel's and the output's grids: titles, coloured cells and colour scales."""
    output_colours, out_low, out_high = _heat(e.output)
    kernel_colours, k_low, k_high = heat_map(e.kernel, _KERNEL_MAP)
    turned = ": reversed" if e.kernel.ndim == 1 else ": rotated 180°"
    return {
        "kernel_title": _escape("Kernel, as applied" + (f"{turned} (--flip)" if e.flip else "")),
        "kernel": _heat_grid("k", e.kernel, kernel_colours, css, "kernel"),
        "kernel_scale": _scale("k", _KERNEL_MAP, k_low, k_high, css),
        "output_title": _escape(_output_title(e)),
        "output": _heat_grid("o", e.output, output_colours, css, "output"),
        "output_scale": _scale("o", _output_map(e.output), out_low, out_high, css),
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


def _summary(e: Explanation) -> str:
    g = e.geometry
    what = "true convolution (the kernel flipped)" if e.flip else "cross-correlation"
    if g.spatial_ndim == 1:
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


def _output_title(e: Explanation) -> str:
    whole = e.geometry.output_shape
    if e.output.shape == whole:
        return f"Output (feature map), {_shape(whole)}"
    first = ", ".join(map(str, e.output_start))
    return f"Output at the crop, {_shape(e.output.shape)} of {_shape(whole)} from [{first}]"


def _definition(ndim: int) -> str:
    if ndim == 1:
        return "output[n] = Σₖ padded[n·stride + k·dilation] · kernel[k]"
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


def _shown_grid(e: Explanation, first: dict[str, Any] | None) -> str:
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
                f'<td id="s-{r}-{c}" class="{classes}" data-row="{r}" data-col="{c}" '
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


def _pictures(e: Explanation) -> str:
    shown_rgb, low, high = _stretched(e.padded, "gray")
    out_rgb, out_low, out_high = _heat(e.output)
    cropped = e.crop_start is not None
    padded = bool((~e.inside).any())
    what = "the input with its padding" if padded else "the input"
    what = "the crop in its image" if cropped else what
    noun = "crop" if cropped else "input"
    return _figure(
        "window-marker",
        shown_rgb,
        f"{what}, grey from {_number(low)} (black) to {_number(high)} (white); the box is "
        f"the window{'; dashed, the ' + noun if padded else ''}",
        "the shown grid as a grey picture",
        framed=padded,
    ) + _figure(
        "output-marker",
        out_rgb,
        f"the output computed so far, {_output_map(e.output)} from {_number(out_low)} to "
        f"{_number(out_high)}; the box is the current cell, grey what is still to compute",
        "the output as a heat-map picture",
        veiled=True,
    )


def _figure(
    marker: str,
    rgb: npt.NDArray[np.uint8],
    caption: str,
    alt: str,
    *,
    framed: bool = False,
    veiled: bool = False,
) -> str:
    pixels = np.ascontiguousarray(rgb.reshape(1, -1, 3) if rgb.ndim == 2 else rgb)
    height, width = pixels.shape[:2]
    zoom = max(1, _PICTURE_SIDE // max(height, width))
    inside = '<div class="marker inside" id="inside-marker" hidden></div>' if framed else ""
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
