"""Planning a run: finding the inputs, naming every output, checking them all first.

Every refusal comes before the first output is written, and no pixel is
decoded: only headers are read. Files that convcli made, found in an input
folder, are left out (their provenance says who made them; a BMP, .npy or
other file whose format cannot say it, by its name), so a folder can be filtered again and
again without its outputs becoming inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.errors import Message, ParameterError, UsageError, reason
from convcli.io.formats import written_as_note, written_suffix
from convcli.io.inputs import Input, find_inputs
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.io.storage import is_folder, is_remote, list_ahead
from convcli.io.streams import is_special
from convcli.run.checks import check_bank, check_jobs, check_sheet, named_as_outputs, refuse_clashes
from convcli.run.headers import made_by_convcli, read_headers, read_special_files
from convcli.run.jobs import name_jobs, output_folder, with_content
from convcli.run.model import Job, Settings
from convcli.run.tiling import mark_tiled

if TYPE_CHECKING:
    from convcli.io.storage import Location


@dataclass
class RunPlan:
    """The jobs of a run, and what the user should know about how they were found."""

    jobs: list[Job]
    notes: list[str] = field(default_factory=list)


def plan_run(
    arguments: list[str],
    output: str | None,
    settings: Settings,
    *,
    template: str | None = None,
    recursive: bool = False,
    skip_existing: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    dry_run: bool = False,
    bank: bool = False,
    sheet: Path | None = None,
    tile: int | None = None,
) -> RunPlan:
    """Plan a run: find the inputs, name every output, check them all, make the output folder.

    Parameters
    ----------
    arguments : list of str
        Files, folders, and ``-`` for standard input, as given.
    output : str or None
        ``-o`` as given: a file, a folder, ``-`` (standard output), or None
        (beside each input).
    settings : Settings
        What to do to every input.
    template : str or None
        How to name outputs (see :mod:`convcli.naming`); None for the default.
    recursive, skip_existing : bool
        Descend into sub-folders; mark jobs whose output exists as skipped.
    max_pixels : int
        The largest input, checked from the headers.
    dry_run : bool
        Do not create the output folder.
    bank : bool
        Apply each kernel to every input on its own (a filter bank), not in
        sequence: one job per input and kernel, in that order, each named as
        a run of that kernel alone would name its output (see :func:`check_bank`).
    sheet : Path or None
        A contact sheet of the bank (``--montage``): its tiles are counted
        and it may be neither an input nor an output.
    tile : int or None
        Filter every input in tiles of this many output samples a side.

    Raises
    ------
    UsageError
        Naming what cannot be done (see :func:`name_jobs` and :func:`check_jobs`).
    """
    if arguments.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    if bank:
        check_bank(settings, arguments, output, template, tile)
    several = len(arguments) > 1 or any(is_folder(name) for name in arguments)
    folder = output_folder(output, several, bank)
    if template is not None and output not in (None, "-") and folder is None:
        raise ParameterError(
            "template names outputs in a folder or beside their inputs, not one output file",
            parameter="template",
        )
    found = _find(arguments, output, folder, recursive)
    contents = read_special_files(_specials(found, output), max_pixels)
    headers = read_headers(found, contents, max_pixels, tiled=tile is not None)
    made = [item for item in found if item.in_folder and made_by_convcli(headers.get(item.path))]
    left = set(made)
    rest = [item for item in found if item not in left]
    jobs = name_jobs(rest, output, folder, settings, template=template,
                     skip_existing=skip_existing, bank=bank)  # fmt: skip
    named_as = named_as_outputs(found, jobs, headers, settings)
    left_out = {item.path for item in named_as}
    jobs = [job for job in jobs if job.source not in left_out]
    refuse_clashes(jobs, settings, template)
    jobs = [with_content(job, contents.get(job.source) if job.source else None) for job in jobs]
    jobs = mark_tiled(jobs, headers, settings, tile, max_pixels)
    check_jobs(jobs, settings, max_pixels, headers)
    if sheet is not None:
        check_sheet(sheet, jobs, bank)
    if isinstance(folder, Path) and not dry_run:  # a store has no folders to make
        _make_output_folder(folder)
    return RunPlan(jobs, _notes(made, named_as, jobs, tile))


def _find(
    arguments: list[str], output: str | None, folder: Location | None, recursive: bool
) -> list[Input]:
    """Find the inputs; refuse a folder in a store without -o (its outputs are not known)."""
    found = find_inputs(arguments, recursive=recursive, exclude=folder)
    listed = next((item for item in found if item.in_folder and is_remote(item.path)), None)
    if output is None and listed is not None:
        raise ParameterError(
            Message(
                "give {output} for the outputs of a folder in a store (as {label}'s): convcli "
                "reads no object while planning, so it could not tell its outputs there from "
                "inputs",
                label=listed.label,
            ),
            parameter="output",
        )
    if is_remote(folder):
        list_ahead(folder)  # whether each output exists, for millions, in one listing
    return found


def _specials(found: list[Input], output: str | None) -> list[Input]:
    """Return the named pipes and devices among the inputs; refused without -o."""
    specials = [item for item in found if isinstance(item.path, Path) and is_special(item.path)]
    if output is None and specials:  # refused before the pipe is read
        raise ParameterError(
            Message(
                "{label} is a pipe or a device: there is no folder beside it to write into; "
                "use {output} FILE, {output} FOLDER/ or {output} -",
                label=specials[0].label,
            ),
            parameter="output",
        )
    return specials


def _notes(
    made: list[Input], named_as: list[Input], jobs: list[Job], tile: int | None
) -> list[str]:
    """Say which files were left out as convcli's outputs, and which inputs are tiled unasked."""
    notes = []
    if made:
        files = f"{len(made)} file{'s' * (len(made) > 1)}"
        notes.append(f"left out {files} that convcli made (in {_folders(made)}; "
                     "name a file to filter it again)")  # fmt: skip
    if named_as:
        files = f"{len(named_as)} file{'s' * (len(named_as) > 1)}"
        notes.append(f"left out {files} named as convcli names its outputs ({_shown(named_as)}: "
                     "its format cannot say who made it; name a file to filter it)")  # fmt: skip
    notes += _written_as(jobs)
    return notes + [
        Message(
            "{label}: over {max_pixels}, so filtered in tiles of {side} (as with {tile})",
            label=job.label,
            side=job.tile,
        )
        for job in jobs
        if job.tile is not None and tile is None
    ]


def _written_as(jobs: list[Job]) -> list[str]:
    """Say which inputs' outputs convcli named in another format: one it does not write."""
    suffixes = {
        job.source.suffix
        for job in jobs
        if job.named and job.source is not None and job.target is not None
        and job.target.suffix == written_suffix(job.source.suffix) != job.source.suffix
    }  # fmt: skip
    note = written_as_note(suffixes)
    return [note] if note else []


def _make_output_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the output folder {folder}: {reason(error)}") from None


def _shown(items: list[Input]) -> str:
    return _first_three([item.label for item in items])


def _folders(items: list[Input]) -> str:
    return _first_three(list(dict.fromkeys(str(item.path.parent) for item in items if item.path)))


def _first_three(names: list[str]) -> str:
    """Name up to three things, and say how many more there are."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
