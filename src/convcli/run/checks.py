"""Checks of a run's jobs before anything is written: fit, replacement, clashes, banks.

Every refusal here is a usage error naming what cannot be done; an input
that cannot be read is left to fail on its own when it runs.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.choices import DEFAULT_TEMPLATE
from convcli.errors import InputError, Message, ParameterError, UsageError
from convcli.io.formats import OutputFormat
from convcli.io.inputs import Input
from convcli.io.picture import Header
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.io.storage import exists, is_remote
from convcli.limits import MAX_BANK_KERNELS, MAX_MONTAGE_TILES
from convcli.naming import (
    kernel_names,
    kernel_tag,
    output_name,
    source_stems,
    tag_pattern,
    template_fields,
)
from convcli.run.headers import UNMARKED, made_by_convcli, probe, unmarked
from convcli.run.model import InputPlan, Job, Settings, one_kernel
from convcli.run.output import provenance
from convcli.run.prepare import output_range, prepare_input
from convcli.run.tiling import TILED, check_tile

if TYPE_CHECKING:
    from convcli.io.storage import Location


def check_jobs(
    jobs: list[Job],
    settings: Settings,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    headers: dict[Location | None, Header | None] | None = None,
) -> None:
    """Check from the headers alone that every input can be done, before anything is written.

    An input whose header cannot be read is left to fail on its own later.
    An output named by convcli that exists is replaced only if convcli made
    it with the same settings, or, in a format that cannot say who made it,
    if it is what this run writes there (see :func:`_check_replace`).

    Raises
    ------
    UsageError
        Naming the first input the settings do not fit (impossible shapes, a
        range its output format cannot hold), or an output it will not replace.
    """
    headers = headers if headers is not None else {}
    for job in jobs:
        if job.skip is not None or job.failure is not None or job.source is None:
            continue
        each = job.settings_for(settings)
        if job.source not in headers:
            remote = is_remote(job.source)  # read when it runs, as in _headers
            headers[job.source] = None if remote else probe(job.source, job.label, max_pixels)
        planned = _prepare_job(job, headers[job.source], each, max_pixels)
        if job.named and job.target is not None and job.format is not None:
            made = provenance(each, output_range(each, job.format))
            shape = planned.output_shape if planned else None
            for target in job.maps or (job.target,):  # a bank's layer: each map's file
                _check_replace(target, made, job.format, shape[:2] if job.maps and shape else shape)


def _prepare_job(
    job: Job, header: Header | None, settings: Settings, max_pixels: int
) -> InputPlan | None:
    """Plan one job from its input's header; None when it fails alone (or is read later).

    Raises
    ------
    UsageError
        Naming the input, when the settings do not fit it.
    """
    if header is None:
        return None
    try:
        planned = prepare_input(header, settings, job.format, TILED if job.tiled else max_pixels)
        if job.tile is not None:
            check_tile(planned, job.tile, max_pixels)
    except ParameterError as error:
        raise error.about(job.label) from None
    except InputError:
        return None  # this input fails alone when it runs
    except UsageError as error:
        raise UsageError(Message("{label}: {why}", label=job.label, why=error.said)) from None
    return planned


def _check_replace(
    target: Location, description: str, fmt: OutputFormat, shape: tuple[int, ...] | None
) -> None:
    """Refuse to replace a file that convcli did not make, or made with other settings.

    A file in a format that cannot say who made it (BMP, .npy, ...) is taken for
    an earlier run's output, and replaced, when it is what this run writes
    at its name: that format, and ``shape`` (the output's, when it is known).
    """
    if not exists(target):
        return
    # Only the header is read from a file: no size makes it unreadable (a store's is read whole).
    header = probe(target, str(target), TILED if isinstance(target, Path) else DEFAULT_MAX_PIXELS)
    if header is not None and header.format in UNMARKED:
        written = None if shape is None else fmt.written_shape(shape)
        if header.format == fmt.name and written in (None, header.file_shape):
            return
        raise _not_replaced(
            f"{target} exists, and its format ({header.format.upper()}) cannot say who made it: "
            f"it is not the {_shape(written)}{fmt.name.upper()} this run writes there, so convcli "
            "did not make it"
        )
    if not made_by_convcli(header):
        raise _not_replaced(f"{target} exists and convcli did not make it")
    if header is not None and header.description != description:
        raise _not_replaced(
            f"{target} was made by convcli with other settings ({header.description})", "remove it"
        )


def _not_replaced(why: str, instead: str = "move the file") -> ParameterError:
    """Refuse to replace a file, for ``why``: the output needs another name (``-o``, ``--name``)."""
    return ParameterError(
        Message("{why}; give the output another name ({output}, {template}) or {instead}",
                why=why, instead=instead),
        parameter="output",
    )  # fmt: skip


def _shape(shape: tuple[int, ...] | None) -> str:
    return "" if shape is None else "x".join(map(str, shape)) + " "


def named_as_outputs(
    found: list[Input],
    jobs: list[Job],
    headers: dict[Location | None, Header | None],
    settings: Settings,
) -> list[Input]:
    """Find the files in input folders that are convcli's outputs by their names alone.

    A file in a format with no place for provenance (BMP, .npy, ...) cannot
    say who made it. Found in a folder, it is taken for
    an output when this run writes it from another input, or when its name
    is what the default template names an output of another image in its
    folder (``<stem>_<tag><suffix>``, the tag beginning with a kernel's name).
    """
    candidates = [item for item in found if item.in_folder and unmarked(headers.get(item.path))]
    if not candidates:
        return []
    written = {resolved(job.target): job.source for job in jobs if job.target is not None}
    tags = tag_pattern(kernel_names(settings))
    stems: dict[Location, set[str]] = {}
    for item in found:
        if item.image and item.path is not None:
            stems.setdefault(item.path.parent, set()).add(item.path.stem)

    def named_as_output(path: Location) -> bool:
        writer = written.get(resolved(path))
        if writer is not None and writer != path:
            return True
        return any(stem in stems[path.parent] for stem in source_stems(path.name, tags))

    return [item for item in candidates if item.path is not None and named_as_output(item.path)]


def refuse_clashes(jobs: list[Job], settings: Settings, template: str | None) -> None:
    """Refuse an output that is an input, or two jobs that would write one file."""
    sources = {resolved(job.source): job.label for job in jobs if job.source is not None}
    writers: dict[Location, Job] = {}
    for job in jobs:
        if job.target is None or job.skip == "not an image":
            continue
        where = resolved(job.target)
        if where in sources or (job.source is not None and same_file(job.source, job.target)):
            raise ParameterError(
                Message("the output {target} of {label} is an input; choose another {output}",
                        target=job.target, label=job.label),
                parameter="output",
            )  # fmt: skip
        if where in writers:
            first = writers[where]
            raise UsageError(
                Message("{first} and {second} would both write {target}; {advice}",
                        first=first.label, second=job.label, target=job.target,
                        advice=_apart(jobs, settings, template, (first, job)))
            )  # fmt: skip
        writers[where] = job


def _apart(
    jobs: list[Job], settings: Settings, template: str | None, clash: tuple[Job, Job]
) -> str:
    """Advise how every output gets a name of its own: a --name template that does it, if any.

    The template adds the input's stem, then its folder's name, to the one
    in use; each is tried on every job, and suggested only if no two outputs
    then share a name.
    """
    given = template or DEFAULT_TEMPLATE
    with_stem = given if "{stem}" in given else "{stem}_" + given
    with_parent = [] if "{parent}" in with_stem else ["{parent}-" + with_stem]
    for candidate in [with_stem, *with_parent]:
        targets = [_renamed(job, settings, candidate) for job in jobs if job.named and job.target]
        if candidate != given and len(set(targets)) == len(targets):
            return Message("give every output its own name with {template} '{given}'",
                           given=candidate)  # fmt: skip
    suffixes = {job.source.suffix for job in clash if job.source is not None}
    instead = " or leave out {format}" if settings.format and len(suffixes) > 1 else ""
    return Message("run them separately, into different {output} folders" + instead)


def _renamed(job: Job, settings: Settings, template: str) -> Location:
    """Return where a named job's output would go, named by ``template``."""
    assert job.target is not None
    assert job.source is not None
    name = output_name(job.source, job.settings_for(settings), job.target.suffix, template)
    return resolved(job.target.with_name(name))


def resolved(where: Location) -> Location:
    """Return a file's real path (links and '..' followed); a URL as it is."""
    return where.resolve() if isinstance(where, Path) else where


def same_file(source: Location, target: Location) -> bool:
    """Whether two names are one file (or one object)."""
    if isinstance(source, Path) and isinstance(target, Path):
        with contextlib.suppress(OSError):
            return os.path.samefile(source, target)
    return resolved(source) == resolved(target)


def check_bank(
    settings: Settings,
    arguments: list[str],
    output: str | None,
    template: str | None,
    tile: int | None = None,
) -> None:
    """Refuse a bank (``--bank``) whose outputs could not each have a name of their own.

    Every kernel's output is named as a run of that kernel alone names it, so
    two equal kernels, a ``--name`` without the kernel in it, standard input
    or output (no name, one stream) and ``--tile`` (one huge array a run) are
    refused, as are more than ``MAX_BANK_KERNELS`` kernels. One kernel is
    allowed: a script that builds the ``-k`` list need not treat one apart.
    """
    if len(settings.kernels) > MAX_BANK_KERNELS:
        raise ParameterError(
            f"bank takes at most {MAX_BANK_KERNELS} kernels, got {len(settings.kernels)}",
            parameter="bank",
        )
    seen: dict[str, int] = {}
    for index, kernel in enumerate(settings.kernels):
        tag = kernel_tag(one_kernel(settings, index))
        if tag in seen:
            raise ParameterError(
                f"bank: kernels {seen[tag]} and {index + 1} are the same ({kernel.name}) and "
                "would write the same outputs; give each kernel once",
                parameter="bank",
            )
        seen[tag] = index + 1
    if template is not None and not {"kernel", "tag"} & set(template_fields(template)):
        raise ParameterError(
            Message("{bank}: {template} {given!r} leaves the kernel out, so every kernel's "
                    "output would have one name; put {{kernel}} or {{tag}} in it", given=template),
            parameter="bank",
        )  # fmt: skip
    if "-" in arguments:
        raise ParameterError(
            "bank names each output after its input, and standard input has no name; "
            "save it to a file first",
            parameter="bank",
        )
    if output == "-":
        raise ParameterError(
            Message("{bank} writes one file per kernel: they cannot all go to standard output; "
                    "give {output} FOLDER/"),
            parameter="bank",
        )  # fmt: skip
    if tile is not None:
        raise ParameterError(
            Message("{bank} does not take {tile}: filter a huge array one kernel at a time"),
            parameter="bank",
        )


def check_sheet(sheet: Path, jobs: list[Job], bank: bool = True) -> None:
    """Refuse a contact sheet of too many tiles, or one that is an input or an output.

    A bank's: a tile for each response, and one for each input (its first
    kernel's job). A layer's (not ``bank``): one input's feature maps.
    """
    if not bank and len(jobs) > 1:
        raise ParameterError(
            f"sheet draws the feature maps of one input; {len(jobs)} inputs were given",
            parameter="sheet",
        )
    tiled = next((job for job in jobs if job.tiled and not bank), None)
    if tiled is not None:  # its maps are drawn from the whole response, which a tile never holds
        raise ParameterError(
            Message("{sheet} draws a layer's feature maps from the whole input, and {label} is "
                    "filtered in tiles ({tile}): leave out {sheet}, or draw a crop of it",
                    label=tiled.label),
            parameter="sheet",
        )  # fmt: skip
    tiles = sum(job.kernel is not None for job in jobs) + sum(job.kernel == 0 for job in jobs)
    if tiles > MAX_MONTAGE_TILES:
        raise ParameterError(
            f"sheet: {tiles} tiles (each input and each response), over the "
            f"{MAX_MONTAGE_TILES} a sheet holds; give fewer inputs or kernels",
            parameter="sheet",
        )
    for job in jobs:
        for where in (job.source, job.target):
            if where is not None and same_file(where, sheet):
                raise ParameterError(
                    f"sheet {sheet} is also an input or an output; name another", parameter="sheet"
                )
