"""Parametric kernel families: ``box:5``, ``gaussian:sigma=2,size=9``, ``disk:r=4``, ``log``."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

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
    side: Callable[..., int]  # the side length, from the parameters
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
            side = _check_size(self.side(**values))
        except KernelError as error:
            raise KernelError(f"{self.name}: {error}") from None
        given = ",".join(f"{k}={v:g}" for k, v in values.items() if v is not None)
        shape_parameters = tuple((k, v) for k, v in values.items() if k != "size" and v is not None)
        return Kernel(
            name=f"{self.name}:{given}" if text else self.name,
            shape=(side, side),
            weights=functools.partial(_matrix, self.name, side, shape_parameters),
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


def _check_size(side: int) -> int:
    # Checked from the numbers before anything is built: gaussian:sigma=1e6 must not
    # eat the memory.
    if side > MAX_SIZE:
        raise KernelError(f"the kernel would be {side} wide; the largest allowed is {MAX_SIZE}")
    return side


def _auto_size(sigma: float, size: float | None) -> int:
    # Cover +-3 sigma, odd so that the kernel has a centre.
    return int(size) if size is not None else 2 * math.ceil(3 * sigma) + 1


def _box_side(size: float) -> int:
    return int(size)


def _gaussian_side(sigma: float, size: float | None) -> int:
    return _auto_size(sigma, size)


def _disk_side(r: float) -> int:
    return 2 * math.floor(r) + 1


def _matrix(family: str, side: int, parameters: tuple[tuple[str, float], ...]) -> Matrix:
    from convcli.family_matrices import build  # NumPy: only when a matrix is needed

    return build(family, side, **dict(parameters))


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
            "clip",
            ("blur",),
        ),
        Family("gaussian", "Gaussian blur", (_SIGMA, _SIZE), _gaussian_side, "clip", ("blur",)),
        Family(
            "disk",
            "Mean over a disk of radius r (blur; also a matched filter for round spots)",
            (Parameter("r", float, 2.0, 0.0, "radius, in pixels"),),
            _disk_side,
            "clip",
            ("blur", "shape"),
        ),
        Family(
            "log",
            "Laplacian of Gaussian: blobs and edges at the scale sigma (zero-sum)",
            (_SIGMA, _SIZE),
            _gaussian_side,
            "abs",
            ("edge", "blob"),
        ),
    )
}
