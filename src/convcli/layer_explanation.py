"""One filter of a layer over every channel it reads, step by step: ``convcli explain``.

Each channel is worked out as a 2-D convolution of its own
(:func:`convcli.explanation.worked_out`); an output is their sums plus the
bias, and comes from the engine's layer (``channels="sum"``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.engine import convolve_channels
from convcli.errors import Message, ParameterError, UsageError
from convcli.explanation import (
    Explanation,
    Matrix,
    as_numbers,
    first_window,
    shape_text,
    worked_out,
)
from convcli.limits import MAX_EXPLAIN_CHANNELS


@dataclass(frozen=True)
class LayerExplanation:
    """One filter of a layer over every channel it reads, worked out (``channels="sum"``).

    Each channel is explained as a 2-D convolution of its own, with the
    filter's weights for it (a :class:`Explanation` per channel, its windows
    at the same places); an output is their sums plus the bias. The output
    comes from the engine's layer.

    Attributes
    ----------
    planes : list of Explanation
        One per channel the filter reads, in order: its cells, its slice of
        the filter, each window's products and sum on it, and (``output``)
        that channel's correlation alone.
    channels : tuple of int
        The input's channel of each plane (with ``groups``, the filter's group's).
    input_channels : int
        How many channels the input has.
    filter : int
        The filter's index in the kernel (0 for a 3-D kernel, one filter).
    bias : float
        The filter's bias, added to every output.
    output : ndarray
        The outputs explained, from the engine: all, or those at the crop's cells.

    Examples
    --------
    >>> rgb = np.arange(12.0).reshape(2, 2, 3)  # two rows, two columns, three channels
    >>> e = worked_out_layer(rgb, np.ones((3, 2, 2)), bias=0.5, padding="valid")
    >>> [plane.steps[0].sum for plane in e.planes], e.totals, e.output.tolist()
    ([18.0, 22.0, 26.0], [66.5], [[66.5]])
    """

    planes: list[Explanation]
    channels: tuple[int, ...]
    input_channels: int
    filter: int
    bias: float
    output: Matrix

    def __repr__(self) -> str:
        first = self.planes[0]
        shown = shape_text((*first.image_shape, self.input_channels))
        if first.crop_start is not None:
            shown += f", a {shape_text(first.input.shape)} crop at {first.crop_start}"
        return (
            f"LayerExplanation(filter {self.filter}, {shape_text(self.kernel.shape)}, "
            f"over {shown}: "
            f"{shape_text(self.output.shape)} outputs, {len(first.steps)} steps)"
        )

    @property
    def kernel(self) -> Matrix:
        """The filter as applied, ``(channels, kh, kw)``: with flip, each slice turned 180°."""
        return np.stack([plane.kernel for plane in self.planes])

    @functools.cached_property
    def totals(self) -> list[float]:
        """Each window's output from the definition: its sums on every channel, plus the bias."""
        with np.errstate(over="ignore", invalid="ignore"):  # inf + -inf is NaN, as in the engine
            return [
                float(sum(np.float64(step.sum) for step in steps) + np.float64(self.bias))
                for steps in zip(*(plane.steps for plane in self.planes), strict=True)
            ]

    def to_json(self) -> str:
        """Return what ``convcli explain --json`` prints: :meth:`record` as one line of JSON."""
        from convcli.text import to_json  # JSON as convcli writes it everywhere

        return to_json(self.record())

    def record(self) -> dict[str, Any]:
        """Return the ``--json`` object: :meth:`Explanation.record`'s, on every channel.

        A step's ``window`` is ``(channels, kh, kw)``, its ``sums`` one per
        channel, and its ``sum`` the output: their total plus the bias.
        """
        first = self.planes[0]
        steps = [
            {
                "output_index": list(step.output_index),
                "window": [plane.steps[number].window.tolist() for plane in self.planes],
                "sums": [plane.steps[number].sum for plane in self.planes],
                "sum": total,
            }
            for number, (step, total) in enumerate(zip(first.steps, self.totals, strict=True))
        ]
        record = first.record()
        record.update(
            input_shape=[*first.image_shape, self.input_channels], kernel=self.kernel.tolist(),
            steps=steps, output=self.output.tolist(),
        )  # fmt: skip
        return {**record, "filter": self.filter, "channels": list(self.channels), "bias": self.bias}


def worked_out_layer(
    x: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    filter: int = 0,
    bias: npt.ArrayLike = 0.0,
    groups: int = 1,
    **settings: Any,
) -> LayerExplanation:
    """Work out one filter of a layer over every channel it reads, step by step.

    ``x`` is ``(H, W, C)`` (``(H, W)``: one channel); ``weights`` one filter
    ``(C, kh, kw)`` or a layer's ``(C_out, C/groups, kh, kw)``, of which
    ``filter`` is explained, with its ``bias`` (one number, or one per
    filter). ``settings`` are :func:`worked_out`'s; ``crop`` is
    ``(row, col, height, width)``.

    Raises
    ------
    UsageError
        The input or the weights have another number of axes, or their channels differ.
    ParameterError
        ``filter``, ``bias`` or ``groups`` does not fit the weights.
    """
    signal = as_numbers(x)
    signal = signal[..., np.newaxis] if signal.ndim == 2 else signal
    taps = np.asarray(weights, dtype=np.float64)
    if signal.ndim != 3 or taps.ndim not in (3, 4):
        raise UsageError(
            f"explain shows a (C, kh, kw) or (C_out, C, kh, kw) kernel over an input of rows, "
            f"columns and channels; got a {taps.ndim}-D kernel and a {signal.ndim}-D input"
        )
    chosen, channels = _filter_channels(taps, filter, groups, signal.shape[2])
    offset = _filter_bias(bias, 1 if taps.ndim == 3 else len(taps), filter)
    planes = [
        worked_out(signal[..., channel], chosen[number], **settings)
        for number, channel in enumerate(channels)
    ]
    first = planes[0]
    g = first.geometry
    with np.errstate(over="ignore", invalid="ignore"):  # past the largest float: inf, as IEEE says
        output = convolve_channels(
            np.stack([plane.padded for plane in planes], axis=-1)[first_window(first)],
            chosen, padding="valid", stride=g.stride, dilation=g.dilation, flip=first.flip,
            dtype=np.float64, channels="sum", bias=[offset],
        )  # fmt: skip
    counts = tuple(slice(0, n) for n in first.output.shape)
    return LayerExplanation(planes, channels, signal.shape[2], filter, offset,
                            np.asarray(output, dtype=np.float64)[counts])  # fmt: skip


def first_steps(e: Explanation | LayerExplanation, count: int) -> Explanation | LayerExplanation:
    """Return ``e`` with its first ``count`` window positions only (on every channel)."""
    if isinstance(e, LayerExplanation):
        return replace(e, planes=[replace(plane, steps=plane.steps[:count]) for plane in e.planes])
    return replace(e, steps=e.steps[:count])


def _filter_channels(
    taps: Matrix, filter: int, groups: int, count: int
) -> tuple[Matrix, tuple[int, ...]]:
    """Return the filter to explain, ``(C, kh, kw)``, and the input channels it reads."""
    layer = taps if taps.ndim == 4 else taps[np.newaxis]
    filters, per_group = layer.shape[:2]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or filters % groups:
        raise ParameterError(
            f"groups must be an int >= 1 that divides the kernel's {filters} filters, "
            f"got {groups!r}",
            parameter="groups",
        )
    if per_group * groups != count:
        each = f" ({per_group} per group of {groups})" if groups > 1 else ""
        remedy = " ({gray} makes an image its luminance)" if per_group * groups == 1 else ""
        raise UsageError(Message(
            "the kernel's filters read {wanted}{each} and the input has {count}: "
            "give an input of {wanted}" + remedy, wanted=_channels(per_group * groups), each=each,
            count=count,
        ))  # fmt: skip
    if isinstance(filter, bool) or not isinstance(filter, int) or not 0 <= filter < filters:
        raise ParameterError(
            f"filter must be 0 to {filters - 1} (the kernel has {filters}), got {filter!r}",
            parameter="filter",
        )
    if per_group > MAX_EXPLAIN_CHANNELS:
        raise UsageError(
            f"a filter of the kernel reads {per_group} channels; explain shows at most "
            f"{MAX_EXPLAIN_CHANNELS}"
        )
    start = filter // (filters // groups) * per_group
    return layer[filter], tuple(range(start, start + per_group))


def _filter_bias(bias: npt.ArrayLike, filters: int, filter: int) -> float:
    """Return the explained filter's bias: ``bias`` is one number, or one per filter."""
    try:
        values = np.asarray(bias, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.zeros((0, 0))  # no numbers: refused below
    if values.ndim == 0:
        return float(values)
    if values.shape != (filters,):
        raise ParameterError(
            f"bias must be one number, or one per filter, shape ({filters},); got shape "
            f"{values.shape}",
            parameter="bias",
        )
    return float(values[filter])


def _channels(count: int) -> str:
    return f"{count} channel" + ("s" if count != 1 else "")
