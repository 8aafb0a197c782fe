"""What a kernel is: a named matrix, or a combination of matrices, and how to show its result."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from convcli.choices import Activation, Pool, Range, choose
from convcli.errors import KernelError, ParameterError

if TYPE_CHECKING:  # NumPy is loaded only when a matrix is built: `kernels list` needs none
    import numpy as np
    import numpy.typing as npt

Matrix: TypeAlias = "npt.NDArray[np.float64]"

MAGNITUDE, MAXIMUM = "magnitude", "max"  # how a kernel file's components may combine
COMBINES = (MAGNITUDE, MAXIMUM)
# A set's combination of its own: Frei and Chen's edge share, of their nine masks' responses,
# the first four (the edge masks) over all nine (see convcli.catalog.sets).
FREI_CHEN = "frei-chen"
FREI_CHEN_EDGES = 4
MAX_DIMS = 3
LAYER_DIMS = 4  # a layer's weights: (C_out, C_in/groups, kh, kw), PyTorch's layout
LEAKY_SLOPE = 0.01  # leaky-relu's slope unless given, as PyTorch's
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True, eq=False)
class Kernel:
    """A kernel ready to apply: what ``convcli.kernel(spec)`` returns.

    Its :attr:`matrix` (float64), :attr:`separable`, :attr:`rank` and
    :attr:`total` (the sum) are worked out on first use; :meth:`record` is
    the object ``convcli kernels show --json`` prints.

    Attributes
    ----------
    name : str
        How the user names it: ``sobel-x``, ``gaussian:sigma=2``, ``inline``.
    shape : tuple of int
        Shape of the matrix (of every component, for a combined kernel).
    weights : callable or None
        Builds the matrix (after ``scale``) on first use of :attr:`matrix`;
        None for a combined kernel. Checking happens before, when the kernel
        is read, so listing kernels needs no NumPy.
    description, tags, source
        What it does, how it is grouped, and where it was defined.
    shadows_builtin : bool
        A user's kernel (``CONVCLI_KERNEL_PATH``) named like a built-in one,
        which it replaces.
    bias : float
        Added to the response.
    range : str or None
        The output mapping to use unless the user gives one.
    components : tuple of Kernel
        For a combined kernel: the kernels whose responses are combined.
    combine : str or None
        How components combine: ``magnitude`` (square root of the sum of squares),
        ``max`` (the largest response, as of a rotation set: ``sobel@``) or
        ``frei-chen`` (the square root of the first four's sum of squares over
        all nine's: the ``freichen`` set).
    parameters : tuple of (str, float or None), or None
        A family's kernel: each parameter and its value (None: worked out
        from the others, ``auto``); None for a kernel of no family.
    layer : bool
        A 3-D matrix ``(C_in, kh, kw)`` that is one filter of a layer on any
        input (TOML's ``layer = true``, or given a bias per filter). A 4-D
        matrix is always a layer, and a 3-D one on an image: see :meth:`sums_channels`.
    groups : int
        A layer's: its input channels and filters in this many equal groups,
        each filter summing over its own group's channels (PyTorch's ``groups``).
    filter_bias : tuple of float, or None
        A layer's: one number per filter, added to its feature map (the
        ``X.bias`` beside ``X.weight``, ``--bias``, TOML's ``bias = [...]``).

    Examples
    --------
    >>> import convcli
    >>> laplacian = convcli.kernel("laplacian")
    >>> laplacian
    Kernel('laplacian', shape=(3, 3), range='abs', source='built-in')
    >>> laplacian.total, laplacian.rank, laplacian.separable
    (0.0, 2, False)
    >>> laplacian.record()["matrix"]
    [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]
    """

    name: str
    shape: tuple[int, ...]
    weights: Callable[[], Matrix] | None
    description: str = ""
    bias: float = 0.0
    range: Range | None = None
    tags: tuple[str, ...] = ()
    source: str = "built-in"
    components: tuple[Kernel, ...] = ()
    combine: str | None = None
    shadows_builtin: bool = False
    parameters: tuple[tuple[str, float | None], ...] | None = None
    layer: bool = False
    groups: int = 1
    filter_bias: tuple[float, ...] | None = None

    def sums_channels(self, image: bool) -> bool:
        """Whether it is a layer on this input: sums over the channels, one map per filter.

        A 4-D kernel always; a 3-D one on an image (two spatial axes and the
        channels), or marked :attr:`layer`; on an ``.npy`` input an unmarked
        3-D kernel filters a volume, as any 3-D kernel does.
        """
        return len(self.shape) == LAYER_DIMS or (len(self.shape) == 3 and (image or self.layer))

    @property
    def filters(self) -> int:
        """A layer's feature maps (C_out): the first axis of 4-D weights, 1 for 3-D ones."""
        return self.shape[0] if len(self.shape) == LAYER_DIMS else 1

    @property
    def channels_in(self) -> int:
        """The input channels a layer takes (C_in): its weights' channel axis times its groups."""
        return self.shape[-3] * self.groups

    def __repr__(self) -> str:  # the matrix can be large, and is built only when asked for
        shown = repr(str(self.range)) if self.range is not None else None
        return f"Kernel({self.name!r}, shape={self.shape}, range={shown}, source={self.origin!r})"

    @functools.cached_property
    def matrix(self) -> Matrix | None:
        """The weights, float64, C-contiguous; None for a combined kernel."""
        if self.weights is None:
            return None
        import numpy as np  # a matrix is built: NumPy is loaded

        # Contiguous, not a view (a turned matrix is one): Dask names a tile's task by its
        # kernel's hash, and two views of one buffer can hash alike.
        return np.ascontiguousarray(self.weights())

    @property
    def matrices(self) -> tuple[Matrix, ...]:
        """The matrices to correlate with: one, or one per component."""
        if self.matrix is not None:
            return (self.matrix,)
        return tuple(part.matrix for part in self.components if part.matrix is not None)

    @property
    def origin(self) -> str:
        """Where it was defined, and whether it replaces a built-in kernel of its name."""
        return f"{self.source} (shadows the built-in)" if self.shadows_builtin else self.source

    @property
    def digest(self) -> str:
        """Eight hex digits that change with any weight (or component, or bias)."""
        import hashlib  # OpenSSL: only for a kernel that is not built in

        import numpy as np

        facts: tuple[object, ...] = (self.shape, self.bias)
        if (self.groups, self.filter_bias) != (1, None):  # a layer's; other digests stay as were
            facts += (self.groups, self.filter_bias)
        hashed = hashlib.sha1(repr(facts).encode(), usedforsecurity=False)
        for matrix in self.matrices:
            hashed.update(np.ascontiguousarray(matrix, dtype=np.float64).tobytes())
        return hashed.hexdigest()[:8]

    @property
    def total(self) -> float | None:
        """Sum of the weights (infinite past the largest float); None for a combined kernel.

        The exact sum, rounded once (``math.fsum``): ``sobel:30``'s weights
        (from cosines) add up to 0, where adding them in turn gave -2.2e-16.
        """
        if self.matrix is None:
            return None
        try:
            return math.fsum(self.matrix.ravel().tolist())
        except OverflowError:  # weights near 1e308 are finite; their sum may not be
            import numpy as np  # a matrix is built: NumPy is loaded

            with np.errstate(over="ignore"):
                return float(self.matrix.sum())

    @property
    def rank(self) -> int | None:
        """Matrix rank of a 1-D or 2-D kernel; None otherwise."""
        import numpy as np

        if self.matrix is None or self.matrix.ndim > 2:
            return None
        return int(np.linalg.matrix_rank(np.atleast_2d(self.matrix)))

    @property
    def separable(self) -> bool:
        """Whether the matrix is an outer product of 1-D vectors (one per axis)."""
        import numpy as np

        if self.matrix is None or not self.matrix.any():
            return False
        m = self.matrix
        return all(
            np.linalg.matrix_rank(np.moveaxis(m, axis, 0).reshape(m.shape[axis], -1)) == 1
            for axis in range(m.ndim)
        )

    def record(self) -> dict[str, Any]:
        """Return the ``kernels show --json`` record."""
        record: dict[str, Any] = {
            "name": self.name,
            "shape": list(self.shape),
            "matrix": None if self.matrix is None else self.matrix.tolist(),
            "sum": self.total,
            "rank": self.rank,
            "separable": self.separable,
            "range": self.range or Range.CLIP,
            "bias": self.bias,
            "description": self.description,
            "tags": list(self.tags),
            "source": self.origin,
        }
        if len(self.shape) == LAYER_DIMS or self.layer:
            record["groups"] = self.groups
            record["filter_bias"] = None if self.filter_bias is None else list(self.filter_bias)
        if self.components:
            record["combine"] = self.combine
            record["components"] = [part.record() for part in self.components]
        return record

    def to_json(self) -> str:
        """Return :meth:`record` as JSON: what ``convcli kernels show --json`` prints.

        Examples
        --------
        >>> import convcli
        >>> convcli.kernel("[1,0,-1]").to_json()[:48]
        '{"name": "inline", "shape": [3], "matrix": [1.0,'
        """
        from convcli.text import to_json  # JSON as convcli writes it everywhere

        return to_json(self.record())


@dataclass(frozen=True)
class Step:
    """A stage of a layer's pipeline that is no kernel: an activation or a pool.

    What ``-k relu``, ``-k leaky-relu:0.2``, ``-k maxpool:2`` or
    ``-k avgpool:3,2,1`` name; it runs the engine's function of the same
    name (:func:`convcli.engine.relu`, :func:`~convcli.engine.max_pool`...).
    A pool reduces each map's ``size`` x ``size`` windows, ``stride`` apart,
    after ``padding`` on every side, as PyTorch's ``max_pool2d`` and
    ``avg_pool2d`` (whose output side is ``floor((n + 2p - k) / s) + 1``).

    Examples
    --------
    >>> Step("maxpool:2", Pool.MAX, size=2, stride=2).pool
    True
    """

    name: str  # as reported, in the spec's words: relu, leaky-relu:0.2, maxpool:3,2,1
    kind: Activation | Pool
    slope: float = LEAKY_SLOPE  # leaky-relu's, for negative values
    size: int = 0  # a pool's window, size x size
    stride: int = 0  # a pool's step (its size unless given)
    padding: int = 0  # a pool's, on every side: at most half its window, as in PyTorch

    @property
    def pool(self) -> bool:
        """Whether it is a pool (it slides a window) rather than an activation (value by value)."""
        return isinstance(self.kind, Pool)


def nested_matrix(values: Any, multiply: float = 1.0, divide: float = 1.0) -> Matrix:
    """Build a float64 matrix from checked nested lists, times ``multiply``, over ``divide``."""
    import numpy as np

    matrix: Matrix = np.array(values, dtype=np.float64)
    if multiply != 1.0:
        matrix = matrix * multiply
    if divide != 1.0:
        matrix = matrix / divide
    return matrix


def flatten(values: Any) -> Iterator[float]:
    """Every number of checked nested lists, in order."""
    for item in values:
        if isinstance(item, list):
            yield from flatten(item)
        else:
            yield float(item)


def finite_number(text: str) -> float | None:
    """Return ``text`` as a finite float; None if it is no number, NaN or infinite."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_name(name: object, where: str) -> str:
    """Return ``name`` if it is a plain kernel name (letters, digits, ``-``, ``_``).

    Plain names keep a kernel name from ever being read as a path.

    Examples
    --------
    >>> check_name("sobel-x", "built-in")
    'sobel-x'
    """
    if isinstance(name, str) and PLAIN_NAME.fullmatch(name):
        return name
    raise KernelError(
        f"{where}: {name!r} is not a plain kernel name "
        "(letters, digits, '-' and '_', starting with a letter or digit)"
    )


def check_range(value: object, where: str) -> Range:
    """Return the output range mapping ``value`` names."""
    try:
        return choose(Range, value, "range")
    except ParameterError as error:
        raise KernelError(f"{where}: {error}") from None


def check_matrix(value: object, where: str, most: int = MAX_DIMS) -> tuple[int, ...]:
    """Check a nested list of finite numbers (1-D to ``most``-D) and return its shape.

    Parameters
    ----------
    value : object
        The nested lists, as TOML or JSON gives them.
    where : str
        Where it came from, to start every message with.
    most : int
        The most dimensions: 3, or a layer's 4.

    Returns
    -------
    tuple of int
        The shape, (K0[, K1[, K2]]).

    Raises
    ------
    KernelError
        Naming the row, column or value that is wrong.

    Examples
    --------
    >>> check_matrix([[1, 2], [3, 4]], "inline")
    (2, 2)
    >>> check_matrix([[1, 2], [3]], "inline")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: inline: matrix row 2 has 1 value, expected 2 like row 1
    """
    return _shape_of(value, where, (), most)


def _shape_of(value: object, where: str, index: tuple[int, ...], most: int) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise KernelError(f"{where}: matrix must be a list of numbers, got {_describe(value)}")
    if not value:
        place = f" {_label(index, len(index) + 1)}" if index else ""
        raise KernelError(f"{where}: matrix{place} is empty")
    if not all(isinstance(item, list) for item in value):
        for i, item in enumerate(value):
            _check_number(item, where, _label((*index, i), len(index) + 1))
        return (len(value),)
    if len(index) + 2 > most:
        raise KernelError(
            f"{where}: matrix has more than {most} levels of nesting; kernels are 1-D, 2-D or "
            f"3-D, a layer's (layer = true) 3-D or 4-D"
        )
    shapes = [_shape_of(item, where, (*index, i), most) for i, item in enumerate(value)]
    depth = len(index) + len(shapes[0]) + 1
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            this, first = _label((*index, i), depth), _label((*index, 0), depth)
            if len(shape) == len(shapes[0]) == 1:
                raise KernelError(
                    f"{where}: matrix {this} has {_count(shape[0])}, expected {shapes[0][0]} "
                    f"like {first}"
                )
            raise KernelError(f"{where}: matrix {this} has shape {shape}, but {first} {shapes[0]}")
    return (len(value), *shapes[0])


def _check_number(item: object, where: str, place: str) -> None:
    if isinstance(item, list):
        raise KernelError(f"{where}: matrix {place} is a list where a number was expected")
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise KernelError(f"{where}: matrix {place} is {_describe(item)}, not a number")
    try:
        finite = math.isfinite(float(item))
    except OverflowError:  # an int beyond float range: say so, do not print it
        raise KernelError(
            f"{where}: matrix {place} is an integer too large for a weight (beyond 1.8e308)"
        ) from None
    if not finite:
        raise KernelError(f"{where}: matrix {place} is {_short(item)}; weights must be finite")


def _label(index: tuple[int, ...], depth: int) -> str:
    """Name a position 1-based, as a person counts: 'row 2, column 3' in a 2-D matrix."""
    words = {1: ("value",), 2: ("row", "column"), 3: ("plane", "row", "column"),
             4: ("filter", "channel", "row", "column")}[depth]  # fmt: skip
    return ", ".join(f"{word} {i + 1}" for word, i in zip(words, index, strict=False))


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {_short(value)}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
