"""A batch run, composed from the run's steps: what ``convcli apply`` runs beneath its options.

Planning (:func:`plan`), the cluster and the executor, the batch loop with
its observers (the command line's feedback, a bank's contact sheet), and
the report file (:func:`finish`). The command line maps its options to
these parameters and renders the feedback; nothing here reads an option or
writes to the terminal. Not public: from Python, :func:`convcli.apply`
filters one input; a batch is the command line's (README, "The library").
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.catalog.lookup import KERNEL_PATH_VARIABLE
from convcli.choices import MontageScale, Status
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.report import Report, check_report_path, write_report
from convcli.run.model import Job, RunOptions, Settings
from convcli.run.planning import RunPlan, plan_run

if TYPE_CHECKING:
    from convcli.pictures.montage import BankSheet, SheetRequest

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "KERNEL_PATH_VARIABLE",
    "BankSheet",
    "Report",
    "RunOptions",
    "RunPlan",
    "Settings",
    "SheetRequest",
    "bank_of",
    "check_report_path",
    "cluster",
    "finish",
    "plan_run",
    "run",
    "sheet_drawing",
    "sheet_request",
    "usable_cpus",
]

OnReport = Callable[[Report], None]


def cluster(scheduler: str | None, workers: int, inputs: list[str]) -> AbstractContextManager[Any]:
    """Open the cluster asked for: its client (a Dask Client), or None."""
    if not scheduler:
        return contextlib.nullcontext()
    from convcli.distributed.cluster import session  # Dask: only when a cluster is asked for

    return session(scheduler, workers, inputs)


def run(
    planned: RunPlan,
    settings: Settings,
    options: RunOptions,
    client: Any,
    on_report: OnReport,
    drawing: BankSheet | None = None,
    label: Callable[[str], str] = str,
) -> list[Report]:
    """Run the batch on the executor its jobs call for; ``on_report`` and the sheet see each report.

    ``label`` shows an input's name on the sheet. A sheet of heat maps has
    each job reduce its values where it runs, into its report.
    """
    from convcli.distributed.executors import executor_for  # Dask itself only if asked for
    from convcli.run.batch import run_batch

    if drawing is not None and drawing.heat:
        options = replace(options, heat_tiles=True)
    each = _each(on_report, _fed(drawing, planned.jobs, options, label))
    executor = executor_for(planned.jobs, options, client)
    return run_batch(planned.jobs, settings, options, executor, each)


def finish(reports: list[Report], report: Path | None, drawing: BankSheet | None) -> bool:
    """Write the report file and the contact sheet; return whether any input failed."""
    if report is not None:
        write_report(report, reports)
    if drawing:  # after the records and the report: a sheet that cannot be written loses neither
        drawing.write()
    return any(done.status == Status.ERROR for done in reports)


def bank_of(settings: Settings, specs: Sequence[str]) -> tuple[Settings, list[str]]:
    """Return a bank's settings and tile labels, each set's members in its place (``kirsch``)."""
    from convcli.catalog.sets import SET_TAG, bank_members

    labels = [label for spec, kernel in zip(specs, settings.kernels, strict=True)
              for label in ([part.name for part in kernel.components]
                            if SET_TAG in kernel.tags else [spec])]  # fmt: skip
    return replace(settings, kernels=bank_members(settings.kernels)), labels


def sheet_request(path: str, scale: str | None) -> SheetRequest:
    """Return the contact sheet asked for: where, in which format, on which scale."""
    from convcli.choices import choose
    from convcli.pictures.montage import SheetRequest, picture_path  # Pillow: only for a sheet

    chosen = None if scale is None else choose(MontageScale, scale, "montage_scale")
    return SheetRequest(*picture_path(path, "montage"), chosen)


def sheet_drawing(
    request: SheetRequest, settings: Settings, labels: Sequence[str], options: RunOptions
) -> BankSheet:
    """Return the sheet to draw as the reports arrive; ``labels`` name the kernels' tiles."""
    return request.drawing(settings, labels, options.max_pixels)


def _fed(
    drawing: BankSheet | None,
    jobs: list[Job],
    options: RunOptions,
    label: Callable[[str], str],
) -> OnReport | None:
    """Return a callback that gives the sheet each report with its job (they come in order)."""
    if drawing is None:
        return None
    from convcli.pictures.montage import Response
    from convcli.run.job import job_source

    pending = iter(jobs)

    def add(report: Report) -> None:
        job = next(pending)
        if job.kernel is not None:  # an input that is no image, or missing, has no tile
            source = functools.partial(job_source, job, options)
            response = Response(job.kernel, label(job.label), source, job.target)
            drawing.add(response, report)

    return add


def _each(*calls: OnReport | None) -> OnReport:
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
