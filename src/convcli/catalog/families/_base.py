"""What a family is: typed parameters, a shape worked out from them, and a matrix built on use.

A family kernel knows its shape from the parameters alone; its matrix is
built with NumPy on first use, so listing kernels needs no NumPy. Angles are
in degrees, clockwise as seen on the screen (from +x towards +y, rows
growing downwards), as ImageMagick turns its kernels.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from convcli.catalog.kernel import Kernel, Matrix
from convcli.choices import Range
from convcli.errors import KernelError
from convcli.limits import MAX_KERNEL_SIZE

# ImageMagick's arguments: numbers apart by 'x' or ',', or signed ("Rectangle:3x5+0+0").
_IM_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_IM_ARGUMENTS = re.compile(rf"\s*{_IM_NUMBER}(?:\s*[x,]?\s*{_IM_NUMBER})*\s*")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a family: its name, type, default and lower bound."""

    name: str
    kind: type[int] | type[float]
    default: float | None  # None: derived from the others ("auto")
    minimum: float  # inclusive for an integer, exclusive for a number; -inf: any
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
            wanted = "a number" if self.minimum == -math.inf else f"a number > {self.minimum:g}"
        if not valid:
            raise KernelError(f"{family}: {self.name} must be {wanted}, got {text!r}")
        return value  # type: ignore[return-value]


SIGMA = Parameter("sigma", float, 1.0, 0.0, "standard deviation, in pixels")
SIZE = Parameter("size", int, None, 1, "side length; auto covers +-3 sigma")
ANGLE = Parameter("angle", float, 0.0, -math.inf, "degrees, clockwise from +x")


@dataclass(frozen=True)
class Family:
    """A kernel family: builds a matrix from parameters.

    ``shape`` works out the matrix's shape from the parameters (an int: a
    square side); ``build`` makes the matrix from that shape and the
    parameters other than ``size``. ``positional`` is how many parameters
    may be given by value alone, in order (``ring:2,3``); ``imagemagick``
    names ImageMagick's kernel of the same numbers, for the README's table.
    """

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    shape: Callable[..., int | tuple[int, ...]]
    build: Callable[..., Matrix]
    range: Range
    tags: tuple[str, ...]
    positional: int = 1
    imagemagick: str = ""

    @property
    def signature(self) -> str:
        """The parameters with their defaults, as the user writes them."""
        return ",".join(f"{p.name}={'auto' if p.default is None else f'{p.default:g}'}"
                        for p in self.parameters)  # fmt: skip

    @property
    def turning(self) -> str | None:
        """The parameter that turns the kernel (``angle``, Gabor's ``theta``), if it has one."""
        return next((p.name for p in self.parameters if p.name in ("angle", "theta")), None)

    def kernel(self, text: str = "") -> Kernel:
        """Build the kernel named ``family:text`` (``text`` empty for the defaults)."""
        return self.built(self.parse(text), named_in_full=bool(text))

    def turned(self, text: str, angles: list[float]) -> list[Kernel]:
        """Build ``family:text`` turned by each of ``angles`` (degrees clockwise), in full names."""
        values = self.parse(text)
        key = self.turning
        if key is None:
            raise KernelError(f"{self.name} has no angle to turn by")
        start = values[key] or 0.0
        return [self.built({**values, key: (start + a) % 360}, named_in_full=True) for a in angles]

    def given(self, values: dict[str, float | None]) -> str:
        """Write the parameters as a kernel's name does: ``sigma=2`` (an auto one left out)."""
        return ",".join(f"{k}={v:g}" for k, v in values.items() if v is not None)

    def built(self, values: dict[str, float | None], named_in_full: bool) -> Kernel:
        """Build the kernel of these parameter values; named ``family`` alone for the defaults."""
        try:
            shape = _check_size(self.shape(**values))
        except OverflowError:  # a side of infinity: sigma=1e308 trebled
            raise KernelError(f"{self.name}: {too_wide(math.inf)}") from None
        except KernelError as error:
            raise KernelError(f"{self.name}: {error}") from None
        given = self.given(values)
        shape_parameters = {k: v for k, v in values.items() if k != "size" and v is not None}
        return Kernel(
            name=f"{self.name}:{given}" if named_in_full else self.name,
            shape=shape,
            weights=functools.partial(self.build, shape, **shape_parameters),
            description=self.description,
            range=self.range,
            tags=self.tags,
            source="built-in family",
            parameters=tuple(values.items()),
        )

    def parse(self, text: str) -> dict[str, float | None]:
        """Read ``text`` (``k=v,...``, or values in order) into every parameter's value."""
        values: dict[str, float | None] = {p.name: p.default for p in self.parameters}
        by_name = {p.name: p for p in self.parameters}
        for position, item in enumerate(self._items(text)):
            key, sep, raw = item.partition("=")
            if not sep:  # a bare value is the next parameter: box:5, ring:2,3
                if position >= self.positional:
                    raise KernelError(f"{self.name}: write '{item}' as NAME={item}")
                key, raw = self.parameters[position].name, item
            key = key.strip()
            if key not in by_name:
                raise KernelError(
                    f"{self.name}: unknown parameter {key!r} (it takes {self.signature})"
                )
            values[key] = by_name[key].parse(self.name, raw.strip())
        return values

    def _items(self, text: str) -> list[str]:
        """Split ``a,b``, or ImageMagick's ``3x5+1+2`` for a family of several positional values."""
        if self.positional > 1 and "=" not in text and _IM_ARGUMENTS.fullmatch(text):
            return re.findall(_IM_NUMBER, text)
        return [item for item in text.split(",") if item]


def _check_size(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    # Checked from the numbers before anything is built: gaussian:sigma=1e6 must not
    # eat the memory.
    sides = (shape, shape) if isinstance(shape, int) else shape
    if max(sides) > MAX_KERNEL_SIZE:
        raise KernelError(too_wide(max(sides)))
    return sides


def too_wide(side: float) -> str:
    """Say that a kernel's side is over the limit, in a few digits however large it is."""
    width = "over 1e308" if math.isinf(side) else f"{side:.3g}" if side >= 1e9 else f"{side}"
    return f"the kernel would be {width} wide; the largest allowed is {MAX_KERNEL_SIZE}"


def radius_side(radius: float | None, default: int) -> int:
    """Return 2r + 1 for ImageMagick's radius argument; 0 or None (auto) takes ``default``."""
    return 2 * int(radius) + 1 if radius else 2 * default + 1


def sigma_side(sigma: float, size: float | None = None) -> int:
    """Return a side covering +-3 sigma, odd so that the kernel has a centre (or ``size``)."""
    return int(size) if size else 2 * math.ceil(3 * sigma) + 1


# The matrices, from the shape and the other parameters; NumPy is loaded when one is built.


def centred(shape: tuple[int, ...]) -> tuple[Matrix, Matrix]:
    """Return the row and column offsets of every cell from the kernel's centre."""
    import numpy as np

    rows, cols = (np.arange(n, dtype=np.float64) - (n - 1) / 2 for n in shape)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    return grid_rows, grid_cols


def normalized(weights: Matrix) -> Matrix:
    """Return the weights over their sum."""
    return weights / weights.sum()  # type: ignore[no-any-return]


def gaussian(shape: tuple[int, ...], sigma: float) -> Matrix:
    """Return the sampled Gaussian exp(-d^2 / 2 sigma^2), its sum 1."""
    import numpy as np

    rows, cols = centred(shape)
    return normalized(np.exp(-(rows**2 + cols**2) / (2 * sigma**2)))


def impulse(shape: tuple[int, ...]) -> Matrix:
    """Return the identity kernel of an odd shape: 1 at the centre."""
    import numpy as np

    matrix = np.zeros(shape)
    matrix[tuple(n // 2 for n in shape)] = 1.0
    return matrix


def direction(angle: float) -> tuple[float, float]:
    """Return (cos, sin) of ``angle`` degrees: exact at multiples of 45, turned exactly by 90."""
    quarters, rest = divmod(angle, 90.0)  # a quarter turn more swaps them exactly
    if rest == 45.0:
        cos = sin = math.sqrt(0.5)
    else:
        cos, sin = math.cos(math.radians(rest)), math.sin(math.radians(rest))
    for _ in range(int(quarters) % 4):
        cos, sin = -sin, cos
    return cos + 0.0, sin + 0.0  # no -0.0


def rotate(matrix: Matrix, angle: float) -> Matrix:
    """Turn a matrix clockwise by a multiple of 45 degrees, exactly, as ImageMagick does.

    A multiple of 90 turns any 2-D matrix; an odd multiple of 45 first
    moves a 3 x 3 matrix's ring of eight one place clockwise.

    Examples
    --------
    >>> import numpy as np
    >>> rotate(np.array([[1.0, 2.0], [3.0, 4.0]]), 90).tolist()
    [[3.0, 1.0], [4.0, 2.0]]
    """
    import numpy as np

    eighths = check_eighths(angle, matrix.shape)
    if eighths % 2:
        ring = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
        turned = matrix.copy()
        for here, before in zip(ring, ring[-1:] + ring[:-1], strict=True):
            turned[here] = matrix[before]
        matrix = turned
    return np.rot90(matrix, -(eighths // 2))


def steer(matrix: Matrix, angle: float) -> Matrix:
    """Turn a first-derivative kernel by any angle: cos A times it plus sin A times its 90° turn.

    A derivative along the direction A is cos A times the one along +x plus
    sin A times the one along +y (the kernel's quarter turn clockwise): its
    steerable form. At a multiple of 45 degrees the kernel turns exactly, as
    ImageMagick turns it (:func:`rotate`), so that its kernel strings paste.

    Examples
    --------
    >>> import numpy as np
    >>> steer(np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]), 90).tolist()
    [[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if angle % 45.0 == 0:
        return rotate(matrix, angle)
    cos, sin = direction(angle)
    return cos * matrix + sin * rotate(matrix, 90.0)


def check_eighths(angle: float, shape: tuple[int, ...]) -> int:
    """Return ``angle`` in eighths of a turn (0 to 7), refusing one a matrix cannot take exactly."""
    eighths, rest = divmod(angle, 45.0)
    if rest:
        raise KernelError(f"angle must be a multiple of 45 degrees for this kernel, got {angle:g}")
    if eighths % 2 and shape != (3, 3):
        raise KernelError(f"only a 3x3 kernel turns by 45 degrees; this one is {shape}")
    return int(eighths) % 8


def anchored(
    shape: tuple[int, int], origin: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Fit a matrix anchored at ``origin`` (row, column) into one convcli anchors there.

    convcli anchors a kernel at cell (k - 1) // 2 of each side: a matrix
    anchored elsewhere is set among zeros, which add nothing to a
    convolution. Returns the shape to fill and where the matrix's top-left
    cell goes in it.

    Examples
    --------
    >>> anchored((3, 3), (0, 0))
    ((5, 5), (2, 2))
    >>> anchored((2, 4), (0, 1))
    ((2, 4), (0, 0))
    """
    sides, corner = [], []
    for side, at in zip(shape, origin, strict=True):
        if at == (side - 1) // 2:
            sides.append(side)
            corner.append(0)
        else:
            reach = max(at, side - 1 - at)
            sides.append(2 * reach + 1)
            corner.append(reach - at)
    return (sides[0], sides[1]), (corner[0], corner[1])
