"""Planning a run: finding the inputs, naming every output, checking them all first.

Every refusal comes before the first output is written, and no pixel is
decoded: only headers are read. Files that convcli made, found in an input
folder, are left out (their provenance says who made them; a BMP, .npy or
other file whose format cannot say it, by its name), so a folder can be filtered again and
again without its outputs becoming inputs.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from convcli import extras
from convcli.choices import FORMAT_ALIASES, FileFormat
from convcli.errors import ConvcliError, InputError, ParameterError, UsageError
from convcli.io.formats import (
    OutputFormat,
    is_zarr_store,
    output_format,
    unmarked_formats,
    written_as_note,
    written_suffix,
)
from convcli.io.images import DEFAULT_MAX_PIXELS, Header, probe_image, too_many
from convcli.io.inputs import IMAGE_SUFFIXES, Input, find_inputs
from convcli.io.storage import (
    exists,
    is_folder,
    is_remote,
    list_ahead,
    location,
    read_object,
)
from convcli.io.streams import STDIN_BYTES_PER_PIXEL, is_special, read_special_file
from convcli.limits import MAX_BANK_KERNELS, MAX_MONTAGE_TILES, MAX_PIXELS_LIMIT
from convcli.naming import (
    DEFAULT_TEMPLATE,
    kernel_names,
    kernel_tag,
    output_name,
    source_stems,
    tag_pattern,
    template_fields,
)
from convcli.output import provenance
from convcli.pipeline import Plan, Settings, Stage, output_range, prepare

if TYPE_CHECKING:
    from convcli.io.storage import Location


@dataclass(frozen=True)
class Job:
    """One input and where its output goes."""

    label: str
    source: Location | None  # None: standard input
    target: Location | None  # None: standard output
    format: OutputFormat | None  # None: the input's own
    skip: str | None = None  # why it will not run
    named: bool = False  # the target's name was made by convcli (not given with -o)
    content: bytes | None = None  # a pipe's or device's bytes, read once while planning
    failure: str | None = None  # known while planning: missing, or a pipe that is no image
    tile: int | None = None  # filtered in tiles of this side: the input is never held whole
    kernel: int | None = None  # of a bank (--bank): which one of the run's kernels it applies

    @property
    def tiled(self) -> bool:
        """Whether the input is filtered in tiles (--tile, or an .npy over --max-pixels)."""
        return self.tile is not None

    def settings_for(self, settings: Settings) -> Settings:
        """Return what this job does: the run's settings, or its one kernel of a bank's."""
        return one_kernel(settings, self.kernel)


def one_kernel(settings: Settings, kernel: int | None) -> Settings:
    """Return the settings with only the kernel at index ``kernel`` (None: all of them)."""
    return settings if kernel is None else replace(settings, kernels=(settings.kernels[kernel],))


@dataclass
class Planned:
    """The jobs of a run, and what the user should know about how they were found."""

    jobs: list[Job]
    notes: list[str] = field(default_factory=list)


def plan(
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
) -> Planned:
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

    Raises
    ------
    UsageError
        Naming what cannot be done (see :func:`plan_jobs` and :func:`check_jobs`).
    """
    if arguments.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    if bank:
        check_bank(settings, arguments, output, template)
    several = len(arguments) > 1 or any(is_folder(name) for name in arguments)
    folder = output_folder(output, several, bank)
    if template is not None and output not in (None, "-") and folder is None:
        raise ParameterError(
            "name names outputs in a folder or beside their inputs, not one output file",
            parameter="name",
        )
    found = find_inputs(arguments, recursive=recursive, exclude=folder)
    listed = next((item for item in found if item.in_folder and is_remote(item.path)), None)
    if output is None and listed is not None:
        raise UsageError(
            f"give -o for the outputs of a folder in a store (as {listed.label}'s): convcli reads "
            "no object while planning, so it could not tell its outputs there from inputs"
        )
    if is_remote(folder):
        list_ahead(folder)  # whether each output exists, for millions, in one listing
    specials = [item for item in found if isinstance(item.path, Path) and is_special(item.path)]
    if output is None and specials:  # refused before the pipe is read
        raise UsageError(
            f"{specials[0].label} is a pipe or a device: there is no folder beside it to "
            "write into; use -o FILE, -o FOLDER/ or -o -"
        )
    contents = _read_special_files(specials, max_pixels)
    headers = _headers(found, contents, max_pixels, tiled=settings.tile is not None)
    made = [item for item in found if item.in_folder and _made_by_convcli(headers.get(item.path))]
    left = set(made)
    rest = [item for item in found if item not in left]
    jobs = plan_jobs(rest, output, folder, settings, template=template,
                     skip_existing=skip_existing, bank=bank)  # fmt: skip
    named_as = _named_as_outputs(found, jobs, headers, settings)
    left_out = {item.path for item in named_as}
    jobs = [job for job in jobs if job.source not in left_out]
    _refuse_clashes(jobs, settings, template)
    jobs = [_with_content(job, contents.get(job.source) if job.source else None) for job in jobs]
    jobs = _tiling(jobs, headers, settings, max_pixels)
    check_jobs(jobs, settings, max_pixels, headers)
    if sheet is not None:
        _check_sheet(sheet, jobs)
    if isinstance(folder, Path) and not dry_run:  # a store has no folders to make
        _make_output_folder(folder)
    return Planned(jobs, _notes(made, named_as, jobs, settings))


def _notes(
    made: list[Input], named_as: list[Input], jobs: list[Job], settings: Settings
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
        f"{job.label}: over --max-pixels, so filtered in tiles of {job.tile} (as with --tile)"
        for job in jobs
        if job.tile is not None and settings.tile is None
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
        raise UsageError(f"cannot create the output folder {folder}: {error.strerror}") from None


def check_bank(
    settings: Settings, arguments: list[str], output: str | None, template: str | None
) -> None:
    """Refuse a bank (``--bank``) whose outputs could not each have a name of their own.

    Every kernel's output is named as a run of that kernel alone names it, so
    two equal kernels, a ``--name`` without the kernel in it, standard input
    or output (no name, one stream) and ``--tile`` (one huge array a run) are
    refused, as are more than ``MAX_BANK_KERNELS`` kernels. One kernel is
    allowed: a script that builds the ``-k`` list need not treat one apart.
    """
    if len(settings.kernels) > MAX_BANK_KERNELS:
        raise UsageError(
            f"--bank takes at most {MAX_BANK_KERNELS} kernels, got {len(settings.kernels)}"
        )
    seen: dict[str, int] = {}
    for index, kernel in enumerate(settings.kernels):
        tag = kernel_tag(one_kernel(settings, index))
        if tag in seen:
            raise UsageError(
                f"--bank: kernels {seen[tag]} and {index + 1} are the same ({kernel.name}) and "
                "would write the same outputs; give each kernel once"
            )
        seen[tag] = index + 1
    if template is not None and not {"kernel", "tag"} & set(template_fields(template)):
        raise UsageError(
            f"--bank: --name {template!r} leaves the kernel out, so every kernel's output "
            "would have one name; put {kernel} or {tag} in it"
        )
    if "-" in arguments:
        raise UsageError(
            "--bank names each output after its input, and standard input has no name; "
            "save it to a file first"
        )
    if output == "-":
        raise UsageError(
            "--bank writes one file per kernel: they cannot all go to standard output; "
            "give -o FOLDER/"
        )
    if settings.tile is not None:
        raise UsageError("--bank does not take --tile: filter a huge array one kernel at a time")


def _check_sheet(sheet: Path, jobs: list[Job]) -> None:
    """Refuse a contact sheet of too many tiles, or one that is an input or an output.

    A tile for each response, and one for each input (its first kernel's job).
    """
    tiles = sum(job.kernel is not None for job in jobs) + sum(job.kernel == 0 for job in jobs)
    if tiles > MAX_MONTAGE_TILES:
        raise UsageError(
            f"--montage: {tiles} tiles (each input and each response), over the "
            f"{MAX_MONTAGE_TILES} a sheet holds; give fewer inputs or kernels"
        )
    for job in jobs:
        for where in (job.source, job.target):
            if where is not None and _same_file(where, sheet):
                raise UsageError(f"--montage {sheet} is also an input or an output; name another")


def _read_special_files(specials: list[Input], max_pixels: int) -> dict[Location, bytes | str]:
    """Read each named pipe or device once, now: its bytes, or why it is not an image."""
    contents: dict[Location, bytes | str] = {}
    for item in specials:
        if isinstance(item.path, Path):
            try:
                contents[item.path] = read_special_file(
                    item.path, item.label, STDIN_BYTES_PER_PIXEL * max_pixels
                )
            except InputError as error:
                contents[item.path] = str(error)
    return contents


def _headers(
    found: list[Input], contents: dict[Location, bytes | str], max_pixels: int, tiled: bool
) -> dict[Location | None, Header | None]:
    """Read every input's header once (a pipe's from the bytes read); None: it fails alone.

    With ``tiled``, a ``.npy``, TIFF or Zarr array of any size is read (it is
    filtered a tile at a time). An object in a store is read only when it runs
    (a request each): None; but a Zarr array named as an input, for its metadata.
    """
    headers: dict[Location | None, Header | None] = {}
    for item in found:
        if is_remote(item.path):
            named = not item.in_folder and is_zarr_store(item.path)
            headers[item.path] = (
                _probe(item.path, item.label, TILED, whole=False) if named else None
            )
        elif item.image and item.path is not None:
            content = contents.get(item.path, item.path)
            if isinstance(content, str):  # a pipe that was no image: it fails with its reason
                headers[item.path] = None
            else:
                # Maybe never read whole: a tiled input, a Zarr array (refused without
                # --tile), an .npy (tiled when over --max-pixels: _over_the_limit).
                in_tiles = isinstance(content, Path) and (
                    (tiled and _tileable(content))
                    or content.suffix.lower() == f".{FileFormat.NPY}"
                    or is_zarr_store(content)
                )
                limit = TILED if in_tiles else max_pixels
                header = _probe(content, item.label, limit)
                if in_tiles and header is not None and header.format not in TILEABLE:
                    header = _probe(content, item.label, max_pixels)  # named .npy, but is not
                headers[item.path] = header
    return headers


TILED = MAX_PIXELS_LIMIT  # the pixel limit of an input filtered in tiles: each tile is held
TILEABLE = (FileFormat.NPY, FileFormat.TIF, FileFormat.ZARR)  # by region (io/arrays.py)


def _tileable(path: Location) -> bool:
    suffix = path.suffix.lower().lstrip(".")
    return FORMAT_ALIASES.get(suffix, suffix) in TILEABLE or is_zarr_store(path)


def _tiling(
    jobs: list[Job],
    headers: dict[Location | None, Header | None],
    settings: Settings,
    max_pixels: int,
) -> list[Job]:
    """Mark the jobs to filter in tiles, refusing what cannot be.

    With --tile, every job; without, an .npy over --max-pixels, whose header
    cannot claim more values than the file holds (a compressed TIFF or Zarr
    array can, as a decompression bomb does: they are tiled only when asked).
    """
    if settings.tile is not None:
        if settings.gray or settings.colormap:
            raise UsageError("--tile does not take --gray or --colormap")
        return [_as_tiled(job, headers.get(job.source), settings.tile) for job in jobs]
    for job in jobs:
        _refuse_whole_zarr(job, headers.get(job.source))
    return [
        _over_the_limit(job, headers.get(job.source), job.settings_for(settings), max_pixels)
        for job in jobs
    ]


AUTO_TILE = 4096  # the tile of an .npy over --max-pixels, halved until its window fits


def _over_the_limit(job: Job, header: Header | None, settings: Settings, max_pixels: int) -> Job:
    """Tile an .npy too large to hold whole, when its output can be written in tiles.

    Otherwise (no distributed extra, an image output) it fails alone, saying --tile.
    """
    fmt = job.format
    if header is None or header.format != FileFormat.NPY or not too_many(header.shape, max_pixels):
        return job
    if fmt is None or fmt.name not in TILEABLE or settings.gray or settings.colormap:
        return job
    if job.skip is not None or job.failure is not None or not extras.has("dask"):
        return job
    try:
        planned = prepare(header, settings, fmt, TILED)
    except ConvcliError:
        return job  # check_jobs says why
    tile = AUTO_TILE
    while tile > 16 and max(_window(stage, tile) for stage in planned.stages) > 8 * max_pixels:
        tile //= 2
    return _as_tiled(job, header, tile)


def _as_tiled(job: Job, header: Header | None, tile: int) -> Job:
    """Mark a job to be filtered in tiles; refuse what cannot be (exit 2)."""
    if job.skip is not None or job.failure is not None:
        return job
    if is_remote(job.source) and (header is None or header.format != FileFormat.ZARR):
        raise UsageError(f"{job.label}: --tile reads Zarr arrays from a store; "
                         "a .npy or TIFF must be a file")  # fmt: skip
    if header is None:
        return job
    if header.format not in TILEABLE or job.content is not None:
        raise UsageError(
            f"{job.label}: --tile filters .npy, TIFF and Zarr; this is a {header.format}"
        )
    if header.alpha or header.is_cmyk or header.frames > 1:
        what = "alpha" if header.alpha else "CMYK" if header.is_cmyk else f"{header.frames} pages"
        raise UsageError(f"{job.label}: --tile takes one grey or colour image, not {what}")
    fmt = job.format or (output_format(job.target.suffix) if job.target else None)
    if fmt is None or fmt.name not in TILEABLE:
        raise UsageError("--tile writes .npy, TIFF or Zarr outputs: give -o NAME.npy, NAME.tif "
                         "or NAME.zarr, a folder, or --format")  # fmt: skip
    if is_remote(job.target) and fmt.name != FileFormat.ZARR:
        raise UsageError("--tile writes Zarr arrays to a store; a .npy or TIFF output must "
                         "be a file")  # fmt: skip
    if fmt.name == FileFormat.TIF and tile % 16:
        raise UsageError(f"--tile {tile}: a TIFF's tiles are a multiple of 16 samples a side")
    if fmt.name == FileFormat.ZARR and job.target is not None and exists(job.target):
        raise UsageError(f"{job.target} exists: a Zarr array is never written over another; "
                         "remove it, or give another -o or --skip-existing")  # fmt: skip
    return replace(job, tile=tile)


def _refuse_whole_zarr(job: Job, header: Header | None) -> None:
    """Refuse a Zarr array in or out without --tile: it is read and written a tile at a time."""
    if job.skip is None and FileFormat.ZARR in (
        header and header.format,
        job.format and job.format.name,
    ):
        raise UsageError(f"{job.label}: a Zarr array is read and written in tiles: give --tile N")


def _with_content(job: Job, content: bytes | str | None) -> Job:
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
        why = "--bank writes one output per kernel" if bank else "there are several inputs"
        if here and path.exists() and not path.is_dir():
            raise UsageError(f"-o {output} is a file, but {why}: -o must name a folder")
        new = not here or not path.exists()
        if new and path.suffix.lower() in IMAGE_SUFFIXES:  # surely meant as a file
            instead = "; --name TEMPLATE names the files in it" if bank else " or give one input"
            raise UsageError(
                f"-o {output} names a file, but {why}; name a folder "
                f"(-o {path.with_suffix('')}/){instead}"
            )
        return path
    if here and not path.parent.is_dir():  # a typo in a folder name is not made into folders
        raise UsageError(
            f"-o {output}: the folder {path.parent} does not exist; create it, or end -o "
            "with / to have convcli make a folder"
        )
    return None


def plan_jobs(
    inputs: list[Input],
    output: str | None,
    folder: Location | None,
    settings: Settings,
    *,
    template: str | None = None,
    skip_existing: bool = False,
    bank: bool = False,
) -> list[Job]:
    """Name every input's output (:func:`plan` refuses collisions: :func:`_refuse_clashes`).

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
            job = _named_job(item, output, folder, one_kernel(settings, kernel), template)
            skip = "output exists" if skip_existing and job.target and exists(job.target) else None
            jobs.append(replace(job, skip=skip, kernel=kernel))
    return jobs


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
        _read_header(item.path, item.label, TILED)
    except InputError as error:
        return str(error)
    suffix = item.path.suffix
    if not suffix:
        raise UsageError(f"{item.label} has no suffix to give its output; give --format")
    raise UsageError(f"{item.label}: {suffix!r} is no format convcli writes; give --format")


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
        raise UsageError("standard input has no name to put in a folder; use -o FILE")
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
    if not (forced or target.suffix):  # a named output's suffix is known: _no_format_to_take
        raise UsageError(
            f"-o {output} has no suffix to tell the format: end it with / to "
            "write into a folder, or add one (.png, .tif, ...), or give --format"
        )
    return Job(item.label, item.path, target, forced or output_format(target.suffix), named=named)


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
            headers[job.source] = None if remote else _probe(job.source, job.label, max_pixels)
        planned = _prepare(job, headers[job.source], each, max_pixels)
        if job.named and job.target is not None and job.format is not None:
            made = provenance(each, output_range(each, job.format))
            _check_replace(job.target, made, job.format, planned.output_shape if planned else None)


def _prepare(job: Job, header: Header | None, settings: Settings, max_pixels: int) -> Plan | None:
    """Plan one job from its input's header; None when it fails alone (or is read later).

    Raises
    ------
    UsageError
        Naming the input, when the settings do not fit it.
    """
    if header is None:
        return None
    try:
        planned = prepare(header, settings, job.format, TILED if job.tiled else max_pixels)
        if job.tile is not None:
            _check_tile(planned, job.tile, max_pixels)
    except ParameterError as error:
        raise error.about(job.label) from None
    except InputError:
        return None  # this input fails alone when it runs
    except UsageError as error:
        raise UsageError(f"{job.label}: {error}") from None
    return planned


def _check_tile(planned: Plan, tile: int, max_pixels: int) -> None:
    """Refuse a tile whose input window would pass 8 x --max-pixels values."""
    for stage in planned.stages:
        values = _window(stage, tile)
        if values > 8 * max_pixels:
            raise UsageError(
                f"--tile {tile}: a tile of {stage.kernel.name} reads {values} values, "
                f"over the limit of {8 * max_pixels} (8 x --max-pixels); choose a smaller tile"
            )


def _window(stage: Stage, tile: int) -> int:
    """Count the input values one tile of ``tile`` output samples a side reads in ``stage``.

    A tile is clipped to the output: past it there is nothing to compute or read.
    """
    g = stage.geometry
    sides = zip(g.output_shape[: g.spatial_ndim], g.stride, g.dilation, g.kernel_shape, strict=True)
    return math.prod((min(tile, n) - 1) * s + d * (k - 1) + 1 for n, s, d, k in sides) * math.prod(
        g.channel_shape
    )


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
    header = _probe(target, str(target), TILED if isinstance(target, Path) else DEFAULT_MAX_PIXELS)
    if header is not None and header.format in UNMARKED:
        written = None if shape is None else fmt.written_shape(shape)
        if header.format == fmt.name and written in (None, header.file_shape):
            return
        raise UsageError(
            f"{target} exists, and its format ({header.format.upper()}) cannot say who made it: "
            f"it is not the {_shape(written)}{fmt.name.upper()} this run writes there, so convcli "
            "did not make it; give the output another name (-o, --name) or move the file"
        )
    if not _made_by_convcli(header):
        raise UsageError(
            f"{target} exists and convcli did not make it; give the output another name "
            "(-o, --name) or move the file"
        )
    if header is not None and header.description != description:
        raise UsageError(
            f"{target} was made by convcli with other settings ({header.description}); "
            "give the output another name (-o, --name) or remove it"
        )


UNMARKED = unmarked_formats()  # no place for provenance ("What each format keeps")


def _unmarked(header: Header | None) -> bool:
    """Whether a file is in a format that cannot say who made it."""
    return header is not None and header.format in UNMARKED


def _shape(shape: tuple[int, ...] | None) -> str:
    return "" if shape is None else "x".join(map(str, shape)) + " "


def _named_as_outputs(
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
    unmarked = [item for item in found if item.in_folder and _unmarked(headers.get(item.path))]
    if not unmarked:
        return []
    written = {_resolved(job.target): job.source for job in jobs if job.target is not None}
    tags = tag_pattern(kernel_names(settings))
    stems: dict[Location, set[str]] = {}
    for item in found:
        if item.image and item.path is not None:
            stems.setdefault(item.path.parent, set()).add(item.path.stem)

    def named_as_output(path: Location) -> bool:
        writer = written.get(_resolved(path))
        if writer is not None and writer != path:
            return True
        return any(stem in stems[path.parent] for stem in source_stems(path.name, tags))

    return [item for item in unmarked if item.path is not None and named_as_output(item.path)]


def _probe(
    source: Location | bytes, label: str, max_pixels: int, *, whole: bool = True
) -> Header | None:
    """Read a header; None if it cannot be (it fails on its own when it is read)."""
    try:
        return _read_header(source, label, max_pixels, whole=whole)
    except InputError:
        return None  # it fails on its own when it is read


def _read_header(
    source: Location | bytes, label: str, max_pixels: int, *, whole: bool = True
) -> Header:
    """Read a header, or say why it cannot be read (InputError).

    An object in a store is read ``whole`` (one request); a Zarr array in a
    store is not (``whole=False``): its metadata is an object of its own.
    """
    if whole and is_remote(source):
        source = read_object(source, label, STDIN_BYTES_PER_PIXEL * max_pixels)
    return probe_image(source, label, max_pixels)


def _made_by_convcli(header: Header | None) -> bool:
    return header is not None and (header.software or "").startswith("convcli ")


def _shown(items: list[Input]) -> str:
    return _first_three([item.label for item in items])


def _folders(items: list[Input]) -> str:
    return _first_three(list(dict.fromkeys(str(item.path.parent) for item in items if item.path)))


def _first_three(names: list[str]) -> str:
    """Name up to three things, and say how many more there are."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _refuse_clashes(jobs: list[Job], settings: Settings, template: str | None) -> None:
    """Refuse an output that is an input, or two jobs that would write one file."""
    sources = {_resolved(job.source): job.label for job in jobs if job.source is not None}
    writers: dict[Location, Job] = {}
    for job in jobs:
        if job.target is None or job.skip == "not an image":
            continue
        where = _resolved(job.target)
        if where in sources or (job.source is not None and _same_file(job.source, job.target)):
            raise UsageError(
                f"the output {job.target} of {job.label} is an input; choose another -o"
            )
        if where in writers:
            first = writers[where]
            raise UsageError(
                f"{first.label} and {job.label} would both write {job.target}; "
                + _apart(jobs, settings, template, (first, job))
            )
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
            return f"give every output its own name with --name '{candidate}'"
    suffixes = {job.source.suffix for job in clash if job.source is not None}
    instead = " or leave out --format" if settings.format and len(suffixes) > 1 else ""
    return f"run them separately, into different -o folders{instead}"


def _renamed(job: Job, settings: Settings, template: str) -> Location:
    """Return where a named job's output would go, named by ``template``."""
    assert job.target is not None
    assert job.source is not None
    name = output_name(job.source, job.settings_for(settings), job.target.suffix, template)
    return _resolved(job.target.with_name(name))


def _resolved(where: Location) -> Location:
    return where.resolve() if isinstance(where, Path) else where


def _same_file(source: Location, target: Location) -> bool:
    if isinstance(source, Path) and isinstance(target, Path):
        with contextlib.suppress(OSError):
            return os.path.samefile(source, target)
    return _resolved(source) == _resolved(target)
