"""The settings ``convcli.apply`` and ``convcli.batch`` take, checked as the run's.

The command line reads its options' text, then passes the values to
``convcli.batch``: both are checked by these functions. Apart from ``apply``,
so that ``convcli apply`` loads neither the one-input ``apply`` nor ``Image``.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from convcli.catalog.kernel import Kernel, Step
from convcli.catalog.lookup import KERNEL_PATH_VARIABLE
from convcli.catalog.steps import load_stage
from convcli.choices import PAD_MODE_ALIASES, Colormap, Method, PadMode, Range, choose, suggestion
from convcli.errors import ParameterError
from convcli.limits import COMPRESS_LEVELS, MAX_FRAMES, QUALITIES
from convcli.run.model import Settings

Kernels: TypeAlias = "str | Kernel | Step | Sequence[str | Kernel | Step]"
Biases: TypeAlias = "str | npt.ArrayLike | Sequence[str | npt.ArrayLike] | None"
Padding: TypeAlias = "str | int | Sequence[int]"
Ints: TypeAlias = "int | Sequence[int]"


def checked_settings(
    kernels: Kernels,
    *,
    bias: Biases = None,
    padding: Padding = "same",
    pad_mode: str = "reflect",
    pad_value: float = 0.0,
    stride: Ints = 1,
    dilation: Ints = 1,
    flip: bool = False,
    gray: bool = False,
    range: str | None = None,
    colormap: str | None = None,
    method: str = "auto",
    frame: int | None = None,
    format: str | None = None,
    quality: int | None = None,
    compress_level: int | None = None,
    strip: bool = False,
) -> Settings:
    """Check the settings of ``convcli.apply``, ``convcli.batch`` and ``convcli apply``."""
    check_between("frame", frame, (0, MAX_FRAMES - 1))
    check_between("quality", quality, QUALITIES)
    check_between("compress_level", compress_level, COMPRESS_LEVELS)
    return Settings(
        kernels=_with_biases(_kernels(kernels), bias),
        padding=padding if isinstance(padding, str) else _ints("padding", padding, least=0),
        pad_mode=choose(PadMode, pad_mode, "pad_mode", PAD_MODE_ALIASES),
        pad_value=_number("pad_value", pad_value),
        stride=_ints("stride", stride),
        dilation=_ints("dilation", dilation),
        flip=bool(flip),
        gray=bool(gray) or colormap is not None,
        range=None if range is None else choose(Range, range, "range"),
        method=choose(Method, method, "method"),
        colormap=None if colormap is None else choose(Colormap, colormap, "colormap"),
        format=format,
        compress_level=compress_level,
        quality=quality,
        strip=bool(strip),
        frame=frame,
    )


def known_settings(caller: str, settings: Mapping[str, object]) -> None:
    """Refuse a keyword that is no setting as Python would, naming ``caller``, with a guess."""
    names = list(checked_settings.__kwdefaults__ or {})
    for name in settings:
        if name not in names:
            hint = suggestion(name, names)
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}"
                            + (f": {hint}" if hint else ""))  # fmt: skip


def kernel_notes(kernels: Sequence[Kernel]) -> list[str]:
    """Say which kernels in the user's folders replace built-in ones, once each."""
    return [
        f"kernel {k.name!r} is the one in {k.source} "
        f"({KERNEL_PATH_VARIABLE} comes before the built-in kernels)"
        for k in {k.name: k for k in kernels if k.shadows_builtin}.values()
    ]


def check_between(name: str, value: int | None, bounds: tuple[int, int]) -> None:
    """Refuse an integer ``value`` outside ``bounds`` (both included), naming the parameter."""
    low, high = bounds
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not low <= value <= high):  # fmt: skip
        raise ParameterError(f"{name} must be {low:,} to {high:,}, got {value!r}", parameter=name)


def _kernels(kernels: Kernels) -> tuple[Kernel | Step, ...]:
    if not isinstance(kernels, str | Kernel | Step | Iterable):
        raise ParameterError(f"kernels must be a kernel spec, a Kernel or a list of them, got "
                             f"{type(kernels).__name__}", parameter="kernels")  # fmt: skip
    listed = [kernels] if isinstance(kernels, str | Kernel | Step) else list(kernels)
    if not listed:
        raise ParameterError("kernels must name at least one kernel", parameter="kernels")
    return tuple(k if isinstance(k, Kernel | Step) else load_stage(_spec(k)) for k in listed)


def _with_biases(kernels: tuple[Kernel | Step, ...], bias: Biases) -> tuple[Kernel | Step, ...]:
    """Give each bias (``--bias``: a spec, or numbers) to its layer kernel, in order."""
    if bias is None:
        return kernels
    from convcli.catalog.weights import read_bias, with_biases  # reads weights files

    one = isinstance(bias, str) or _numeric(bias)
    listed = [bias] if one else list(typing.cast("Iterable[object]", bias))
    biases = [(item, read_bias(item)) if isinstance(item, str) else ("bias", _numbers(item))
              for item in listed]  # fmt: skip
    return with_biases(kernels, biases)


def _numeric(values: object) -> bool:
    """Whether ``values`` is one bias's numbers (not a list of biases)."""
    items = values if isinstance(values, Sequence | np.ndarray) else ()
    return len(items) > 0 and all(isinstance(v, int | float | np.number) for v in items)


def _numbers(values: object) -> tuple[float, ...]:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "fiu" or not np.isfinite(array).all():
        raise ParameterError("bias must be finite numbers, one per filter", parameter="bias")
    return tuple(float(v) for v in array)


def _spec(spec: object) -> str:
    if not isinstance(spec, str):
        raise ParameterError(f"kernels must be kernel specs or Kernels, got {type(spec).__name__}",
                             parameter="kernels")  # fmt: skip
    return spec


def _ints(name: str, value: object, least: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of integers, each at least ``least``."""
    values = (value,) if isinstance(value, int | np.integer) else value
    if (not isinstance(values, Sequence) or not values
            or any(isinstance(v, bool) or not isinstance(v, int | np.integer) or v < least
                   for v in values)):  # fmt: skip
        raise ParameterError(f"{name} must be an integer >= {least} or a tuple of them, "
                             f"got {value!r}", parameter=name)  # fmt: skip
    return tuple(int(v) for v in values)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ParameterError(f"{name} must be a number, got {value!r}", parameter=name)
    return float(value)
