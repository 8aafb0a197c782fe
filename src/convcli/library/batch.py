"""``convcli.batch``: what ``convcli apply`` does to files and folders, from Python.

Composed from the run's steps: planning (:func:`~convcli.run.planning.plan_run`),
the cluster and the executor, the batch loop with its observers (the
caller's ``on_record``, a bank's contact sheet), and the report file.
The command line maps its options to these parameters and shows the
records; nothing here writes to the terminal.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.catalog.kernel import Kernel, Step
from convcli.catalog.sets import SET_TAG, bank_members
from convcli.choices import MontageScale, Status, choose
from convcli.errors import Message, ParameterError, UsageError
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.library.settings import (
    Kernels,
    check_between,
    checked_settings,
    kernel_notes,
    known_settings,
)
from convcli.limits import MAX_JOBS, MAX_PIXELS_LIMIT, MAX_TILE, MIN_TILE
from convcli.naming import check_template
from convcli.report import Report, check_report_path, write_report
from convcli.run.model import Job, RunOptions, Settings
from convcli.run.planning import RunPlan, plan_run
from convcli.text import shown

if TYPE_CHECKING:
    from convcli.pictures.feature_maps import LayerSheet
    from convcli.pictures.montage import BankSheet, SheetRequest

    Sheet = BankSheet | LayerSheet

OnRecord = Callable[[Report], None]
Where = str | os.PathLike[str]


class Batch:
    """A batch run, planned: its inputs found, its outputs named and checked.

    :func:`batch` gives it to its ``with`` block; :meth:`run` runs it.

    Attributes
    ----------
    notes : list of str
        What planning said: files left out, formats written as another,
        inputs filtered in tiles, kernels of ``CONVCLI_KERNEL_PATH`` that
        replace built-in ones.
    records : list of Report, or None
        Each input's report, in order, once :meth:`run` has run.

    Examples
    --------
    >>> import convcli, numpy as np, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "a.npy", np.ones((3, 3)))
    >>> with convcli.batch(folder / "a.npy", ["box:3", "sobel-x"], folder, bank=True) as run:
    ...     print(run, run.records)
    ...     print([report.kernel for report in run.run()], run.failed)
    Batch(2 jobs, 0 notes) None
    ['box:size=3', 'sobel-x'] False
    """

    def __init__(self, planned: RunPlan, settings: Settings, options: RunOptions, client: Any,
                 drawing: Sheet | None, notes: list[str]) -> None:  # fmt: skip
        self._planned = planned
        self._settings = settings
        self._options = options
        self._client = client
        self._drawing = drawing
        self.notes = notes
        self.records: list[Report] | None = None

    def __len__(self) -> int:
        """Count the jobs: one per input, or per input and kernel of a bank."""
        return len(self._planned.jobs)

    def __repr__(self) -> str:
        return f"Batch({len(self)} jobs, {len(self.notes)} notes)"

    @property
    def to_stdout(self) -> bool:
        """Whether an output goes to standard output (``output="-"``)."""
        return any(
            job.target is None and job.skip is None and job.failure is None
            for job in self._planned.jobs
        )

    def run(self, on_record: OnRecord | None = None) -> list[Report]:
        """Run every job; give each input's :class:`Report` to ``on_record`` as it is done.

        The jobs run on the executor they call for (``jobs`` processes, the
        cluster, tiles); the reports come in the inputs' order. An input
        that fails is a report with ``status`` ``error``, not an exception
        (unless ``fail_fast``).
        """
        from convcli.distributed.executors import executor_for  # Dask itself only if asked for
        from convcli.run.batch import run_batch

        planned, options, drawing = self._planned, self._options, self._drawing
        if drawing is not None and drawing.heat:  # each job reduces its values where it runs
            options = replace(options, heat_tiles=True)
        each = _each(on_record, _fed(drawing, planned.jobs, options))
        executor = executor_for(planned.jobs, options, self._client)
        self.records = run_batch(planned.jobs, self._settings, options, executor, each)
        return self.records

    @property
    def failed(self) -> bool:
        """Whether any input failed."""
        return any(done.status == Status.ERROR for done in self.records or [])


@contextlib.contextmanager
def batch(
    inputs: Where | Sequence[Where],
    kernels: Kernels,
    output: Where | None = None,
    *,
    bank: bool = False,
    recursive: bool = False,
    template: str | None = None,
    skip_existing: bool = False,
    jobs: int | None = None,
    fail_fast: bool = False,
    dry_run: bool = False,
    max_pixels: int | None = None,
    report: Where | None = None,
    montage: Where | None = None,
    montage_scale: str | None = None,
    scheduler: str | None = None,
    tile: int | None = None,
    **settings: Any,
) -> Iterator[Batch]:
    """Plan ``convcli apply``'s run over files and folders; run it in the ``with`` block.

    Planning finds the inputs, names and checks every output and makes the
    output folder; nothing is filtered until :meth:`Batch.run`. When the
    block ends after a run, the ``report`` file and the ``montage`` sheet
    are written, and a cluster opened for ``scheduler`` is closed.

    Parameters
    ----------
    inputs : str, path, or a list of them
        Files, folders (their images, ``recursive``-ly), URLs; ``"-"``
        standard input.
    kernels : str, Kernel, or a list of them
        As for :func:`convcli.apply`: one pipeline, or each on its own with
        ``bank=True``.
    output : str or path, optional
        A folder (ending in ``/``, or one that exists), a file for a single
        input, ``"-"`` for standard output; by default beside each input.
    template : str, optional
        How outputs are named (``--name``): ``{stem}``, ``{tag}``,
        ``{kernel}``, ``{settings}``, ``{suffix}``, ``{parent}``.
    recursive, skip_existing, fail_fast, dry_run : bool, optional
        As the options of the same names (README, "apply").
    jobs : int, optional
        Worker processes (default: the usable CPUs), or a local cluster's size.
    max_pixels : int, optional
        Refuse a larger input (``--max-pixels``); by default Pillow's limit, about 89 megapixels.
    report : str or path, optional
        Also write every record to this ``.json`` or ``.csv`` file.
    montage, montage_scale : optional
        A bank's contact sheet: the file (``.png``...), and ``shared`` or
        ``each`` to draw heat maps of the values (with ``colormap``); without
        ``bank``, a layer kernel's feature maps of one input, each beside its
        filter's weights (heat maps ``each`` on its own scale unless ``shared``).
    scheduler : str, optional
        Run on a Dask cluster: ``local[:N]`` or a scheduler's address.
    tile : int, optional
        Filter each input in tiles of this many output samples a side.
    **settings
        The settings of :func:`convcli.apply`: ``padding``, ``pad_mode``,
        ``stride``, ``range``, ``colormap``, ``format``, ``quality``...

    Yields
    ------
    Batch
        The run, planned: its ``notes``, its number of jobs, :meth:`~Batch.run`.

    Raises
    ------
    KernelError, ParameterError, UsageError
        A kernel, a setting or an output is invalid; nothing was filtered.

    Examples
    --------
    >>> import convcli, numpy as np, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a", "b"):
    ...     np.save(folder / f"{name}.npy", np.arange(12.0).reshape(3, 4))
    >>> with convcli.batch(folder, "box:3", folder / "out", jobs=1, padding="valid",
    ...                    report=folder / "report.csv") as run:
    ...     records = run.run(on_record=lambda done: print(done.status, done.output_shape))
    ok (1, 2)
    ok (1, 2)
    >>> len(run), run.notes, np.load(folder / "out" / "a_box-size-3_valid.npy").round(4).tolist()
    (2, [], [[5.0, 6.0]])
    >>> (folder / "report.csv").read_text().splitlines()[0][:26]
    'input,output,status,kernel'
    """
    if not isinstance(inputs, str | os.PathLike | Iterable):
        raise ParameterError(f"inputs must be a path or a list of paths, got "
                             f"{type(inputs).__name__}", parameter="inputs")  # fmt: skip
    names = [os.fspath(inputs)] if isinstance(inputs, str | os.PathLike) else [
        os.fspath(name) for name in inputs
    ]  # fmt: skip
    known_settings("batch", settings)
    chosen = checked_settings(kernels, **settings)
    sheet = _sheet_request(montage, montage_scale, bank, chosen)
    labels: list[str] = []
    if bank:  # each member of a set (kirsch, sobel@) is a kernel of the bank
        chosen, labels = _bank_of(chosen, kernels)
    report_path = None if report is None else Path(report)
    options = _run_options(jobs, tile, fail_fast, dry_run, max_pixels, report_path)
    with _cluster(scheduler, options.workers, names) as client:  # before anything is written
        planned = plan_run(
            names, None if output is None else os.fspath(output), chosen,
            template=template and check_template(template), recursive=recursive,
            skip_existing=skip_existing, max_pixels=options.max_pixels, dry_run=dry_run,
            bank=bank, sheet=sheet.path if sheet else None, tile=tile,
        )  # fmt: skip
        if report_path is not None:
            targets = [job.target for job in planned.jobs if isinstance(job.target, Path)]
            check_report_path(report_path, targets)
        drawing = _drawing(sheet, planned, chosen, options, labels)
        run = Batch(planned, chosen, options, client, drawing,
                    kernel_notes(chosen.convolutions) + planned.notes)  # fmt: skip
        yield run
    if run.records is not None:
        _finish(run.records, report_path, drawing)


def _run_options(
    jobs: int | None,
    tile: int | None,
    fail_fast: bool,
    dry_run: bool,
    max_pixels: int | None,
    report: Path | None,
) -> RunOptions:
    """Check how the jobs are to run, and the report's file, before anything is planned."""
    check_between("jobs", jobs, (1, MAX_JOBS))
    check_between("tile", tile, (MIN_TILE, MAX_TILE))
    check_between("max_pixels", max_pixels, (1, MAX_PIXELS_LIMIT))
    if report is not None:
        check_report_path(report)
    return RunOptions(
        workers=jobs or usable_cpus(), fail_fast=bool(fail_fast), dry_run=bool(dry_run),
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
    )  # fmt: skip


def _cluster(scheduler: str | None, workers: int, inputs: list[str]) -> AbstractContextManager[Any]:
    """Open the cluster asked for: its client (a Dask Client), or None."""
    if not scheduler:
        return contextlib.nullcontext()
    from convcli.distributed.cluster import session  # Dask: only when a cluster is asked for

    return session(scheduler, workers, inputs)


def _finish(records: list[Report], report: Path | None, drawing: Sheet | None) -> None:
    """Write the report file and the contact sheet."""
    if report is not None:
        write_report(report, records)
    if drawing:  # after the records and the report: a sheet that cannot be written loses neither
        drawing.write()


def _sheet_request(
    montage: Where | None, scale: str | None, bank: bool, settings: Settings
) -> SheetRequest | None:
    """Check the contact sheet asked for, with what it needs: where, how, on which scale.

    A bank's sheet, or without ``bank`` the feature maps of a pipeline's
    layer (a kernel that is one on an image: 4-D, or 3-D).
    """
    if montage is None and scale is None:
        return None
    if montage is None:
        raise UsageError(Message("{montage_scale} scales the heat maps of a {montage} sheet; "
                                 "give one"))  # fmt: skip
    layered = any(kernel.sums_channels(image=True) for kernel in settings.convolutions)
    if bank and layered:
        raise UsageError(Message(
            "{montage} draws a layer's feature maps without {bank} (with it, a file per map): "
            "leave out {bank}, or {montage}"
        ))  # fmt: skip
    if not bank and not layered:
        raise UsageError(Message(
            "{montage} draws a {bank}'s responses side by side, or a layer's feature maps; "
            "add {bank} (without it, several {kernels} are one pipeline with one output)"
        ))  # fmt: skip
    if bank and scale is not None and settings.colormap is None:
        raise UsageError(Message("{montage_scale} scales heat maps: give {colormap} too"))
    from convcli.pictures.montage import SheetRequest, picture_path  # Pillow: only for a sheet

    chosen = None if scale is None else choose(MontageScale, scale, "montage_scale")
    return SheetRequest(*picture_path(os.fspath(montage), "montage"), chosen, layer=not bank)


def _drawing(
    sheet: SheetRequest | None,
    planned: RunPlan,
    settings: Settings,
    options: RunOptions,
    labels: list[str],
) -> Sheet | None:
    """Return the contact sheet to draw as reports arrive; a dry run draws none, and says so."""
    if sheet is None:
        return None
    if options.dry_run:
        planned.notes.append(Message("{dry_run}: the {montage} sheet {path} is not drawn",
                                     path=str(sheet.path)))  # fmt: skip
        return None
    if sheet.layer:
        from convcli.pictures.feature_maps import LayerSheet

        return LayerSheet(sheet, settings)
    return sheet.drawing(settings, labels, options.max_pixels)


def _bank_of(settings: Settings, kernels: Kernels) -> tuple[Settings, list[str]]:
    """Return a bank's settings and its tiles' labels, each set's members in its place."""
    members = bank_members(settings.kernels)  # refuses a step first
    given = [kernels] if isinstance(kernels, str | Kernel | Step) else list(kernels)
    labels = [shown(label)  # one line each
              for spec, named in zip(given, settings.convolutions, strict=True)
              for label in ([part.name for part in named.components] if SET_TAG in named.tags
                            else [spec if isinstance(spec, str) else named.name])]  # fmt: skip
    return replace(settings, kernels=members), labels


def _fed(drawing: Sheet | None, jobs: list[Job], options: RunOptions) -> OnRecord | None:
    """Return a callback that gives the sheet each report with its job (they come in order)."""
    if drawing is None:
        return None
    from convcli.pictures.montage import BankSheet, Response
    from convcli.run.job import job_source

    pending = iter(jobs)

    def add(report: Report) -> None:
        job = next(pending)
        # A bank's input that is no image, or missing, has no tile; a layer's job is its input.
        if job.kernel is not None or not isinstance(drawing, BankSheet):
            source = functools.partial(job_source, job, options)
            drawing.add(Response(job.kernel or 0, shown(job.label), source, job.target), report)

    return add


def _each(*calls: OnRecord | None) -> OnRecord:
    """Return one callback that passes each report to every call given."""

    def each(report: Report) -> None:
        for call in calls:
            if call is not None:
                call(report)

    return each


def usable_cpus() -> int:
    """Count the CPUs this process may run on: its affinity, within a cgroup's CPU quota."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:  # cgroup v2: "max 100000" or "150000 100000" (quota, period)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count or 1, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, count or 1)
