"""What a convolution computes, step by step: for ``convcli explain``.

The steps are worked out here from the definition (the window under the
kernel, multiplied cell by cell and summed); the output comes from the
engine. That they agree is what the tests check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.choices import PadMode
from convcli.engine import (
    Geometry,
    PaddingSpec,
    canonical_pad_mode,
    convolve,
    pad,
    resolve_geometry,
)
from convcli.errors import InputError, ParameterError, UsageError

Matrix = npt.NDArray[np.float64]
LARGEST_SIDE = 32  # an explanation of more cells than this per side is unreadable


@dataclass(frozen=True)
class Step:
    """One position of the sliding window."""

    output_index: tuple[int, ...]
    origin: tuple[int, ...]  # the padded-input index of the window's first cell
    window: Matrix  # the padded-input values under the kernel's taps
    sum: float


@dataclass(frozen=True)
class Explanation:
    """Everything ``convcli explain`` shows."""

    input: Matrix
    kernel: Matrix  # as applied: rotated 180 degrees with flip
    flip: bool
    geometry: Geometry
    pad_mode: str
    padded: Matrix  # the cells shown: the input with its padding (or, for a crop, its context)
    inside: npt.NDArray[np.bool_]  # True where a shown cell is an input (or crop) cell
    context: npt.NDArray[np.bool_]  # True where a shown cell is the image's, around a crop
    offset: tuple[int, ...]  # the image index of the first shown cell (negative in padding)
    steps: list[Step]
    output: Matrix

    @property
    def written(self) -> Matrix:
        """The kernel as the user wrote it (before any flip)."""
        return np.flip(self.kernel) if self.flip else self.kernel

    def record(self) -> dict[str, Any]:
        """Return the ``--json`` object."""
        g = self.geometry
        return {
            "input_shape": list(self.input.shape),
            "kernel": self.kernel.tolist(),
            "padding": [list(pair) for pair in g.padding],
            "pad_mode": self.pad_mode,
            "stride": list(g.stride),
            "dilation": list(g.dilation),
            "output_shape": list(g.output_shape),
            "formula": [g.formula(axis, textbook=True) for axis in range(g.spatial_ndim)],
            "steps": [
                {"output_index": list(s.output_index), "window": s.window.tolist(), "sum": s.sum}
                for s in self.steps
            ],
            "output": self.output.tolist(),
        }


def explain(
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
) -> Explanation:
    """Work out a small convolution step by step (1-D or 2-D, no channels).

    Examples
    --------
    >>> e = explain([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, -1.0], padding="valid")
    >>> [(s.output_index, s.window.tolist(), s.sum) for s in e.steps]
    [((0,), [1.0, 2.0, 3.0], -2.0), ((1,), [2.0, 3.0, 4.0], -2.0)]
    """
    signal = np.asarray(x, dtype=np.float64)
    weights = np.asarray(kernel, dtype=np.float64)
    if weights.ndim not in (1, 2) or signal.ndim != weights.ndim:
        raise UsageError(
            f"explain shows a 1-D or 2-D kernel over an input of as many axes; got a "
            f"{weights.ndim}-D kernel and a {signal.ndim}-D input"
        )
    if max(signal.shape) > LARGEST_SIDE:
        raise UsageError(
            f"the input is {'x'.join(map(str, signal.shape))}; explain shows at most "
            f"{LARGEST_SIDE} per side: choose a part with --crop ROW,COL,HEIGHT,WIDTH"
        )
    if max(weights.shape) > LARGEST_SIDE:
        raise UsageError(
            f"the kernel is {'x'.join(map(str, weights.shape))}; explain shows at most "
            f"{LARGEST_SIDE} per side"
        )
    mode = canonical_pad_mode(pad_mode)
    geometry = resolve_geometry(
        signal.shape, weights.shape, padding=padding, stride=stride, dilation=dilation
    )
    padded_sides = [n + sum(pair) for n, pair in zip(signal.shape, geometry.padding, strict=True)]
    if max(padded_sides) > 2 * LARGEST_SIDE:
        raise UsageError(
            f"the padded input would be {'x'.join(map(str, padded_sides))}; explain shows "
            f"at most {2 * LARGEST_SIDE} per side: use less padding"
        )
    output = np.asarray(convolve(
        signal, weights, padding=geometry.padding, pad_mode=mode, pad_value=pad_value,
        stride=geometry.stride, dilation=geometry.dilation, flip=flip, dtype=np.float64,
    ), dtype=np.float64)  # fmt: skip
    applied = np.flip(weights) if flip else weights
    padded = np.asarray(pad(signal, geometry.padding, mode, pad_value), dtype=np.float64)
    inside = pad(np.ones(signal.shape), geometry.padding, PadMode.ZERO, 0.0) > 0
    offset = tuple(-before for before, _ in geometry.padding)
    return Explanation(
        signal, applied, flip, geometry, mode, padded, inside, np.zeros_like(inside), offset,
        _steps(padded, applied, geometry, steps), output,
    )  # fmt: skip


def _steps(padded: Matrix, kernel: Matrix, g: Geometry, count: int) -> list[Step]:
    """Work out the first ``count`` window positions, in reading order, from the definition."""
    found = []
    for index in itertools.islice(np.ndindex(*g.output_shape), max(count, 0)):
        origin = tuple(i * s for i, s in zip(index, g.stride, strict=True))
        window = padded[taps(origin, g)]
        found.append(Step(index, origin, window, float((window * kernel).sum())))
    return found


def taps(origin: tuple[int, ...], g: Geometry) -> tuple[slice, ...]:
    """Select the padded-input cells under the kernel's taps, for a window at ``origin``."""
    return tuple(
        slice(o, o + d * (k - 1) + 1, d)
        for o, k, d in zip(origin, g.kernel_shape, g.dilation, strict=True)
    )


def ramp(ndim: int) -> Matrix:
    """Return the default input: 1 to 7 for a 1-D kernel, 1 to 25 in a 5 x 5 square for 2-D.

    Examples
    --------
    >>> ramp(1).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """
    return np.arange(1.0, 8.0) if ndim == 1 else np.arange(1.0, 26.0).reshape(5, 5)


def read_input(text: str | None, crop: tuple[int, ...] | None, ndim: int) -> Matrix:
    """Read the matrix to explain: inline JSON, a ``.npy``, or an image (as luminance), cropped.

    ``crop`` is ``(row, col, height, width)`` for 2-D, ``(start, length)`` for 1-D.

    Examples
    --------
    >>> read_input("[[1, 2, 3], [4, 5, 6]]", (0, 1, 2, 2), 2).tolist()
    [[2.0, 3.0], [5.0, 6.0]]
    """
    from pathlib import Path

    from convcli.io.images import luminance, read_image
    from convcli.kernels.catalog import read_matrix
    from convcli.kernels.kernel import nested_matrix

    if text is None:
        matrix = ramp(ndim)
    elif not text.strip():
        raise ParameterError("input is empty: give a matrix, a .npy or an image", parameter="input")
    elif text.lstrip().startswith("["):
        matrix = nested_matrix(read_matrix(text, "--input")[0])
    else:
        try:
            picture = read_image(Path(text), text)
        except InputError as error:  # here the file is an option's value: a usage error
            raise ParameterError(f"input {error}", parameter="input") from None
        matrix = np.asarray(luminance(picture, np.float64), dtype=np.float64)
    if crop is None:
        return matrix
    if len(crop) != 2 * matrix.ndim:
        forms = "START,LENGTH" if matrix.ndim == 1 else "ROW,COL,HEIGHT,WIDTH"
        raise ParameterError(
            f"crop takes {forms} for a {matrix.ndim}-D input, got {len(crop)} numbers",
            parameter="crop",
        )
    starts, sizes = crop[: matrix.ndim], crop[matrix.ndim :]
    for axis, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        if size < 1 or start + size > matrix.shape[axis]:
            raise ParameterError(
                f"crop reaches {start + size} along axis {axis}, past the input's "
                f"{matrix.shape[axis]} (or is empty)",
                parameter="crop",
            )
    return matrix[tuple(slice(a, a + n) for a, n in zip(starts, sizes, strict=True))]
