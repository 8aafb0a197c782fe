"""What a convolution computes, step by step: for ``convcli explain``.

The steps are worked out here from the definition (the window under the
kernel, multiplied cell by cell and summed); the output comes from the
engine. That they agree is what the tests check.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from convcli.choices import crop_forms
from convcli.engine import (
    Geometry,
    PaddingSpec,
    canonical_pad_mode,
    convolve,
    resolve_geometry,
    source_index,
)
from convcli.errors import InputError, KernelError, Message, ParameterError, UsageError

if TYPE_CHECKING:
    from convcli.catalog.kernel import Kernel

Matrix = npt.NDArray[np.float64]
_Region = tuple[tuple[int, ...], tuple[int, ...]]  # a crop's starts and sizes, per axis
LARGEST_SIDE = 32  # an explanation of more cells than this per side is unreadable


@dataclass(frozen=True)
class Step:
    """One position of the sliding window."""

    output_index: tuple[int, ...]  # in Explanation.output (add output_start: in the whole)
    origin: tuple[int, ...]  # the index in Explanation.padded of the window's first cell
    window: Matrix  # the shown values under the kernel's taps
    sum: float
    products: Matrix  # the window times the kernel, cell by cell; 0 at the kernel's zero taps


@dataclass(frozen=True)
class Explanation:
    """Everything ``convcli explain`` shows: a convolution worked out step by step.

    With a crop, the geometry, the formula and the padding are the whole
    input's; ``input`` and ``output`` are the crop's cells and the outputs at
    them, and ``padded`` shows the crop in its context.

    Attributes
    ----------
    input : ndarray
        The cells explained: the whole input, or the crop (float64).
    kernel : ndarray
        The kernel as applied: rotated 180 degrees with ``flip``.
    geometry : Geometry
        Of the whole input: ``padding`` (before and after, per axis),
        ``stride``, ``dilation``, ``output_shape``.
    padded : ndarray
        The cells shown: the input with its padding, or the crop in its context.
    steps : list of Step
        The first window positions, each with its ``output_index`` (in
        ``output``), ``window`` (the cells under the kernel's taps),
        ``products`` (the window times the kernel) and ``sum``.
    output : ndarray
        The outputs explained, from the engine: all, or those at the crop's cells.
    formula : list of str
        The output-size formula per axis, with its numbers.

    Examples
    --------
    >>> e = worked_out([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, -1.0]], padding="valid")
    >>> e.steps[0].window.tolist(), e.steps[0].products.tolist(), e.steps[0].sum
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, -4.0]], -3.0)
    >>> e.formula
    ['⌊(2 + 0 + 0 - 1·(2 - 1) - 1) / 1⌋ + 1 = 1', '⌊(2 + 0 + 0 - 1·(2 - 1) - 1) / 1⌋ + 1 = 1']
    """

    input: Matrix  # the cells explained: the whole input, or the crop
    kernel: Matrix  # as applied: rotated 180 degrees with flip
    flip: bool
    geometry: Geometry  # of the whole input
    pad_mode: str
    padded: Matrix  # the cells shown: the input with its padding (or, for a crop, its context)
    inside: npt.NDArray[np.bool_]  # True where a shown cell is an input (or crop) cell
    context: npt.NDArray[np.bool_]  # True where a shown cell is the image's, around a crop
    offset: tuple[int, ...]  # the image index of the first shown cell (negative in padding)
    steps: list[Step]
    output: Matrix  # the outputs explained: all, or those at the crop's cells (see anchor)
    image_shape: tuple[int, ...]  # the whole input's shape
    crop_start: tuple[int, ...] | None  # the image index of the crop's first cell; None: no crop
    output_start: tuple[int, ...]  # the whole output's index of output's first cell

    def __repr__(self) -> str:  # the arrays are the attributes'; a notebook shows this line
        shown = shape_text(self.image_shape)
        if self.crop_start is not None:
            shown += f", a {shape_text(self.input.shape)} crop at {self.crop_start}"
        return (
            f"Explanation({shape_text(self.kernel.shape)} kernel over {shown}: "
            f"{shape_text(self.output.shape)} outputs, {len(self.steps)} steps)"
        )

    @property
    def formula(self) -> list[str]:
        """The output-size formula per axis, with the numbers in it."""
        g = self.geometry
        return [g.formula(axis, textbook=True) for axis in range(g.spatial_ndim)]

    @property
    def written(self) -> Matrix:
        """The kernel as the user wrote it (before any flip)."""
        return np.flip(self.kernel) if self.flip else self.kernel

    @property
    def anchor(self) -> tuple[int, ...]:
        """Per axis, how far the cell an output is at lies from its window's first cell.

        Half the dilated kernel's span, rounded down: the split "same" padding
        uses, so that with it (and stride 1) output n is at input cell n.
        """
        g = self.geometry
        return tuple(d * (k - 1) // 2 for k, d in zip(g.kernel_shape, g.dilation, strict=True))

    def taps(self, step: Step) -> tuple[slice, ...]:
        """Select the cells of :attr:`padded` under the kernel's taps at ``step``'s window.

        Examples
        --------
        >>> e = worked_out([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 0.0, -1.0], padding="valid",
        ...                dilation=2, steps=1)
        >>> e.taps(e.steps[0]), e.padded[e.taps(e.steps[0])]
        ((slice(0, 5, 2),), array([1., 3., 5.]))
        """
        return _taps(step.origin, self.geometry)

    def to_json(self) -> str:
        """Return what ``convcli explain --json`` prints: :meth:`record` as one line of JSON.

        A number that is not finite is ``null`` (README, "The report record").

        Examples
        --------
        >>> worked_out([0.0, 1.0, 4.0], [1.0, -1.0], padding="valid").to_json()[:60]
        '{"input_shape": [3], "crop": null, "kernel": [1.0, -1.0], "p'
        """
        from convcli.text import to_json  # JSON as convcli writes it everywhere

        return to_json(self.record())

    def record(self) -> dict[str, Any]:
        """Return the ``--json`` object."""
        g = self.geometry
        crop = None
        if self.crop_start is not None:
            crop = {"start": list(self.crop_start), "shape": list(self.input.shape)}
        return {
            "input_shape": list(self.image_shape),
            "crop": crop,
            "kernel": self.kernel.tolist(),
            "padding": [list(pair) for pair in g.padding],
            "pad_mode": self.pad_mode,
            "stride": list(g.stride),
            "dilation": list(g.dilation),
            "anchor": list(self.anchor),
            "output_shape": list(g.output_shape),
            "formula": self.formula,
            "steps": [
                {"output_index": list(s.output_index), "window": s.window.tolist(), "sum": s.sum}
                for s in self.steps
            ],
            "output_start": list(self.output_start),
            "output": self.output.tolist(),
        }


def worked_out(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    padding: PaddingSpec = "same",
    pad_mode: str = "reflect",
    pad_value: float = 0.0,
    stride: int | tuple[int, ...] = 1,
    dilation: int | tuple[int, ...] = 1,
    flip: bool = False,
    steps: int = 3,
    crop: Sequence[int] | None = None,
) -> Explanation:
    """Work out a small convolution step by step (1-D or 2-D, no channels).

    ``crop`` is ``(row, col, height, width)``, ``(start, length)`` in 1-D: a
    part of ``x`` to explain in its context. The outputs explained are those
    at the crop's cells (see :attr:`Explanation.anchor`), with the values the
    engine gives on the whole of ``x``; only the shown part need be small.

    Examples
    --------
    >>> e = worked_out([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, -1.0], padding="valid")
    >>> [(s.output_index, s.window.tolist(), s.sum) for s in e.steps]
    [((0,), [1.0, 2.0, 3.0], -2.0), ((1,), [2.0, 3.0, 4.0], -2.0)]
    >>> e = worked_out([1.0, 4.0, 9.0, 16.0, 25.0], [1.0, -2.0, 1.0], crop=(1, 2))
    >>> e.padded.tolist(), e.context.tolist(), e.output.tolist()  # the squares' 2nd difference
    ([1.0, 4.0, 9.0, 16.0], [True, False, False, True], [2.0, 2.0])
    """
    signal = as_numbers(x)
    weights = np.asarray(kernel, dtype=np.float64)
    part = _shown_part(signal, weights, crop)
    mode = canonical_pad_mode(pad_mode)
    geometry = resolve_geometry(
        signal.shape, weights.shape, padding=padding, stride=stride, dilation=dilation
    )
    axes = _shown_axes(geometry, part)
    whole: _Region = ((0,) * signal.ndim, signal.shape)
    starts, sizes = part or whole
    positions = [np.arange(axis.cells.start, axis.cells.stop) for axis in axes]
    padded = _shown_cells(signal, positions, mode, pad_value)
    inside = _within(positions, starts, sizes)
    first = tuple(axis.first_window for axis in axes)
    counts = tuple(len(axis.outputs) for axis in axes)
    applied = np.flip(weights) if flip else weights
    return Explanation(
        input=signal[tuple(slice(a, a + n) for a, n in zip(starts, sizes, strict=True))].astype(
            np.float64
        ),
        kernel=applied, flip=flip, geometry=geometry, pad_mode=mode, padded=padded,
        inside=inside, context=_within(positions, *whole) & ~inside,
        offset=tuple(axis.cells.start for axis in axes),
        output=_engine_output(padded, weights, geometry, mode, flip, first, counts),
        steps=_steps(padded, applied, geometry, first, counts, steps),
        image_shape=signal.shape, crop_start=None if part is None else part[0],
        output_start=tuple(axis.outputs.start for axis in axes),
    )  # fmt: skip


def first_window(e: Explanation) -> tuple[slice, ...]:
    """Select the shown cells from the first explained window's first cell on."""
    g = e.geometry
    return tuple(
        slice(start * s - before - offset, None)
        for start, s, (before, _), offset in zip(e.output_start, g.stride, g.padding, e.offset,
                                                 strict=True)
    )  # fmt: skip


def as_numbers(x: npt.ArrayLike) -> npt.NDArray[Any]:
    """Return the input as an array of numbers: integers and floats kept as they are."""
    signal = np.asarray(x)
    if signal.dtype.kind not in "iuf":  # numbers are kept as they are: only the shown cells
        signal = signal.astype(np.float64)  # become float64, however large the input
    return signal


def _shown_part(
    signal: npt.NDArray[Any], weights: Matrix, crop: Sequence[int] | None
) -> _Region | None:
    """Check that the input, the crop and the kernel can be shown; return the crop's region."""
    if weights.ndim not in (1, 2) or signal.ndim != weights.ndim:
        raise UsageError(
            f"explain shows a 1-D or 2-D kernel over an input of as many axes; got a "
            f"{weights.ndim}-D kernel and a {signal.ndim}-D input"
        )
    part = None if crop is None else _crop_region(crop, signal.shape)
    if part is None and max(signal.shape) > LARGEST_SIDE:
        too_large = "the input is {size}; explain shows at most {most} per side: choose a part"
        size, forms = shape_text(signal.shape), crop_forms(signal.ndim)
        raise UsageError(Message(too_large + " with {crop} {forms}", size=size, most=LARGEST_SIDE,
                                 forms=forms))  # fmt: skip
    if part is not None and max(part[1]) > LARGEST_SIDE:
        raise UsageError(
            f"the crop is {shape_text(part[1])}; explain shows at most {LARGEST_SIDE} per side"
        )
    if max(weights.shape) > LARGEST_SIDE:
        raise UsageError(
            f"the kernel is {shape_text(weights.shape)}; "
            f"explain shows at most {LARGEST_SIDE} per side"
        )
    return part


def _shown_axes(geometry: Geometry, part: _Region | None) -> list[_Axis]:
    """Work out each axis's outputs and shown cells; check that the cells can be shown."""
    axes = [
        _axis_view(geometry, axis, None if part is None else (part[0][axis], part[1][axis]))
        for axis in range(geometry.spatial_ndim)
    ]
    shown_sides = tuple(len(axis.cells) for axis in axes)
    if max(shown_sides) > 2 * LARGEST_SIDE:
        what = "the padded input" if part is None else "the crop with the cells its windows read"
        remedy = "use less padding" if part is None else "use a smaller crop or dilation"
        raise UsageError(
            f"{what} would be {shape_text(shown_sides)}; explain shows at most "
            f"{2 * LARGEST_SIDE} per side: {remedy}"
        )
    return axes


def _within(
    positions: list[npt.NDArray[np.intp]], starts: Sequence[int], sizes: Sequence[int]
) -> npt.NDArray[np.bool_]:
    """Mark the shown cells in the block of ``sizes`` cells from ``starts``, per axis."""
    return _every_axis(
        [(p >= a) & (p < a + n) for p, a, n in zip(positions, starts, sizes, strict=True)]
    )


def _engine_output(
    padded: Matrix,
    weights: Matrix,
    g: Geometry,
    mode: str,
    flip: bool,
    first: tuple[int, ...],
    counts: tuple[int, ...],
) -> Matrix:
    """Filter the shown cells with the engine: windows there read what they read in the whole.

    ``first`` and ``counts`` are as for :func:`_steps`.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # past the largest float: inf, as IEEE says
        filtered = convolve(
            padded[tuple(slice(f, None) for f in first)], weights, padding="valid", pad_mode=mode,
            stride=g.stride, dilation=g.dilation, flip=flip, dtype=np.float64,
        )  # fmt: skip
    return np.asarray(filtered, dtype=np.float64)[tuple(slice(0, n) for n in counts)]


def one_matrix(kernel: Kernel) -> Matrix:
    """Return the matrix of a kernel to explain; a combined kernel has one per component.

    Raises
    ------
    UsageError
        ``kernel`` combines others (``sobel``): explain one of them.
    """
    if kernel.matrix is None:
        names = [part.name for part in kernel.components]
        # A rotation set has 4 to 64 parts: its first and last say which, on one line.
        parts = (
            " and ".join(names)
            if len(names) < 3
            else f"{len(names)} kernels, {names[0]} to {names[-1]}"
        )
        raise UsageError(f"{kernel.name} combines {parts}; explain one of them")
    return kernel.matrix


def shape_text(shape: Sequence[int]) -> str:
    """Return a shape as it is written: ``3x3``, ``5x5x3``."""
    return "x".join(map(str, shape))


def _crop_region(crop: Sequence[int], shape: tuple[int, ...]) -> _Region:
    """Check a crop against the input; return its starts and sizes."""
    ndim = len(shape)
    if len(crop) != 2 * ndim:
        raise ParameterError(
            f"crop takes {crop_forms(ndim)} for a {ndim}-D input, got {len(crop)} numbers",
            parameter="crop",
        )
    starts, sizes = tuple(crop[:ndim]), tuple(crop[ndim:])
    for axis, (start, size, n) in enumerate(zip(starts, sizes, shape, strict=True)):
        if start < 0 or size < 1:
            raise ParameterError(
                f"crop must start at 0 or more and be 1 or more long, got {start} and "
                f"{size} along axis {axis}",
                parameter="crop",
            )
        if start + size > n:
            raise ParameterError(
                f"crop reaches {start + size} along axis {axis}, past the input's {n}",
                parameter="crop",
            )
    return starts, sizes


class _Axis(NamedTuple):
    outputs: range  # the whole output's indices explained
    cells: range  # the input indices shown (negative or past the end: padding)
    first_window: int  # where the first explained output's window starts, in the shown cells


def _axis_view(g: Geometry, axis: int, part: tuple[int, int] | None) -> _Axis:
    """Along one axis: which outputs are explained, and which input cells are shown.

    Without a crop, every output and the whole padded input. With one, the
    outputs at the crop's cells, and the crop with every cell their windows read.
    """
    n, k, s, (before, after) = (g.input_shape[axis], g.kernel_shape[axis], g.stride[axis],
                                g.padding[axis])  # fmt: skip
    span = g.dilation[axis] * (k - 1)
    size = g.output_shape[axis]
    if part is None:
        return _Axis(range(size), range(-before, n + after), 0)
    start, length = part
    at = span // 2 - before  # the input cell output 0 is at; output j's is j strides on
    first = max(0, -((at - start) // s))  # the first j with at + j*s >= start
    last = min(size - 1, (start + length - 1 - at) // s)
    if first > last:
        every = f", every {s}" if s > 1 else ""
        raise UsageError(
            f"the crop has no output along axis {axis}: outputs are at input cells {at} to "
            f"{at + (size - 1) * s}{every}, and none is in {start}..{start + length - 1}"
        )
    window = first * s - before  # the input index of the first explained window's first cell
    cells = range(min(start, window), max(start + length, last * s - before + span + 1))
    return _Axis(range(first, last + 1), cells, window - cells.start)


def _every_axis(masks: list[npt.NDArray[np.bool_]]) -> npt.NDArray[np.bool_]:
    """Combine one mask per axis: True in the cells where each axis's mask is."""
    return functools.reduce(np.logical_and.outer, masks)


def _shown_cells(
    x: npt.NDArray[Any], positions: list[npt.NDArray[np.intp]], mode: str, fill: float
) -> Matrix:
    """Look up the input's values at ``positions`` per axis, past its edges by the border mode."""
    sources = [source_index(p, n, 0, mode) for p, n in zip(positions, x.shape, strict=True)]
    values = x[np.ix_(*(np.maximum(index, 0) for index in sources))]
    filled = ~_every_axis([index >= 0 for index in sources])  # the zero mode's pad value
    return np.where(filled, fill, values.astype(np.float64))


def _steps(
    padded: Matrix,
    kernel: Matrix,
    g: Geometry,
    first: tuple[int, ...],
    counts: tuple[int, ...],
    count: int,
) -> list[Step]:
    """Work out the first ``count`` window positions, in reading order, from the definition.

    ``first`` is where the first explained output's window starts in ``padded``,
    ``counts`` how many outputs are explained per axis.
    """
    found = []
    for index in itertools.islice(np.ndindex(*counts), max(count, 0)):
        origin = tuple(f + i * s for f, i, s in zip(first, index, g.stride, strict=True))
        window = padded[_taps(origin, g)]
        terms = products(window, kernel)
        with np.errstate(over="ignore", invalid="ignore"):  # inf + -inf is NaN, as in the engine
            found.append(Step(index, origin, window, float(terms.sum()), terms))
    return found


def products(window: Matrix, kernel: Matrix) -> Matrix:
    """Multiply a window by the kernel cell by cell, skipping the zero taps as the engine does.

    A zero tap adds nothing, even over NaN or infinity (0 x inf would be NaN);
    a product past the largest float is infinite, as the engine's is.

    Examples
    --------
    >>> products(np.array([np.inf, 2.0, 1e308]), np.array([0.0, 3.0, 10.0])).tolist()
    [0.0, 6.0, inf]
    """
    found = np.zeros(np.broadcast_shapes(window.shape, kernel.shape))
    with np.errstate(over="ignore"):
        np.multiply(window, kernel, out=found, where=kernel != 0)
    return found


def _taps(origin: tuple[int, ...], g: Geometry) -> tuple[slice, ...]:
    """Select the padded-input cells under the kernel's taps, for a window at ``origin``."""
    return tuple(
        slice(o, o + d * (k - 1) + 1, d)
        for o, k, d in zip(origin, g.kernel_shape, g.dilation, strict=True)
    )


def ramp(ndim: int, channels: int = 0) -> Matrix:
    """Return the default input: 1 to 7 for a 1-D kernel, 1 to 25 in a 5 x 5 square for 2-D.

    With ``channels`` (a layer's filter), 5 x 5 x ``channels``: channel c
    counts on from the one before, 25·c + 1 to 25·c + 25.

    Examples
    --------
    >>> ramp(1).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    >>> ramp(2, channels=2)[0, :2].tolist()
    [[1.0, 26.0], [2.0, 27.0]]
    """
    if channels:
        return np.moveaxis(np.arange(1.0, 25.0 * channels + 1).reshape(channels, 5, 5), 0, -1)
    return np.arange(1.0, 8.0) if ndim == 1 else np.arange(1.0, 26.0).reshape(5, 5)


def read_input(
    text: str | None, ndim: int, channels: int = 0, gray: bool = False
) -> npt.NDArray[np.generic]:
    """Read the matrix to explain: inline JSON, a ``.npy``, or an image (as luminance), whole.

    For a layer's filter, reading ``channels``, an image keeps its channels
    (alpha aside; CMYK made RGB; its luminance with ``gray``) and the ramp
    has that many. A crop is
    :func:`explain`'s: it shows the part in its context.

    Examples
    --------
    >>> read_input("[[1, 2, 3], [4, 5, 6]]", 2).tolist()
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    """
    from pathlib import Path

    from convcli.catalog.kernel import nested_matrix
    from convcli.catalog.lookup import read_matrix
    from convcli.io.colour import as_rgb, luminance
    from convcli.io.reading import read_image
    from convcli.io.storage import is_zarr_store

    if text is None:
        return ramp(ndim, channels)
    if not text.strip():
        raise ParameterError("input is empty: give a matrix, a .npy or an image", parameter="input")
    if text.lstrip().startswith("["):
        try:
            return nested_matrix(read_matrix(text, "input")[0])
        except KernelError as error:  # the matrix is the input's, not a kernel
            raise ParameterError(str(error), parameter="input") from None
    if is_zarr_store(Path(text)):  # read in tiles, by apply alone
        why = "explain reads a matrix, a .npy or an image, not a Zarr array"
        message = Message("{input} {name}: {why}", name=text, why=why)
        raise ParameterError(message, parameter="input")
    try:
        picture = read_image(Path(text), text)  # within the default --max-pixels
    except InputError as error:  # here the file is an option's value: a usage error
        raise ParameterError(Message("{input} {why}", why=error.said), parameter="input") from None
    if channels and not gray:  # a layer's filters take RGB: a CMYK photo's inks are made RGB
        return as_rgb(picture)[0].pixels if picture.header.is_cmyk else picture.pixels
    grey = luminance(picture, np.float64)  # a grey image's own samples: not copied
    return grey[..., np.newaxis] if channels and grey.ndim == 2 else grey
