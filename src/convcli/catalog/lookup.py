"""Finding kernels: built-in files, user folders, kernel files, families and inline matrices.

A kernel spec is, in the order tried:

1. an inline matrix: ``"[[0,1,0],[1,-4,1],[0,1,0]]"`` (JSON; 1-D, 2-D or 3-D);
2. a kernel file: ``my.toml`` or ``my.toml:name``;
3. a set: ``sobel@``, ``sobel>``, ``gabor:sigma=3@30`` (see :mod:`convcli.catalog.sets`);
4. a family with parameters: ``gaussian:sigma=2``, ``box:5``; a named kernel
   turned, ``sobel-x:angle=90``; or a matched filter cut from an image:
   ``template:circle.png``;
5. a name: looked up in the folders of ``CONVCLI_KERNEL_PATH`` (in order, first
   match wins), then among the built-in kernels, the sets and the families' defaults.

ImageMagick's kernel strings are understood too: its arrays (``3x3: 0,-1,0
-1,5,-1 0,-1,0``, an origin ``+X+Y`` set among zeros), its named kernels in
any case (``Gaussian:2x1.5``, ``Sobel:45``, ``Kirsch``), and its rotation
sets (``sobel@``, ``sobel>``; see :mod:`convcli.catalog.sets`).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from convcli.catalog.kernel import (
    COMBINES,
    LAYER_DIMS,
    PLAIN_NAME,
    Kernel,
    Matrix,
    check_matrix,
    check_name,
    check_range,
    finite_number,
    flatten,
    nested_matrix,
)
from convcli.catalog.sets import family_named, named_set, set_kernel, turn
from convcli.choices import Activation, Pool
from convcli.errors import KernelError, Message, reason

# The families are imported where a spec needs them (a kernel such as sobel-x needs none).

KERNEL_PATH_VARIABLE = "CONVCLI_KERNEL_PATH"
MAX_FILE_BYTES = 64 << 20  # a 1001 x 1001 matrix written out in full takes about 10 MiB
_KEYS = ("description", "matrix", "scale", "bias", "range", "tags", "combine", "components",
         "layer", "groups")  # fmt: skip
_FILE_SPEC = re.compile(r"(?P<path>.+?\.toml)(?::(?P<name>[^:]*))?", re.IGNORECASE)
# ImageMagick's array: "WxH[+X+Y]: values" ("N:" for N x N), values apart by commas and/or spaces.
_IM_ARRAY = re.compile(
    r"(?P<width>\d+)(?:x(?P<height>\d+))?(?:(?P<x>[+-]\d+)(?P<y>[+-]\d+))?\s*:(?P<values>.*)",
    re.DOTALL,
)
_IM_NOT_IN_KERNEL = ("nan", "-")  # ImageMagick's marks of a cell that is not part of the kernel
_IM_NAMES = (  # the rest of ImageMagick's named kernels (its -list kernel)
    "unity", "dog", "log", "blur", "comet", "binomial", "laplacian", "sobel", "freichen",
    "roberts", "prewitt", "compass", "kirsch", "diamond", "square", "rectangle", "octagon",
    "disk", "plus", "cross", "ring", "peaks", "edges", "corners", "diagonals", "lineends",
    "linejunctions", "ridges", "convexhull", "thinse", "skeleton", "chebyshev", "manhattan",
    "octagonal", "euclidean",
)  # fmt: skip


def load_kernel(spec: str) -> Kernel:
    """Resolve a kernel spec to a kernel.

    Parameters
    ----------
    spec : str
        A name, ``family:params``, ``file.toml[:name]`` or an inline matrix.

    Returns
    -------
    Kernel

    Raises
    ------
    KernelError
        If the spec names nothing, or what it names is invalid; the message
        says where and suggests close names.

    Examples
    --------
    >>> load_kernel("sobel-x").matrix
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    >>> load_kernel("box:2").matrix
    array([[0.25, 0.25],
           [0.25, 0.25]])
    >>> load_kernel("[1, -1]").shape
    (2,)
    """
    spec = spec.strip()
    if spec.startswith("["):
        return _inline(spec)
    if match := _IM_ARRAY.fullmatch(spec):
        return _imagemagick_array(spec, match)
    if match := _FILE_SPEC.fullmatch(spec):
        return _from_file(Path(match["path"]), match["name"])
    if any(suffix in spec.lower() for suffix in (".npy", ".npz", ".safetensors")):
        from convcli.catalog.weights import is_weights_spec, weights_kernel  # a layer's weights

        if is_weights_spec(spec):
            return weights_kernel(spec)
    family, sep, params = spec.partition(":")
    if family in (*Activation, *Pool):  # apply's -k takes it (see convcli.catalog.steps)
        raise KernelError(f"{family} is a step of a layer's pipeline (apply -k {spec}), not a "
                          "kernel: it has no matrix")  # fmt: skip
    if family == "template" and sep:
        from convcli.catalog.template import template_kernel  # reads an image: Pillow and NumPy

        return template_kernel(params)
    if rotations := set_kernel(spec, _named_or_none):
        return rotations
    return _with_parameters(spec, family, params) if sep else _named(spec)


def _with_parameters(spec: str, family: str, params: str) -> Kernel:
    """Find ``NAME:params``: a set (``FreiChen:10``), a family's, a named kernel turned, or IM's."""
    from convcli.catalog.families import FAMILIES

    if named := named_set(spec):
        return named
    if family in FAMILIES:
        return FAMILIES[family].kernel(params)
    if turned := _turned_named(family, params):
        return turned
    if imagemagick := _imagemagick_named(spec):  # or it says why no kernel of convcli's is it
        return imagemagick
    raise KernelError(
        f"unknown kernel family {family!r} (families: {', '.join(FAMILIES)})"
        f"{_suggest(family, FAMILIES)}"
    )


def _named(spec: str) -> Kernel:
    """Find a kernel by name: a user's, a built-in one, a family's default, ImageMagick's."""
    name = check_name(spec, "kernel name")
    kernels = named_kernels()
    if name in kernels:
        return kernels[name]
    if named := named_set(name):
        return named
    from convcli.catalog.families import FAMILIES

    if name in FAMILIES:
        return FAMILIES[name].kernel()
    if imagemagick := _imagemagick_named(spec):
        return imagemagick
    known = list(dict.fromkeys([*kernels, *FAMILIES]))
    raise KernelError(
        f"unknown kernel {name!r}{_suggest(name, known)} ('convcli kernels list' shows them all)"
    )


def _named_or_none(name: str) -> Kernel | None:
    """Return the kernel of this plain name (a user's or a built-in one), or None."""
    return named_kernels().get(name) if PLAIN_NAME.fullmatch(name) else None


def _turned_named(name: str, params: str) -> Kernel | None:
    """Return ``NAME:angle=A``: a named kernel's matrix turned clockwise; None if it is not that."""
    kernel = _named_or_none(name)
    if kernel is None:
        return None
    key, sep, value = params.partition("=")
    if not sep or key.strip() != "angle":
        raise KernelError(
            f"{name} is a kernel, not a family: it takes only angle=A ({name}:angle=90)"
        )
    from convcli.catalog.families._base import ANGLE

    return turn(kernel, ANGLE.parse(name, value.strip()))


def named_kernels() -> dict[str, Kernel]:
    """Every kernel that can be named: a user's (first folder first) win over built-in ones."""
    found: dict[str, Kernel] = {}
    builtins = _builtin_kernels()
    for folder in user_kernel_dirs():
        for path in sorted(path for path in folder.glob("*.toml") if path.is_file()):
            for name, kernel in read_kernel_file(path).items():
                found.setdefault(name, replace(kernel, shadows_builtin=name in builtins))
    for name, kernel in builtins.items():
        found.setdefault(name, kernel)
    return found


def user_kernel_dirs() -> list[Path]:
    """Return the folders named by ``CONVCLI_KERNEL_PATH`` (``os.pathsep``-separated)."""
    value = os.environ.get(KERNEL_PATH_VARIABLE, "")
    folders = [Path(part) for part in value.split(os.pathsep) if part]
    for folder in folders:
        if not folder.is_dir():
            raise KernelError(f"{KERNEL_PATH_VARIABLE}: {folder} is not a folder")
    return folders


def builtin_kernel_dir() -> Path:
    """Return the folder of built-in kernel files, in a wheel or in a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "builtin_kernels", package.parents[1] / "kernels"):
        if candidate.is_dir():
            return candidate
    raise KernelError(f"the built-in kernels are missing (looked in {package / 'builtin_kernels'})")


def read_kernel_file(path: Path, lookup: Mapping[str, Kernel] | None = None) -> dict[str, Kernel]:
    """Read and check every kernel a TOML file defines.

    Parameters
    ----------
    path : Path
        The file; each top-level table is one kernel.
    lookup : mapping, optional
        Kernels that ``components`` may name besides those of this file
        (by default, the built-in ones).

    Returns
    -------
    dict of str to Kernel
        In the order of the file.
    """
    data = _parse_toml(path)
    tables: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        check_name(name, str(path))
        if not isinstance(table, dict):
            raise KernelError(
                f"{path}: {name!r} must be a table ([{name}] with a matrix), got {table!r:.40}"
            )
        tables[name] = table
    kernels = {
        name: _kernel_from_table(name, table, f"{path} [{name}]", str(path))
        for name, table in tables.items()
        if "components" not in table
    }
    others = lookup if lookup is not None else _builtin_kernels()
    for name, table in tables.items():
        if "components" in table:
            available = {**others, **kernels}
            kernels[name] = _kernel_from_table(
                name, table, f"{path} [{name}]", str(path), available.get
            )
    return {name: kernels[name] for name in tables}


@functools.cache
def _builtin_kernels() -> dict[str, Kernel]:
    found: dict[str, Kernel] = {}
    for path in sorted(builtin_kernel_dir().glob("*.toml")):
        for name, kernel in read_kernel_file(path, lookup=found).items():
            found[name] = replace(kernel, source="built-in")
    return found


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        if path.exists() and not path.is_file():  # a pipe would block, a device never end
            what = "a folder" if path.is_dir() else "not a regular file"
            raise KernelError(f"{path} is {what}, not a kernel file")
        with path.open("rb") as stream:  # bounded by reading: a size from stat can lie
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            size = max(path.stat().st_size, len(raw))
            raise KernelError(
                f"{path}: {size:,} bytes is over the {MAX_FILE_BYTES:,} a kernel file may have"
            )
        return tomllib.loads(raw.decode("utf-8"))
    except KernelError:
        raise
    except FileNotFoundError:
        raise KernelError(f"kernel file not found: {path}") from None
    except IsADirectoryError:
        raise KernelError(f"{path} is a folder, not a kernel file") from None
    except OSError as error:
        raise KernelError(f"{path}: cannot read: {reason(error)}") from None
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise KernelError(f"{path}: not UTF-8 text (line {line})") from None
    except tomllib.TOMLDecodeError as error:
        raise KernelError(f"{path}: invalid TOML: {error}") from None
    except (ValueError, RecursionError) as error:
        raise KernelError(f"{path}: invalid TOML: {_parser_limit(error)}") from None


def _kernel_from_table(
    name: str,
    table: dict[str, Any],
    where: str,
    source: str,
    find: Callable[[str], Kernel | None] | None = None,
) -> Kernel:
    for key in table:
        if key not in _KEYS:
            raise KernelError(f"{where}: unknown key {key!r}{_suggest(key, _KEYS)}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise KernelError(f"{where}: description must be a string")
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise KernelError(f"{where}: tags must be a list of strings, got {tags!r:.40}")
    layer = _layer(table, where)
    bias = 0.0 if layer else _finite_number(table.get("bias", 0.0), where, "bias")
    kernel_range = check_range(table["range"], where) if "range" in table else None
    common: dict[str, Any] = {
        "name": name,
        "description": description,
        "bias": bias,
        "range": kernel_range,
        "tags": tuple(tags),
        "source": source,
    }
    if "components" in table:
        if "matrix" in table or "scale" in table:
            raise KernelError(f"{where}: a kernel has either 'matrix' or 'components', not both")
        parts = _components(table, where, find)
        return Kernel(shape=parts["components"][0].shape, weights=None, **common, **parts)
    if "matrix" not in table:
        raise KernelError(f"{where}: missing 'matrix'")
    values = table["matrix"]
    shape = check_matrix(values, where, LAYER_DIMS if layer else 3)
    weights = _weights(values, table.get("scale", 1.0), where)
    if layer:
        common.update(_layer_parts(table, shape, where))
    return Kernel(shape=shape, weights=weights, **common)


def _layer(table: dict[str, Any], where: str) -> bool:
    """Whether a table is a layer's kernel (``layer = true``); its keys checked."""
    layer = table.get("layer", False)
    if not isinstance(layer, bool):
        raise KernelError(f"{where}: layer must be true or false, got {layer!r:.40}")
    if not layer and "groups" in table:
        raise KernelError(f"{where}: groups is a layer's: add layer = true")
    if layer and "components" in table:
        raise KernelError(f"{where}: a layer has a matrix, not components")
    return layer


def _layer_parts(table: dict[str, Any], shape: tuple[int, ...], where: str) -> dict[str, Any]:
    """Return a layer table's fields: ``groups``, and ``bias`` as one number per filter."""
    from convcli.catalog.weights import check_groups, checked_bias

    if len(shape) < 3:
        raise KernelError(
            f"{where}: a layer's matrix is 3-D (C_in, kh, kw) or 4-D (C_out, C_in/groups, kh, "
            f"kw), got {len(shape)}-D"
        )
    groups = table.get("groups", 1)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise KernelError(f"{where}: groups must be a whole number, got {groups!r:.40}")
    check_groups(groups, shape, where)
    bias = table.get("bias")
    if bias is not None and (not isinstance(bias, list) or len(check_matrix(bias, where)) != 1):
        raise KernelError(f"{where}: a layer's bias is a list, one number per filter")
    filter_bias = None if bias is None else checked_bias(tuple(map(float, bias)), shape, where)
    return {"layer": True, "groups": groups, "filter_bias": filter_bias}


def _weights(values: list[Any], scale: Any, where: str) -> Callable[[], Matrix]:
    """Return how to build the matrix, scaled: each weight checked to stay a finite float."""
    if scale != "normalize":
        factor = _finite_number(scale, where, "scale", also='or "normalize"')
        _check_scaled(values, factor, 1.0, where)
        return functools.partial(nested_matrix, values, multiply=factor)
    try:
        total = math.fsum(flatten(values))
    except OverflowError:  # the sum passes the largest float on the way
        raise KernelError(f'{where}: scale = "normalize": the weights sum past 1.8e308') from None
    if abs(total) < 1e-12 * max(1.0, math.fsum(abs(v) for v in flatten(values))):
        raise KernelError(
            f'{where}: scale = "normalize" divides by the sum of the weights, but they sum to 0'
        )
    _check_scaled(values, 1.0, total, where)
    return functools.partial(nested_matrix, values, divide=total)


def _check_scaled(values: list[Any], multiply: float, divide: float, where: str) -> None:
    """Refuse a scale that takes a weight past the largest float (before NumPy would warn)."""
    if not all(math.isfinite(value * multiply / divide) for value in flatten(values)):
        raise KernelError(f"{where}: the scale takes a weight past the largest number (1.8e308)")


def _components(
    table: dict[str, Any], where: str, find: Callable[[str], Kernel | None] | None
) -> dict[str, Any]:
    combine = table.get("combine")
    if combine not in COMBINES:
        raise KernelError(f"{where}: combine must be one of {', '.join(COMBINES)}, got {combine!r}")
    names = table["components"]
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise KernelError(f"{where}: components must be a list of at least 2 kernel names")
    parts = []
    for part_name in names:
        part = find(part_name) if find else None
        if part is None or part.weights is None:
            raise KernelError(f"{where}: component {part_name!r} is not a kernel with a matrix")
        parts.append(part)
    if len({part.shape for part in parts}) > 1:  # checked from the shapes: no matrix is built
        shapes = ", ".join(f"{p.name} {p.shape}" for p in parts)
        raise KernelError(f"{where}: components must have the same shape, got {shapes}")
    return {"components": tuple(parts), "combine": combine}


def _finite_number(value: object, where: str, key: str, also: str = "") -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if math.isfinite(float(value)):
                return float(value)
        except OverflowError:
            pass
    wanted = f"a finite number {also}".strip()
    raise KernelError(f"{where}: {key} must be {wanted}, got {value!r:.40}")


def _from_file(path: Path, name: str | None) -> Kernel:
    kernels = read_kernel_file(path)
    if name:
        if name not in kernels:
            raise KernelError(f"{path} has no kernel {name!r}{_suggest(name, kernels)}")
        return kernels[name]
    if len(kernels) == 1:
        return next(iter(kernels.values()))
    if not kernels:
        raise KernelError(f"{path} defines no kernel")
    raise KernelError(
        f"{path} defines {len(kernels)} kernels ({', '.join(kernels)}); say which with {path}:NAME"
    )


def _inline(spec: str) -> Kernel:
    value, shape = read_matrix(spec, "inline kernel")
    return Kernel("inline", shape, functools.partial(nested_matrix, value), source="inline")


def _imagemagick_array(spec: str, match: re.Match[str]) -> Kernel:
    """Read ImageMagick's ``WxH[+X+Y]: values``: the same kernel as its matrix inline.

    A cell ImageMagick leaves out of the kernel (``nan`` or ``-``) is 0: a
    convolution skips it, as convcli skips zero taps. The origin must be the
    kernel's centre, where convcli anchors every kernel.

    Examples
    --------
    >>> load_kernel("3x3: 0,-1,0 -1,5,-1 0,-1,0").matrix.tolist()
    [[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]
    >>> load_kernel("3:-,1,- 1,1,1 nan,1,nan").matrix.tolist()
    [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]
    """
    width = int(match["width"])
    height = int(match["height"] or width)
    texts = [text for text in re.split(r"[\s,]+", match["values"].strip()) if text]
    if not width or not height:
        raise KernelError(f"ImageMagick's kernel {spec!r}: a kernel is at least 1x1, got "
                          f"{width}x{height}")  # fmt: skip
    if len(texts) != width * height:
        raise KernelError(
            f"ImageMagick's kernel {spec!r}: {width}x{height} takes {width * height} values, "
            f"got {len(texts)}"
        )
    origin = _imagemagick_origin(spec, match, width, height)
    numbers = [_imagemagick_value(spec, text) for text in texts]
    rows = _anchored_rows([numbers[row * width : (row + 1) * width] for row in range(height)],
                          origin)  # fmt: skip
    inline = "[" + ",".join("[" + ",".join(row) + "]" for row in rows) + "]"
    kernel = _inline(inline)  # the same kernel, name and digest as the matrix typed inline
    left_out = any(text.lower() in _IM_NOT_IN_KERNEL for text in texts)
    left_out_text = " (nan: not part of the kernel, read as 0)" if left_out else ""
    return replace(kernel, description=f"ImageMagick's {width}x{height} array{left_out_text}")


def _anchored_rows(rows: list[list[str]], origin: tuple[int, int]) -> list[list[str]]:
    """Set rows of values among zeros (``"0"``) so that convcli anchors them at ``origin``."""
    from convcli.catalog.families._base import anchored

    (height, width), (top, left) = anchored((len(rows), len(rows[0])), origin)
    blank = ["0"] * width
    middle = [["0"] * left + row + ["0"] * (width - left - len(row)) for row in rows]
    return [blank] * top + middle + [blank] * (height - top - len(rows))


def _imagemagick_origin(
    spec: str, match: re.Match[str], width: int, height: int
) -> tuple[int, int]:
    """Return the array's origin (row, column): ``+X+Y`` if given, else its centre."""
    if match["x"] is None:
        return (height - 1) // 2, (width - 1) // 2
    x, y = int(match["x"]), int(match["y"])
    if not (0 <= x < width and 0 <= y < height):
        raise KernelError(f"ImageMagick's kernel {spec!r}: the origin +{x}+{y} is outside it")
    return y, x


def _imagemagick_value(spec: str, text: str) -> str:
    """Return one of ImageMagick's kernel values as a JSON number; 0 for a cell left out."""
    if text.lower() in _IM_NOT_IN_KERNEL:
        return "0"
    value = finite_number(text)
    if value is None:
        raise KernelError(f"ImageMagick's kernel {spec!r}: {text!r} is not a finite number")
    return repr(value)


def _imagemagick_named(spec: str) -> Kernel | None:
    """Return the kernel of ImageMagick's named kernel ``spec``, as ImageMagick writes it.

    Its names are read in any case (``Sobel:45``, ``Kirsch``); ``Gaussian:RxS``
    is convcli's ``gaussian:sigma=S,size=2R+1`` (both sample exp(-r^2 / 2
    sigma^2) and make the sum 1). None: ``spec`` is not one of ImageMagick's
    named kernels.

    Raises
    ------
    KernelError
        ``spec`` is one of ImageMagick's named kernels that convcli has not.
    """
    from convcli.catalog.families import FAMILIES

    name, sep, args = spec.partition(":")
    if name.lower() == "gaussian":
        radius, _, sigma = args.partition("x")
        if radius.isdigit() and int(radius) >= 1 and sigma:
            return FAMILIES["gaussian"].kernel(f"sigma={sigma},size={2 * int(radius) + 1}")
        raise KernelError(
            f"ImageMagick's {spec} takes its size from ImageMagick's own precision; give the "
            f"radius (Gaussian:6x2 is convcli's gaussian:sigma=2,size=13), or use convcli's "
            f"gaussian:sigma=S, which covers 3 sigma either side"
        )
    if not sep and (named := named_set(name)):
        return named
    if family := family_named(name):  # named in full: Laplacian is not convcli's laplacian
        return family.built(family.parse(args), named_in_full=True)
    if name.lower() not in _IM_NAMES:
        return None
    raise KernelError(
        Message("ImageMagick's {given} is not one of convcli's kernels: give its matrix "
                "inline, {kernels} '[[0,-1,0],[-1,5,-1],[0,-1,0]]', or as ImageMagick writes "
                "it, {kernels} '3x3: 0,-1,0 -1,5,-1 0,-1,0' ('convcli kernels list' shows "
                "convcli's)", given=spec)
    )  # fmt: skip


def read_matrix(text: str, where: str) -> tuple[Any, tuple[int, ...]]:
    """Parse a JSON matrix of finite numbers (1-D to 3-D); return it and its shape.

    Raises
    ------
    KernelError
        Saying, after ``where``, what is wrong with it.

    Examples
    --------
    >>> read_matrix("[[1, 2], [3, 4]]", "--input")
    ([[1, 2], [3, 4]], (2, 2))
    """
    import json  # only an inline matrix is JSON: `kernels list` needs no JSON parser

    def reject(constant: str) -> None:
        raise KernelError(f"{where}: {constant} is not a finite number")

    try:
        value = json.loads(text, parse_constant=reject)
    except KernelError:
        raise
    except json.JSONDecodeError as error:
        raise KernelError(
            f"{where}: not a matrix of numbers: {error.msg} at character {error.pos + 1}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise KernelError(f"{where}: not a matrix of numbers: {_parser_limit(error)}") from None
    return value, check_matrix(value, where)


def _parser_limit(error: ValueError | RecursionError) -> str:
    """Say in the user's terms which limit of Python's parsers a kernel text ran into."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if "digits" in str(error):  # Python refuses to convert integers this long
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    return str(error)


def _suggest(name: str, known: object) -> str:
    matches = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)  # type: ignore[call-overload]
    return f"; did you mean {', '.join(matches)}?" if matches else ""
