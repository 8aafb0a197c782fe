"""Parametric kernel families: ``box:5``, ``gaussian:sigma=2,size=9``, ``disk:r=4``, ``log``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convcli.errors import KernelError
from convcli.kernel import Kernel, Matrix

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
    build: Callable[..., Matrix]
    range: str
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
            matrix = self.build(**values)
        except KernelError as error:
            raise KernelError(f"{self.name}: {error}") from None
        given = ",".join(f"{k}={v:g}" for k, v in values.items() if v is not None)
        return Kernel(
            name=f"{self.name}:{given}" if text else self.name,
            matrix=matrix,
            description=self.description,
            range=self.range,
            tags=self.tags,
            source="built-in family",
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


def _check_size(size: int) -> int:
    # Checked before anything is allocated: gaussian:sigma=1e6 must not eat the memory.
    if size > MAX_SIZE:
        raise KernelError(f"the kernel would be {size} wide; the largest allowed is {MAX_SIZE}")
    return size


def _centred(size: int) -> tuple[Matrix, Matrix]:
    _check_size(size)
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(offsets, offsets, indexing="ij")


def _auto_size(sigma: float, size: float | None) -> int:
    # Cover +-3 sigma, odd so that the kernel has a centre.
    return int(size) if size is not None else 2 * math.ceil(3 * sigma) + 1


def box(size: float) -> Matrix:
    """Build a ``size`` x ``size`` mean filter."""
    n = _check_size(int(size))
    return np.full((n, n), 1.0 / (n * n))


def gaussian(sigma: float, size: float | None) -> Matrix:
    """Build a normalised, sampled 2-D Gaussian."""
    rows, cols = _centred(_auto_size(sigma, size))
    weights = np.exp(-(rows**2 + cols**2) / (2 * sigma**2))
    return weights / weights.sum()  # type: ignore[no-any-return]


def disk(r: float) -> Matrix:
    """Build a normalised flat disk: every pixel within ``r`` of the centre."""
    rows, cols = _centred(2 * math.floor(r) + 1)
    inside = (rows**2 + cols**2 <= r * r).astype(np.float64)
    return inside / inside.sum()  # type: ignore[no-any-return]


def laplacian_of_gaussian(sigma: float, size: float | None) -> Matrix:
    """Build the Laplacian of a Gaussian, zero-sum so that flat regions give 0."""
    rows, cols = _centred(_auto_size(sigma, size))
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
            box,
            "clip",
            ("blur",),
        ),
        Family("gaussian", "Gaussian blur", (_SIGMA, _SIZE), gaussian, "clip", ("blur",)),
        Family(
            "disk",
            "Mean over a disk of radius r (blur; also a matched filter for round spots)",
            (Parameter("r", float, 2.0, 0.0, "radius, in pixels"),),
            disk,
            "clip",
            ("blur", "shape"),
        ),
        Family(
            "log",
            "Laplacian of Gaussian: blobs and edges at the scale sigma (zero-sum)",
            (_SIGMA, _SIZE),
            laplacian_of_gaussian,
            "abs",
            ("edge", "blob"),
        ),
    )
}
