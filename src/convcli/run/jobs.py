"""A job for every input: where its output goes, in which format, and who named it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.catalog.kernel import LAYER_DIMS, Kernel
from convcli.choices import DEFAULT_TEMPLATE
from convcli.errors import InputError, Message, ParameterError, UsageError
from convcli.io.formats import output_format, written_suffix
from convcli.io.inputs import IMAGE_SUFFIXES, Input
from convcli.io.storage import exists, is_zarr_store, location
from convcli.naming import map_names, output_name
from convcli.run.headers import read_header
from convcli.run.model import Job, Settings, one_kernel
from convcli.run.tiling import TILED

if TYPE_CHECKING:
    from convcli.io.formats import OutputFormat
    from convcli.io.storage import Location


def with_content(job: Job, content: bytes | str | None) -> Job:
    """Give a pipe's job the bytes read while planning, or the reason it fails."""
    if isinstance(content, str):
        return replace(job, failure=content)
    return replace(job, content=content) if content is not None else job


def output_folder(output: str | None, several: bool, bank: bool = False) -> Location | None:
    """Return the folder ``-o`` names: one that exists, ends in '/', or takes several inputs.

    A URL's prefix is a folder when it ends in '/' or takes several inputs; with
    ``bank`` (one output per kernel), ``-o`` always names a folder.
    """
    if output is None or output == "-":
        if several and output == "-":
            raise UsageError("several inputs cannot all go to standard output")
        return None
    path = location(output)
    here = isinstance(path, Path)
    folder = isinstance(path, Path) and path.is_dir() and not is_zarr_store(path)
    if folder or output.endswith(("/", os.sep)) or several or bank:
        why = Message("{bank} writes one output per kernel") if bank else "there are several inputs"
        if here and path.exists() and not path.is_dir():
            raise _refused("{output} {given} is a file, but {why}: {output} must name a folder",
                           given=output, why=why)  # fmt: skip
        new = not here or not path.exists()
        if new and path.suffix.lower() in IMAGE_SUFFIXES:  # surely meant as a file
            instead = (
                "; {template} TEMPLATE names the files in it" if bank else " or give one input"
            )
            raise _refused("{output} {given} names a file, but {why}; name a folder "
                           "({output} {folder}/)" + instead,
                           given=output, why=why, folder=path.with_suffix(""))  # fmt: skip
        return path
    if here and not path.parent.is_dir():  # a typo in a folder name is not made into folders
        raise _refused("{output} {given}: the folder {parent} does not exist; create it, or end "
                       "{output} with / to have convcli make a folder",
                       given=output, parent=path.parent)  # fmt: skip
    return None


def _refused(template: str, **values: object) -> ParameterError:
    """Refuse an output (``-o``): ``template`` and ``values`` make a :class:`Message`."""
    return ParameterError(Message(template, **values), parameter="output")


def name_jobs(
    inputs: list[Input],
    output: str | None,
    folder: Location | None,
    settings: Settings,
    *,
    template: str | None = None,
    skip_existing: bool = False,
    bank: bool = False,
) -> list[Job]:
    """Name every input's output (:func:`plan_run` refuses collisions: :func:`refuse_clashes`).

    Parameters
    ----------
    inputs : list of Input
        From :func:`convcli.io.inputs.find_inputs`.
    output : str or None
        ``-o`` as given: a file, ``-`` (standard output), or None (beside each input).
    folder : Path, UPath or None
        The output folder, when ``-o`` names one: inputs keep their place below it.
    settings : Settings
        The kernels and settings (for the names) and the output format.
    template : str or None
        How to name outputs; None for ``<stem>_<tag><suffix>``.
    skip_existing : bool
        Mark jobs whose output exists as skipped.
    bank : bool
        One job per input and kernel (input by input, the kernels in order),
        each named for its kernel alone; an input that is no image, or
        missing, is one job.

    An input whose output would take its format from the input's suffix,
    which names none, fails alone: it is no image, or needs ``--format``.

    Raises
    ------
    UsageError
        An output format the user gave (``-o``'s suffix, ``--format``) is unknown.
    """
    kernels: list[int | None] = list(range(len(settings.kernels))) if bank else [None]
    jobs = []
    for item in inputs:
        if not item.image:
            jobs.append(Job(item.label, item.path, None, None, skip="not an image"))
            continue
        if item.path is not None and not item.path.suffix and not exists(item.path):
            missing = f"{item.label}: no such file or folder"  # it fails alone, as a missing x.png
            jobs.append(Job(item.label, item.path, None, None, failure=missing))
            continue
        if _no_format_to_take(item, output, folder, settings):
            jobs.append(Job(item.label, item.path, None, None, failure=_not_an_image(item)))
            continue
        for kernel in kernels:
            each = one_kernel(settings, kernel)
            job = _named_job(item, output, folder, each, template)
            if bank:
                job = _per_map(job, each, template)
            written = job.maps or ((job.target,) if job.target else ())
            skip = (
                "output exists" if skip_existing and written and all(map(exists, written)) else None
            )
            jobs.append(replace(job, skip=skip, kernel=kernel))
    return jobs


def _per_map(job: Job, settings: Settings, template: str | None) -> Job:
    """Give a bank's layer kernel of several filters one file per feature map (its index named).

    The layer is computed once; map i goes to the i-th name (see :func:`map_names`).
    """
    kernel = settings.kernels[0]
    layer = isinstance(kernel, Kernel) and len(kernel.shape) == LAYER_DIMS and kernel.filters > 1
    if not layer or job.target is None or job.format is None or job.source is None:
        return job
    assert isinstance(kernel, Kernel)
    source = job.source if isinstance(job.source, Path) else Path(job.label)
    names = map_names(source, settings, job.target.suffix, template or DEFAULT_TEMPLATE,
                      kernel.filters)  # fmt: skip
    maps = tuple(job.target.with_name(name) for name in names)
    return replace(job, maps=maps, format=job.format.for_maps(split=True))


def _no_format_to_take(
    item: Input, output: str | None, folder: Location | None, settings: Settings
) -> bool:
    """Whether the output is to take its format from the input's suffix, which names none.

    That is when neither ``-o`` (a folder, or beside the input) nor ``--format`` gives one.
    """
    if item.path is None or settings.format or (folder is None and output is not None):
        return False
    return item.path.suffix.lower() not in IMAGE_SUFFIXES


def _not_an_image(item: Input) -> str:
    """Say why an input whose suffix names no output format is no image (it fails alone).

    Raises
    ------
    UsageError
        If it is an image: its output needs ``--format``, as any input's settings must fit it.
    """
    assert item.path is not None
    try:
        read_header(item.path, item.label, TILED)
    except InputError as error:
        return error.said
    suffix = item.path.suffix
    if not suffix:
        raise ParameterError(Message("{label} has no suffix to give its output; give {format}",
                                     label=item.label), parameter="format")  # fmt: skip
    raise ParameterError(Message("{label}: {suffix!r} is no format convcli writes; give {format}",
                                 label=item.label, suffix=suffix), parameter="format")  # fmt: skip


def _named_job(
    item: Input,
    output: str | None,
    folder: Location | None,
    settings: Settings,
    template: str | None,
) -> Job:
    """Return the job of one input: where its output goes, in which format, and who named it."""
    forced = output_format(settings.format) if settings.format else None
    if output == "-" or (item.path is None and output is None):
        return Job(item.label, item.path, None, forced)
    if item.path is None and folder is not None:
        raise _refused("standard input has no name to put in a folder; use {output} FILE")
    target: Location
    named = folder is not None or output is None
    if named:
        source = item.path or Path("stdin")
        suffix = f".{forced.name}" if forced else written_suffix(source.suffix)
        name = output_name(source, settings, suffix, template or DEFAULT_TEMPLATE)
        if folder is None:
            target = source.with_name(name)
        else:
            target = folder.joinpath(*item.relative.parent.parts, name)
    else:
        assert output is not None
        target = location(output)
    if forced and not named:
        _check_suffix_agrees(target, forced, output)
    if not (forced or target.suffix):  # a named output's suffix is known: _no_format_to_take
        raise _refused("{output} {given} has no suffix to tell the format: end it with / to "
                       "write into a folder, or add one (.png, .tif, ...), or give {format}",
                       given=output)  # fmt: skip
    return Job(item.label, item.path, target, forced or output_format(target.suffix), named=named)


def _check_suffix_agrees(target: Location, forced: OutputFormat, output: str | None) -> None:
    """Refuse an output whose suffix names another format than the one asked for.

    A suffix that names no format (``result.dat``) takes the format asked for.
    """
    try:
        named = output_format(target.suffix) if target.suffix else None
    except UsageError:
        return
    if named is not None and named.name != forced.name:
        raise _refused(
            "{output} {given} ends in {suffix} but {format} asks for {asked}: "
            "leave out one, or make them agree",
            given=output, suffix=target.suffix, asked=forced.name,
        )  # fmt: skip
