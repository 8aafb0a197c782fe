"""Output names: ``<stem>_<tag><suffix>`` by default, or the user's template.

The tag names the kernels and every setting that changes the result, so two
runs that compute different things never write the same file:
``photo_sobel.png``, ``photo_sobel_gray.png``, ``photo_box-size-5_valid_s2.png``.
"""

from __future__ import annotations

import re
import string
from pathlib import PurePath
from typing import TYPE_CHECKING

from convcli.catalog.kernel import Kernel
from convcli.choices import FIELDS, PaddingWord, PadMode
from convcli.errors import ParameterError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from convcli.io.storage import Location
    from convcli.run.model import Settings


def check_template(template: str) -> str:
    """Return ``template`` if it is a file name made of known fields.

    Examples
    --------
    >>> check_template("{parent}-{stem}{suffix}")
    '{parent}-{stem}{suffix}'
    >>> check_template("{stem}_{size}.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: template has no field {size}; it takes {stem}, {tag}, ...
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ParameterError(f"template is not a template: {error}", parameter="template") from None
    for _, field, spec, conversion in parts:
        if field is not None and (field not in FIELDS or spec or conversion):
            known = ", ".join(f"{{{name}}}" for name in FIELDS)
            raise ParameterError(
                f"template has no field {{{field}}}; it takes {known}", parameter="template"
            )
    if "/" in template or "\\" in template:
        raise ParameterError(
            f"template gives a file name, not a path, got {template!r}", parameter="template"
        )
    return template


def template_fields(template: str) -> list[str]:
    """Return the fields a template (already checked) uses, in order.

    Examples
    --------
    >>> template_fields("{parent}-{stem}{suffix}")
    ['parent', 'stem', 'suffix']
    """
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def output_name(
    source: Location, settings: Settings, suffix: str, template: str, feature_map: str = ""
) -> str:
    """Fill ``template`` in for an input (``feature_map``: one map's index, see :func:`map_names`).

    Examples
    --------
    >>> from pathlib import Path
    >>> from convcli.catalog.lookup import load_kernel
    >>> from convcli.choices import DEFAULT_TEMPLATE
    >>> from convcli.run.model import Settings
    >>> settings = Settings(kernels=(load_kernel("box:5"),), padding="valid", stride=(2,))
    >>> output_name(Path("photos/cat.png"), settings, ".png", DEFAULT_TEMPLATE)
    'cat_box-size-5_valid_s2.png'
    """
    kernel, marks = kernel_tag(settings), settings_tag(settings)
    kernel += f"-{feature_map}" if feature_map else ""
    tag = "_".join(filter(None, (kernel, marks)))
    name = template.format(
        stem=source.stem, kernel=kernel, settings=marks, tag=tag, suffix=suffix,
        parent=source.resolve().parent.name,
    )  # fmt: skip
    if name in ("", ".", ".."):
        raise ParameterError(
            f"template makes {name!r} of {source}: no file name", parameter="template"
        )
    return name


def map_names(
    source: Location, settings: Settings, suffix: str, template: str, count: int
) -> list[str]:
    """Name the files of a layer's ``count`` feature maps: the kernel's name, then the map's index.

    The index, from 0, is zero-padded to as many digits as ``count`` has,
    so the names sort in the maps' order; it is part of ``{kernel}`` (and
    ``{tag}``), as a set member's angle is.

    Examples
    --------
    >>> from pathlib import Path
    >>> from convcli.catalog.lookup import load_kernel
    >>> from convcli.choices import DEFAULT_TEMPLATE
    >>> from convcli.run.model import Settings
    >>> settings = Settings(kernels=(load_kernel("sobel-x"),), padding="valid")
    >>> names = map_names(Path("photo.png"), settings, ".png", DEFAULT_TEMPLATE, 64)
    >>> names[0], names[7], len(names)
    ('photo_sobel-x-00_valid.png', 'photo_sobel-x-07_valid.png', 64)
    """
    width = len(str(count))
    return [
        output_name(source, settings, suffix, template, f"{index:0{width}d}")
        for index in range(count)
    ]


def kernel_tag(settings: Settings) -> str:
    """Name the kernels in a file name: ``sobel-x+gaussian-sigma-2``; inline ones by a digest."""
    return "+".join(
        f"inline-{kernel.digest}"
        if isinstance(kernel, Kernel) and kernel.source == "inline"
        else _slug(kernel.name)
        for kernel in settings.kernels
    )


def settings_tag(settings: Settings) -> str:
    """Name the settings that differ from the defaults: ``gray_flip_valid_zero_s2``."""
    marks = ["flip" if settings.flip else ""]
    if settings.colormap is None:
        marks.insert(0, "gray" if settings.gray else "")
    if settings.padding != PaddingWord.SAME:
        padding = settings.padding
        marks.append(padding if isinstance(padding, str) else "p" + _numbers(padding))
    if settings.pad_mode != PadMode.REFLECT:
        marks.append(settings.pad_mode)
    if settings.pad_mode == PadMode.ZERO and settings.pad_value:
        marks.append(f"v{settings.pad_value:g}")
    marks += [f"{letter}{_numbers(values)}" for letter, values in
              (("s", settings.stride), ("d", settings.dilation)) if max(values) > 1]  # fmt: skip
    if settings.range is not None:
        marks.append(settings.range)
    marks.append(settings.colormap or "")
    marks.append("" if settings.frame is None else f"f{settings.frame}")
    return "_".join(filter(None, marks))


def source_stems(name: str, tags: re.Pattern[str]) -> list[str]:
    """Return the stems of the inputs whose output the default template could name ``name``.

    That is ``<stem>_<tag><suffix>``, with a tag that ``tags`` matches the
    beginning of (see :func:`tag_pattern`).

    Examples
    --------
    >>> tags = tag_pattern({"sobel-x", "gaussian"})
    >>> source_stems("IMG_1_sobel-x_gray.bmp", tags), source_stems("IMG_1_edit.bmp", tags)
    (['IMG_1'], [])
    >>> source_stems("a_gaussian-sigma-2+inline-0123abcd.npy", tags)
    ['a']
    """
    stem = PurePath(name).stem
    return [stem[:at] for at, char in enumerate(stem) if char == "_" and tags.match(stem, at + 1)]


def tag_pattern(kernels: Iterable[str]) -> re.Pattern[str]:
    """Match the beginning of an output's tag: one of ``kernels`` or an inline kernel's digest.

    ``kernels`` are names as a tag writes them (see :func:`kernel_names`); a
    separator or the tag's end follows.
    """
    first = "|".join([*map(re.escape, filter(None, kernels)), "inline-[0-9a-f]{8}"])
    return re.compile(rf"(?:{first})(?:[-+_]|$)")


def kernel_names(settings: Settings) -> set[str]:
    """Every kernel's name as an output's tag begins with it: named, families, this run's.

    A family's kernels are written ``gaussian-sigma-2``: their tags begin with
    the family's name. The named kernels include those of ``CONVCLI_KERNEL_PATH``.
    """
    from convcli.catalog.families import FAMILIES
    from convcli.catalog.lookup import named_kernels

    names = {*map(_slug, named_kernels()), *FAMILIES, "template"}
    return names | set(kernel_tag(settings).split("+"))


def _numbers(values: tuple[int, ...]) -> str:
    return "-".join(map(str, values))


def _slug(name: str) -> str:
    return re.sub(r"[^\w.+-]+", "-", name).strip("-")
