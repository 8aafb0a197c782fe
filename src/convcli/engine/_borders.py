"""Border modes: what lies beyond the edge of the input.

convcli has one set of names (:class:`convcli.choices.PadMode`); this module is
the one place where they are translated, to :func:`numpy.pad`'s.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from convcli.choices import PAD_MODE_ALIASES, PadMode, choose
from convcli.errors import ParameterError

# convcli name -> numpy.pad mode.  Each repeats periodically when the padding
# is wider than the input, exactly as numpy.pad does.
NUMPY_MODES = {
    PadMode.ZERO: "constant",  # pad_value everywhere outside
    PadMode.REFLECT: "reflect",  # d c b | a b c d | c b a   (edge not repeated)
    PadMode.SYMMETRIC: "symmetric",  # c b a | a b c d | d c b   (edge repeated)
    PadMode.REPLICATE: "edge",  # a a a | a b c d | d d d
    PadMode.WRAP: "wrap",  # b c d | a b c d | a b c
}


def canonical_pad_mode(name: str) -> PadMode:
    """Return the convcli name of a border mode, resolving aliases.

    Parameters
    ----------
    name : str
        A mode name (``zero``, ``reflect``, ``symmetric``, ``replicate``,
        ``wrap``) or an alias (``constant``, ``edge``, ``circular``).

    Returns
    -------
    PadMode
        The canonical name.

    Raises
    ------
    ParameterError
        If the name is not a known mode.

    Examples
    --------
    >>> canonical_pad_mode("edge")
    <PadMode.REPLICATE: 'replicate'>
    """
    return choose(PadMode, name, "pad_mode", PAD_MODE_ALIASES)


def check_pad_value(value: float, dtype: np.dtype[np.floating]) -> float:
    """Return ``value`` as a float if it is a finite number that ``dtype`` can hold.

    Examples
    --------
    >>> check_pad_value(128, np.dtype(np.float32))
    128.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ParameterError(f"pad_value must be a number, got {value!r}", parameter="pad_value")
    number = float(value)
    if not math.isfinite(number) or abs(number) > float(np.finfo(dtype).max):
        raise ParameterError(
            f"pad_value must be finite in {dtype.name}, got {value!r}", parameter="pad_value"
        )
    return number


def pad(
    x: npt.NDArray[np.floating],
    padding: tuple[tuple[int, int], ...],
    mode: PadMode | str,
    value: float = 0.0,
) -> npt.NDArray[np.floating]:
    """Pad the leading (spatial) axes of ``x``; trailing channel axes are untouched.

    Parameters
    ----------
    x : ndarray, shape (N0, ..., Nd-1[, C...])
        The input.
    padding : tuple of (int, int)
        ``(before, after)`` per spatial axis.
    mode : str
        A canonical border mode (see :func:`canonical_pad_mode`).
    value : float
        The fill of ``zero`` mode.

    Returns
    -------
    ndarray, shape (N0 + before0 + after0, ...[, C...])
        ``x`` itself when there is no padding, else a padded copy.

    Examples
    --------
    >>> pad(np.array([1.0, 2.0, 3.0]), ((2, 2),), "reflect")
    array([3., 2., 1., 2., 3., 2., 1.])
    """
    if not any(before or after for before, after in padding):
        return x
    widths = list(padding) + [(0, 0)] * (x.ndim - len(padding))
    if mode == "zero":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=NUMPY_MODES[PadMode(mode)])  # type: ignore[call-overload,no-any-return]


def source_index(
    positions: npt.NDArray[np.intp], n: int, before: int, mode: str
) -> npt.NDArray[np.intp]:
    """Which input index each padded position along one axis reads (-1: the ``zero`` fill).

    The same periodic extension as :func:`pad`, computed for any positions
    without building the padded axis: a padding of a billion costs nothing here.

    Examples
    --------
    >>> source_index(np.arange(7), 3, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 1, 0]
    >>> source_index(np.arange(7), 3, 2, "zero").tolist()
    [-1, -1, 0, 1, 2, -1, -1]
    """
    i = np.asarray(positions, dtype=np.intp) - before
    if mode == "zero":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    period = 2 * n if mode == "symmetric" else 2 * n - 2  # reflect does not repeat the edge
    if period == 0:  # reflect of a single sample
        return np.zeros_like(i)
    folded = i % period
    mirrored = period - folded - (1 if mode == "symmetric" else 0)
    return np.where(folded < n, folded, mirrored)
