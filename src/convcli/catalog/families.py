"""Parametric kernel families: ``box:5``, ``gaussian:sigma=2,size=9``, ``disk:r=4``, ``log``.

A family kernel knows its shape from the parameters alone; its matrix is
built with NumPy on first use, so listing kernels needs no NumPy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from convcli.catalog.kernel import Kernel, Matrix
from convcli.choices import Range
from convcli.errors import KernelError

MAX_SIZE = 1001  # a side longer than this is almost surely a typo


@dataclass(frozen=True)
class Parameter:
    """One parameter of a family: its name, type, default and lower bound."""

    name: str
    kind: type[int] | type[float]
    default: float | None  # None: derived from the others ("auto")
    minimum: float
    help: str

    def parse(self, family: str, text: str) -> float:
        """Read a value from its text, checking type and bound."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if self.kind is int:
            valid, wanted = (
                value is not None and value >= self.minimum,
                f"an integer >= {self.minimum:g}",
            )
        else:
            valid = value is not None and math.isfinite(value) and value > self.minimum
            wanted = f"a number > {self.minimum:g}"
        if not valid:
            raise KernelError(f"{family}: {self.name} must be {wanted}, got {text!r}")
        return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Family:
    """A kernel family: builds a matrix from parameters."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    side: Callable[..., int]  # the side length, from the parameters
    build: Callable[..., Matrix]  # the matrix, from the side and the other parameters
    range: Range
    tags: tuple[str, ...]

    @property
    def signature(self) -> str:
        """The parameters with their defaults, as the user writes them."""
        return ",".join(f"{p.name}={'auto' if p.default is None else f'{p.default:g}'}"
                        for p in self.parameters)  # fmt: skip

    def kernel(self, text: str = "") -> Kernel:
        """Build the kernel named ``family:text`` (``text`` empty for the defaults)."""
        values = self._parse(text)
        try:
            side = _check_size(self.side(**values))
        except KernelError as error:
            raise KernelError(f"{self.name}: {error}") from None
        given = ",".join(f"{k}={v:g}" for k, v in values.items() if v is not None)
        shape_parameters = {k: v for k, v in values.items() if k != "size" and v is not None}
        return Kernel(
            name=f"{self.name}:{given}" if text else self.name,
            shape=(side, side),
            weights=functools.partial(self.build, side, **shape_parameters),
            description=self.description,
            range=self.range,
            tags=self.tags,
            source="built-in family",
            parameters=tuple(values.items()),
        )

    def _parse(self, text: str) -> dict[str, float | None]:
        values: dict[str, float | None] = {p.name: p.default for p in self.parameters}
        by_name = {p.name: p for p in self.parameters}
        for position, item in enumerate(filter(None, text.split(","))):
            key, sep, raw = item.partition("=")
            if not sep:  # a bare value is the first parameter: box:5, gaussian:2
                if position:
                    raise KernelError(f"{self.name}: write '{item}' as NAME={item}")
                key, raw = self.parameters[0].name, item
            key = key.strip()
            if key not in by_name:
                raise KernelError(
                    f"{self.name}: unknown parameter {key!r} (it takes {self.signature})"
                )
            values[key] = by_name[key].parse(self.name, raw.strip())
        return values


def _check_size(side: int) -> int:
    # Checked from the numbers before anything is built: gaussian:sigma=1e6 must not
    # eat the memory.
    if side > MAX_SIZE:
        raise KernelError(f"the kernel would be {side} wide; the largest allowed is {MAX_SIZE}")
    return side


def _box_side(size: float) -> int:
    return int(size)


def _gaussian_side(sigma: float, size: float | None) -> int:
    # Cover +-3 sigma, odd so that the kernel has a centre.
    return int(size) if size is not None else 2 * math.ceil(3 * sigma) + 1


def _disk_side(r: float) -> int:
    return 2 * math.floor(r) + 1


# The matrices, from the side and the other parameters; NumPy is loaded when one is built.


def _centred(size: int) -> tuple[Matrix, Matrix]:
    import numpy as np

    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    return rows, cols


def _box_matrix(side: int) -> Matrix:
    import numpy as np

    return np.full((side, side), 1.0 / (side * side))


def _gaussian_matrix(side: int, sigma: float) -> Matrix:
    import numpy as np

    rows, cols = _centred(side)
    weights = np.exp(-(rows**2 + cols**2) / (2 * sigma**2))
    return weights / weights.sum()  # type: ignore[no-any-return]


def _disk_matrix(side: int, r: float) -> Matrix:
    import numpy as np

    rows, cols = _centred(side)
    inside = (rows**2 + cols**2 <= r * r).astype(np.float64)
    return inside / inside.sum()  # type: ignore[no-any-return]


def _log_matrix(side: int, sigma: float) -> Matrix:
    # Zero-sum, so that flat regions give 0.
    import numpy as np

    rows, cols = _centred(side)
    q = (rows**2 + cols**2) / (2 * sigma**2)
    weights = -(1 - q) * np.exp(-q) / (math.pi * sigma**4)
    return weights - weights.mean()  # type: ignore[no-any-return]


_SIGMA = Parameter("sigma", float, 1.0, 0.0, "standard deviation, in pixels")
_SIZE = Parameter("size", int, None, 1, "side length; auto covers +-3 sigma")

FAMILIES = {
    family.name: family
    for family in (
        Family(
            "box",
            "Mean of a size x size square (blur)",
            (Parameter("size", int, 3, 1, "side length"),),
            _box_side,
            _box_matrix,
            Range.CLIP,
            ("blur",),
        ),
        Family(
            "gaussian",
            "Gaussian blur",
            (_SIGMA, _SIZE),
            _gaussian_side,
            _gaussian_matrix,
            Range.CLIP,
            ("blur",),
        ),
        Family(
            "disk",
            "Mean over a disk of radius r (blur; also a matched filter for round spots)",
            (Parameter("r", float, 2.0, 0.0, "radius, in pixels"),),
            _disk_side,
            _disk_matrix,
            Range.CLIP,
            ("blur", "shape"),
        ),
        Family(
            "log",
            "Laplacian of Gaussian: blobs and edges at the scale sigma (zero-sum)",
            (_SIGMA, _SIZE),
            _gaussian_side,
            _log_matrix,
            Range.ABS,
            ("edge", "blob"),
        ),
    )
}
