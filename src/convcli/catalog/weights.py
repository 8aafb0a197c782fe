"""A layer's weights from files: ``.npy``, ``.npz`` and ``.safetensors`` (a tensor by name).

A weights spec is ``FILE[:NAME][:groups=G]``: an ``.npy`` file's one
array; an ``.npz`` or ``.safetensors`` file's tensor ``NAME`` (without
a name, the file's only one, a tensor ``X.bias`` beside its ``X.weight``
aside). The bias beside the weights, ``X.bias`` for ``X.weight`` in the
same file, is the layer's. Weights are in PyTorch's layout: 4-D ``(C_out,
C_in/groups, kh, kw)``, or 3-D ``(C_in, kh, kw)`` for one filter; 1-D and
2-D arrays are plain kernels. Every tensor is checked from its header
(dimensions, type, size) before its values are read, and read without
pickle. ``--bias FILE[:NAME]`` reads a bias the same way
(:func:`read_bias`), or as a JSON list.
"""

from __future__ import annotations

import functools
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from convcli.catalog.kernel import LAYER_DIMS, Kernel, Step
from convcli.errors import KernelError, Message, ParameterError, reason
from convcli.limits import MAX_BIAS_BYTES, MAX_FILTERS, MAX_KERNEL_SIZE, MAX_WEIGHTS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_SPEC = re.compile(r"(?P<path>.+?\.(?:npy|npz|safetensors))(?::(?P<name>.*))?", re.IGNORECASE)
_GROUPS = re.compile(r"(?P<spec>.+):groups=(?P<groups>\d+)")
WEIGHT, BIAS = ".weight", ".bias"  # PyTorch's names of a layer's tensors: conv1.weight, conv1.bias
# safetensors' types that NumPy reads as real numbers; BF16 and FP8 have no NumPy type.
_SAFE_TYPES = ("F64", "F32", "F16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8")


def is_weights_spec(spec: str) -> bool:
    """Whether ``spec`` names a weights file (``.npy``, ``.npz``, ``.safetensors``)."""
    return _SPEC.fullmatch(_GROUPS.sub(r"\g<spec>", spec)) is not None


def weights_kernel(spec: str) -> Kernel:
    """Read the kernel a weights spec names, with the bias beside it.

    Raises
    ------
    KernelError
        One line naming the file, the tensor and what is wrong.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> np.savez(path, **{"conv1.weight": np.ones((4, 3, 3, 3)), "conv1.bias": np.arange(4.0)})
    >>> kernel = weights_kernel(f"{path}:conv1.weight")
    >>> kernel.name, kernel.shape, kernel.filter_bias, kernel.channels_in
    ('conv1.weight', (4, 3, 3, 3), (0.0, 1.0, 2.0, 3.0), 3)
    """
    groups = 1
    if found := _GROUPS.fullmatch(spec):
        spec, groups = found["spec"], int(found["groups"])
    match = _SPEC.fullmatch(spec)
    assert match is not None, "called for a weights spec"
    path, name = Path(match["path"]), match["name"]
    tensors = _open(path)
    chosen = _chosen(tensors, name, path)
    where = f"{path}:{chosen}" if tensors.named else str(path)
    weights = tensors.read(chosen, where, most=LAYER_DIMS)
    bias_name = chosen.removesuffix(WEIGHT) + BIAS if chosen.endswith(WEIGHT) else None
    bias = None
    if bias_name is not None and bias_name in tensors.names:
        where_bias = f"{path}:{bias_name}"
        values = tensors.read(bias_name, where_bias, most=1)
        bias = checked_bias(tuple(map(float, values)), weights.shape, where_bias)
    check_groups(groups, weights.shape, where)
    return Kernel(
        name=chosen if tensors.named else path.stem,
        shape=tuple(weights.shape),
        weights=functools.partial(_as_floats, weights),
        description=f"weights {'x'.join(map(str, weights.shape))} from {path.name}",
        source=str(path),
        layer=bias is not None or groups > 1,  # a bias per filter, or groups: a layer's
        groups=groups,
        filter_bias=bias,
    )


def read_bias(spec: str) -> tuple[float, ...]:
    """Read a bias: ``FILE[:NAME]`` (``.npy``, ``.npz``, ``.safetensors``, TOML) or a JSON list.

    Checked here to be a 1-D list of finite numbers; its length is checked
    against its layer's filters when it is given to one (:func:`checked_bias`).
    """
    text = spec.strip()
    if text.startswith("["):
        return _listed(_json_list(text), f"bias {text}")
    if match := re.fullmatch(r"(?P<path>.+?\.toml)(?::(?P<name>.*))?", text, re.IGNORECASE):
        return _toml_bias(Path(match["path"]), match["name"])
    match = _SPEC.fullmatch(text)
    if match is None:
        raise KernelError(
            f"bias {spec!r}: give an .npy, .npz, .safetensors or .toml file (FILE[:NAME]), "
            "or a list of numbers like [0.1,-0.2]"
        )
    path, name = Path(match["path"]), match["name"]
    tensors = _open(path)
    chosen = _chosen(tensors, name, path)
    values = tensors.read(chosen, f"{path}:{chosen}" if tensors.named else str(path), most=1)
    return tuple(float(value) for value in values.reshape(-1))


def with_biases(
    pipeline: tuple[Kernel | Step, ...], biases: list[tuple[str, tuple[float, ...]]]
) -> tuple[Kernel | Step, ...]:
    """Give the n-th bias to the n-th layer kernel (3-D or 4-D) of the pipeline (``--bias``).

    A bias given so replaces the one beside the weights; a 3-D kernel given
    one is a layer's filter on any input.

    Raises
    ------
    ParameterError
        More biases than layer kernels, or a bias of the wrong length.
    """
    layers = [i for i, item in enumerate(pipeline) if isinstance(item, Kernel)
              and len(item.shape) >= 3 and not item.components]  # fmt: skip
    if len(biases) > len(layers):
        raise ParameterError(
            Message("{bias} is given {given} times, but the pipeline has {layers} layer kernel"
                    "{s} (3-D or 4-D weights): the n-th {bias} goes to the n-th", given=len(biases),
                    layers=len(layers), s="s" * (len(layers) != 1)),
            parameter="bias",
        )  # fmt: skip
    given = list(pipeline)
    for index, (spec, numbers) in zip(layers, biases, strict=False):
        kernel = given[index]
        assert isinstance(kernel, Kernel)
        try:
            bias = checked_bias(numbers, kernel.shape, f"{spec} (for {kernel.name})")
        except KernelError as error:
            raise ParameterError(
                Message("{bias} {why}", why=str(error)), parameter="bias"
            ) from None
        given[index] = replace(kernel, filter_bias=bias, layer=True)
    return tuple(given)


def checked_bias(
    numbers: tuple[float, ...], weights: tuple[int, ...], where: str
) -> tuple[float, ...]:
    """Return a bias as floats if it holds one number per filter of ``weights``."""
    filters = weights[0] if len(weights) == LAYER_DIMS else 1
    if len(numbers) != filters:
        raise KernelError(
            f"{where}: a bias holds one number per filter: {filters} for weights "
            f"{'x'.join(map(str, weights))}, got {len(numbers)}"
        )
    return numbers


def check_groups(groups: int, shape: tuple[int, ...], where: str) -> None:
    """Refuse ``groups`` that do not divide a layer's filters, or on weights of no layer."""
    if groups < 1:
        raise KernelError(f"{where}: groups must be 1 or more, got {groups}")
    if groups == 1:
        return
    if len(shape) != LAYER_DIMS:
        raise KernelError(
            f"{where}: groups={groups} needs 4-D weights (C_out, C_in/groups, kh, kw), "
            f"got shape {'x'.join(map(str, shape))}"
        )
    if shape[0] % groups:
        raise KernelError(
            f"{where}: groups={groups} must divide the {shape[0]} filters (C_out) of the weights"
        )
    if shape[1] * groups > MAX_FILTERS:
        raise KernelError(f"{where}: groups={groups} makes {shape[1] * groups} input channels, "
                          f"over the limit of {MAX_FILTERS}")  # fmt: skip


@dataclass(frozen=True)
class _Tensors:
    """The tensors of one file: their names, and how to read one (its header checked first)."""

    names: list[str]
    named: bool  # tensors by name (.npz, .safetensors); an .npy holds one array
    reader: Callable[[str, str, int], npt.NDArray[np.generic]]  # (name, where, most dims)

    def read(self, name: str, where: str, most: int) -> npt.NDArray[np.generic]:
        """Read tensor ``name`` of 1 to ``most`` dimensions, checked before and after reading."""
        import zipfile  # their errors: a damaged .npz
        import zlib

        try:
            return self.reader(name, where, most)
        except OSError as error:
            raise KernelError(f"{where}: cannot read: {reason(error)}") from None
        except (EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise KernelError(f"{where}: cannot read: {error}") from None


def _open(path: Path) -> _Tensors:
    if path.exists() and not path.is_file():  # a pipe would block, a device never end
        raise KernelError(f"{path} is {'a folder' if path.is_dir() else 'not a regular file'}, "
                          "not a weights file")  # fmt: skip
    if not path.exists():
        raise KernelError(f"weights file not found: {path}")
    import zipfile  # only for an .npz: not at every start

    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return _Tensors([""], False, functools.partial(_read_npy, path))
        if suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = [n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy")]
            return _Tensors(names, True, functools.partial(_read_npz, path))
        return _safetensors(path)
    except KernelError:
        raise
    except zipfile.BadZipFile:
        raise KernelError(f"{path}: not an .npz file (not a zip archive)") from None
    except OSError as error:
        raise KernelError(f"{path}: cannot read: {reason(error)}") from None


def _chosen(tensors: _Tensors, name: str | None, path: Path) -> str:
    """Return the tensor named, or a file's only one (an ``X.bias`` beside ``X.weight`` aside)."""
    if not tensors.named:
        if name:
            raise KernelError(f"{path} holds one array; it takes no name (got {name!r})")
        return ""
    if name:
        if name not in tensors.names:
            raise KernelError(f"{path} has no tensor {name!r} (it holds {_listed_names(tensors)})")
        return name
    names = tensors.names
    main = [n for n in names if not (n.endswith(BIAS) and n.removesuffix(BIAS) + WEIGHT in names)]
    if len(main) == 1:
        return main[0]
    if not names:
        raise KernelError(f"{path} holds no tensor")
    raise KernelError(
        f"{path} holds {len(names)} tensors ({_listed_names(tensors)}); say which with {path}:NAME"
    )


def _listed_names(tensors: _Tensors, most: int = 20) -> str:
    """Name a file's tensors for a message: the first ``most`` of them."""
    names = tensors.names
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "") or "none"


def _read_npy(path: Path, name: str, where: str, most: int) -> npt.NDArray[np.generic]:
    with path.open("rb") as stream:
        _check_header(*_npy_header(stream, where), where, most)
    return _finite(_load_npy(path, where), where)


def _read_npz(path: Path, name: str, where: str, most: int) -> npt.NDArray[np.generic]:
    import zipfile

    with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as stream:
        _check_header(*_npy_header(stream, where), where, most)
        stream.seek(0)
        return _finite(_load_npy(stream, where), where)


def _npy_header(stream: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    import numpy as np

    try:
        version = np.lib.format.read_magic(stream)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)  # fmt: skip
        shape, _, dtype = reader(stream)
    except ValueError as error:
        raise KernelError(f"{where}: not an .npy array ({error})") from None
    return tuple(shape), dtype


def _load_npy(source: Path | IO[bytes], where: str) -> npt.NDArray[np.generic]:
    import numpy as np

    try:
        loaded: npt.NDArray[np.generic] = np.load(source, allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise KernelError(f"{where}: cannot read the array: {error}") from None
    return loaded


def _safetensors(path: Path) -> _Tensors:
    from safetensors import safe_open  # only for a .safetensors file

    try:
        with safe_open(path, framework="np") as tensors:
            names = list(tensors.keys())
    except Exception as error:
        raise KernelError(f"{path}: not a .safetensors file ({error})") from None
    return _Tensors(names, True, functools.partial(_read_safetensor, path))


def _read_safetensor(path: Path, name: str, where: str, most: int) -> npt.NDArray[np.generic]:
    import numpy as np
    from safetensors import safe_open

    with safe_open(path, framework="np") as tensors:
        part = tensors.get_slice(name)
        kind = str(part.get_dtype())
        if kind not in _SAFE_TYPES:
            raise KernelError(
                f"{where}: {kind} values, which NumPy cannot hold: save the weights as float32 "
                "(tensor.float())"
                if kind == "BF16"
                else f"{where}: {kind} values are not "
                "weights: they must be real numbers (float or integer)"
            )
        dtype = np.dtype(f"{kind[0].lower()}{int(kind[1:]) // 8}")  # F32 is NumPy's f4
        _check_header(tuple(part.get_shape()), dtype, where, most)
        return _finite(tensors.get_tensor(name), where)


def _check_header(shape: tuple[int, ...], dtype: np.dtype[Any], where: str, most: int) -> None:
    """Refuse, before reading the values, a tensor of the wrong dimensions, type or size."""
    shown = "x".join(map(str, shape)) or "a single number"
    if not 1 <= len(shape) <= most:
        wanted = (
            "a list of numbers (1-D), one per filter"
            if most == 1
            else "(C_out, C_in/groups, kh, kw) or (C_in, kh, kw), or a 1-D or 2-D kernel"
        )
        raise KernelError(f"{where}: {len(shape)}-D array of shape {shown}; expected {wanted}")
    if dtype.kind not in "fiu" or dtype.fields is not None:
        raise KernelError(
            f"{where}: values of type {dtype} are not weights: they must be real numbers "
            "(float or integer)"
        )
    if math.prod(shape) == 0:
        raise KernelError(f"{where}: the array of shape {shown} is empty")
    if math.prod(shape) > MAX_WEIGHTS:
        raise KernelError(
            f"{where}: {math.prod(shape):,} values (shape {shown}) is over the limit of "
            f"{MAX_WEIGHTS:,} weights"
        )
    if most > 1 and max(shape[-2:]) > MAX_KERNEL_SIZE:
        raise KernelError(f"{where}: a window of {shown} is over {MAX_KERNEL_SIZE} on a side")
    if most > 1 and len(shape) > 2 and max(shape[:-2]) > MAX_FILTERS:
        raise KernelError(f"{where}: shape {shown} has over {MAX_FILTERS} filters or channels")


def _finite(values: npt.NDArray[np.generic], where: str) -> npt.NDArray[np.generic]:
    import numpy as np

    bad = ~np.isfinite(values.astype(np.float64))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise KernelError(
            f"{where}: the value at {first} is {values[first]}; weights must be finite"
        )
    return values


def _as_floats(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    import numpy as np

    return np.asarray(values, dtype=np.float64)


def _json_list(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise KernelError(f"bias {text!r}: not a list of numbers ({error})") from None


def _toml_bias(path: Path, name: str | None) -> tuple[float, ...]:
    """Read a TOML file's top-level list of numbers ``name`` (without a name, its only one)."""
    if not path.is_file():  # a pipe would block, a device never end
        raise KernelError(f"bias file not found, or not a regular file: {path}")
    try:
        with path.open("rb") as stream:  # bounded by reading: a size from stat can lie
            raw = stream.read(MAX_BIAS_BYTES + 1)
        if len(raw) > MAX_BIAS_BYTES:
            raise KernelError(f"{path}: over the {MAX_BIAS_BYTES:,} bytes a bias file may have")
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise KernelError(f"{path}: cannot read a bias: {error}") from None
    lists = {key: value for key, value in data.items() if isinstance(value, list)}
    if not name and len(lists) == 1:
        name = next(iter(lists))
    if not name or name not in lists:
        listed = ", ".join(lists) or "none"
        raise KernelError(f"{path}: name a list of numbers with {path}:NAME (it holds {listed})")
    return _listed(lists[name], f"{path}:{name}")


def _listed(values: Any, where: str) -> tuple[float, ...]:
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    ):
        raise KernelError(f"{where}: a bias is a non-empty list of numbers")
    if len(values) > MAX_FILTERS:
        raise KernelError(f"{where}: {len(values)} numbers, over the limit of {MAX_FILTERS}")
    numbers = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in numbers):
        raise KernelError(f"{where}: a bias must be finite numbers")
    return numbers
