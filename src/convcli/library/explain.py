"""``convcli.explain``: a convolution worked out step by step, and drawn, from Python.

The settings are taken as :func:`convcli.apply` takes them (the padding as
1, ndim or 2*ndim numbers; a stride or dilation per axis), the input as
``convcli explain --input`` takes it; the steps are worked out by
:mod:`convcli.explanation`, and drawn by :mod:`convcli.pictures`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from convcli.catalog.kernel import Kernel
from convcli.catalog.lookup import load_kernel
from convcli.catalog.weights import read_bias
from convcli.choices import PAD_MODE_ALIASES, PadMode, choose
from convcli.errors import Message, ParameterError, UsageError, cannot_write
from convcli.explanation import Explanation, one_matrix, read_input, worked_out
from convcli.layer_explanation import LayerExplanation, first_steps, worked_out_layer
from convcli.library.settings import Ints, Padding
from convcli.limits import ANIMATION_FRAMES, MAX_ANIMATION_FRAMES, MAX_STEPS
from convcli.run.prepare import padding_for, per_axis

if TYPE_CHECKING:
    from convcli.engine import PaddingSpec

Where = str | os.PathLike[str]


def explain(
    kernel: str | Kernel | npt.ArrayLike,
    input: npt.ArrayLike | Where | None = None,
    *,
    padding: Padding = "same",
    pad_mode: str = "reflect",
    pad_value: float = 0.0,
    stride: Ints = 1,
    dilation: Ints = 1,
    flip: bool = False,
    steps: int = 3,
    crop: Sequence[int] | None = None,
    animate: Where | None = None,
    frames: int | None = None,
    html: Where | None = None,
    title: str | None = None,
    filter: int | None = None,
    bias: str | npt.ArrayLike | None = None,
    groups: int | None = None,
    gray: bool = False,
) -> Explanation | LayerExplanation:
    """Work out a small convolution step by step, as ``convcli explain`` shows it.

    The windows, their products with the kernel and their sums are worked
    out from the definition; the output comes from the engine (README,
    "Learn convolution"). :meth:`Explanation.to_json` gives what
    ``convcli explain --json`` prints.

    Parameters
    ----------
    kernel : str, Kernel or array_like
        A kernel spec (``"sobel-x"``, ``"[1,0,-1]"``), a :class:`Kernel` or a
        matrix; 1-D or 2-D, and not a combined kernel (``sobel``: explain
        one of its components). A 3-D kernel ``(C, kh, kw)`` is one filter
        of a layer, summed over the input's C channels; of a 4-D one,
        ``(C_out, C/groups, kh, kw)``, the filter ``filter`` is explained.
    input : array_like, str or path, optional
        The values to explain, as many axes as the kernel: a matrix (an
        image's ``samples``), a matrix written as JSON (``"[[1,2],[3,4]]"``),
        or the name of a ``.npy`` or of an image file (its luminance).
        By default a ramp: 1 to 25 in 5x5, or 1 to 7 for a 1-D kernel.
        For a layer's filter, ``(H, W, C)``: an image keeps its channels,
        and the ramp has C of them (channel c from 25·c + 1).
    padding, pad_mode, pad_value, stride, dilation, flip
        As for :func:`convcli.apply`: ``padding`` a word, N, one number per
        axis or two (before, after: T, B, L, R for 2-D).
    steps : int, optional
        How many window positions to work out, 0 to 1,000,000.
    crop : sequence of int, optional
        ``(row, col, height, width)`` (``(start, length)`` in 1-D) of the
        input, explained in its context; at most 32 a side. Without one,
        the input may have at most 32 cells a side.
    animate : str or path, optional
        Also draw the window positions as an animation: ``.gif``, or
        ``.png``/``.apng`` (APNG); ``frames`` of them (default: all, up to 100).
    html : str or path, optional
        Also write an interactive page that steps through every window
        position: one self-contained HTML file, titled ``title``.
    filter : int, optional
        Which filter of a 4-D kernel to explain, from 0 (the default).
    bias : str, float or array_like, optional
        A layer's bias: one number, or one per filter, or a spec as
        ``--bias`` takes (``FILE[:NAME]``, ``"[0.1,-0.2]"``); by default the
        kernel's (the ``X.bias`` beside ``X.weight``).
    groups : int, optional
        A layer's groups: a filter reads its group's channels only
        (default: the kernel's, else 1).
    gray : bool, optional
        For a layer's filter, explain an image's luminance, one channel.

    Returns
    -------
    Explanation or LayerExplanation
        Its first ``steps`` window positions worked out; a
        :class:`LayerExplanation` for a 3-D or 4-D kernel, an
        :class:`Explanation` per channel summed.

    Raises
    ------
    UsageError
        The kernel combines others, or the input, crop or kernel is too large to show.
    ParameterError
        A setting is invalid; the message names it.

    Examples
    --------
    >>> import convcli
    >>> e = convcli.explain("[1,0,-1]", [0, 0, 1, 1, 1, 0, 0], padding="valid", flip=True)
    >>> e
    Explanation(3 kernel over 7: 5 outputs, 3 steps)
    >>> e.output
    array([ 1.,  1.,  0., -1., -1.])
    >>> step = e.steps[0]
    >>> step.window, step.products, step.sum
    (array([0., 0., 1.]), array([-0.,  0.,  1.]), 1.0)
    >>> e.formula
    ['⌊(7 + 0 + 0 - 1·(3 - 1) - 1) / 1⌋ + 1 = 5']
    >>> convcli.explain("box:3", "[[1,2,3],[4,5,6],[7,8,9]]", padding=(1, 1, 0, 0)).output.shape
    (3, 1)
    """
    _check_counts(steps, frames, animate)
    chosen = load_kernel(kernel) if isinstance(kernel, str) else kernel
    weights = one_matrix(chosen) if isinstance(chosen, Kernel) else np.asarray(chosen, np.float64)
    layer = weights.ndim in (3, 4)  # a filter of a layer: over rows, columns and channels
    ndim = 2 if layer else weights.ndim
    choose(PadMode, pad_mode, "pad_mode", PAD_MODE_ALIASES)  # the settings before the input
    for name, unset in (("filter", filter is None), ("bias", bias is None), ("groups", not groups)):
        if not layer and not unset:
            message = f"{name} is a layer's: give a 3-D or 4-D kernel with it"
            raise ParameterError(message, parameter=name)
    grouped = groups or (chosen.groups if isinstance(chosen, Kernel) else 1)
    channels = weights.shape[-3] * grouped if layer else 0
    values = _input_values(input, ndim, channels, gray)
    animated = frames or ANIMATION_FRAMES
    needed = MAX_STEPS if html else max(steps, animated) if animate else steps  # positions
    settings: dict[str, Any] = {
        "padding": _padding(padding, ndim), "pad_mode": pad_mode, "pad_value": pad_value,
        "stride": _per_axis("stride", stride, ndim), "flip": flip, "steps": needed,
        "dilation": _per_axis("dilation", dilation, ndim), "crop": crop,
    }  # fmt: skip
    explanation: Explanation | LayerExplanation
    if layer:
        explanation = worked_out_layer(values, weights, filter=filter or 0,
                                       bias=_layer_bias(chosen, bias), groups=grouped,
                                       **settings)  # fmt: skip
    else:
        explanation = worked_out(values, weights, **settings)
    if animate is not None:
        _draw_animation(first_steps(explanation, animated), Path(animate))
    if html is not None:
        from convcli.pictures.page import write_page

        name = chosen.name if isinstance(chosen, Kernel) else "a matrix"
        shown = title or f"convcli explain: {name} over {_input_name(input)}"
        _writing(Path(html), lambda: write_page(explanation, Path(html), title=shown))
    return first_steps(explanation, steps)


def _layer_bias(chosen: object, bias: str | npt.ArrayLike | None) -> npt.ArrayLike:
    """Return a layer's bias: as given (a spec read as ``--bias`` reads it), or the kernel's."""
    if isinstance(bias, str):
        return read_bias(bias)
    if bias is not None:
        return bias
    if not isinstance(chosen, Kernel):
        return 0.0
    return chosen.bias if chosen.filter_bias is None else chosen.filter_bias


def _check_counts(steps: object, frames: object, animate: object) -> None:
    """Refuse counts out of their bounds, and frames without an animation."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ParameterError(f"steps must be 0 to {MAX_STEPS:,}, got {steps!r}", parameter="steps")
    if frames is None:
        return
    if isinstance(frames, bool) or not isinstance(frames, int):
        raise ParameterError(f"frames must be an integer, got {frames!r}", parameter="frames")
    if not 1 <= frames <= MAX_ANIMATION_FRAMES:
        raise ParameterError(f"frames must be 1 to {MAX_ANIMATION_FRAMES}, got {frames}",
                             parameter="frames")  # fmt: skip
    if animate is None:
        raise UsageError(
            Message("{frames} counts the frames of {animate}: give {animate} FILE too")
        )


def _input_values(given: object, ndim: int, channels: int, gray: bool) -> npt.NDArray[np.generic]:
    """Return the input to explain: the ramp, a matrix as JSON, a file's values, or a matrix."""
    if given is None or isinstance(given, str):
        return read_input(given, ndim, channels, gray)
    if isinstance(given, os.PathLike):
        name = os.fspath(given)
        if isinstance(name, str):
            return read_input(name, ndim, channels, gray)
        raise ParameterError("input must be a matrix or a file's name", parameter="input")
    return np.asarray(given)


def _input_name(given: object) -> str:
    """Name the input in the page's title: as written, a file's name, or what it is."""
    if given is None:
        return "a ramp"
    return os.fsdecode(given) if isinstance(given, str | os.PathLike) else "a matrix"


def _padding(padding: Padding, ndim: int) -> PaddingSpec:
    """Take the padding as apply takes it: a word, N, or 1, ndim or 2*ndim numbers."""
    if isinstance(padding, str | int) or not all(isinstance(p, int) for p in padding):
        return padding  # the engine's own forms, checked there
    return padding_for(tuple(padding), ndim)


def _per_axis(name: str, value: Ints, ndim: int) -> int | tuple[int, ...]:
    """Take a stride or dilation as apply takes it: N, or one per axis."""
    if isinstance(value, int) or not all(isinstance(v, int) for v in value):
        return value  # type: ignore[return-value]  # checked by the engine
    return per_axis(name, tuple(value), ndim)


def _draw_animation(shown: Explanation | LayerExplanation, path: Path) -> None:
    """Draw the animation; refuse a 1-D one of values that are not finite."""
    from convcli.pictures.animation import write_animation

    if isinstance(shown, Explanation) and shown.geometry.spatial_ndim == 1:
        drawn = [shown.padded, shown.output, *(step.products for step in shown.steps)]
        if not all(np.isfinite(v).all() for v in drawn):
            raise UsageError(Message(
                "{animate} draws a 1-D input as curves, and NaN or infinity (in the input, or a "
                "product or sum past the largest float) has no place on them; use {json} or {html}"
            ))  # fmt: skip
    _writing(path, lambda: write_animation(shown, path))


def _writing(path: Path, write: Callable[[], Any]) -> None:
    try:
        write()
    except OSError as error:  # the file is a parameter's: a usage error, as for the input
        raise cannot_write(path, error, UsageError) from None
