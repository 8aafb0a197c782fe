"""One job's execution: its input read, filtered and written, or its failure reported.

A failure of the input (it cannot be read, or its output cannot be
written, or memory runs out) becomes an error report; a usage error is
raised, as it concerns the whole run. A tiled job is run by the runner
given (the tiled path lives with Dask, in :mod:`convcli.distributed`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from convcli.choices import Status
from convcli.errors import InputError, UsageError
from convcli.io.storage import is_remote, read_object, write_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL, read_standard_input, standard_output
from convcli.report import Report
from convcli.run.model import Job, RunOptions, Settings, Source
from convcli.run.pipeline import create_folder, process

TiledRunner = Callable[[Job, Settings, RunOptions], Report]  # a job filtered in tiles
DIED = "the worker process died on this input (killed, or out of memory)"


def run_job(
    job: Job, settings: Settings, options: RunOptions, tiled: TiledRunner | None = None
) -> Report:
    """Run one job; a failure of this input becomes an error report.

    ``tiled`` runs a job that is filtered in tiles (it must be given if any is).
    """
    each = job.settings_for(settings)  # a bank's job: its one kernel
    try:
        if job.failure is not None:
            raise InputError(job.failure)
        if job.tiled and job.source is not None and job.target is not None:
            assert tiled is not None, "a tiled job needs a tiled runner"
            if isinstance(job.target, Path) and not options.dry_run:
                create_folder(job.target.parent)  # a tiled output is written as it is filtered
            return tiled(job, each, options)
        target = _target(job)
        report = process(
            job_source(job, options), target, each, label=job.label, fmt=job.format,
            dry_run=options.dry_run, max_pixels=options.max_pixels, threads=options.threads,
            heat_tile=options.heat_tiles, make_folder=True, maps=job.maps,
        )  # fmt: skip
        if isinstance(target, io.BytesIO) and is_remote(job.target):
            if not options.dry_run and not job.maps:  # a bank's layer wrote its maps' objects
                write_object(job.target, target.getvalue(), job.label)  # whole or not at all
            report.output = str(job.maps[0] if job.maps else job.target)
        return report
    except UsageError:
        raise
    except (InputError, MemoryError) as error:
        message = error.said if isinstance(error, InputError) else f"{job.label}: out of memory"
        return failed_report(job, settings, message)


def job_source(job: Job, options: RunOptions) -> Source:
    """Return the input: its file, or its bytes (standard input, a pipe's, an object's)."""
    limit = STDIN_BYTES_PER_PIXEL * options.max_pixels
    source = job.content or job.source
    if source is None:
        return read_standard_input(limit)
    if not isinstance(source, (Path, bytes)):  # an object in a store, read whole
        return read_object(source, job.label, limit)
    return source


def _target(job: Job) -> Path | BinaryIO:
    """Return where the output goes: its file, standard output, or a buffer for an object."""
    if job.target is None:
        return standard_output()
    if isinstance(job.target, Path):
        return job.target
    return io.BytesIO()  # an object in a store: encoded here, then written with one request


def failed_report(job: Job, settings: Settings, message: str) -> Report:
    """Return the error report of a job that failed with ``message``."""
    settings = job.settings_for(settings)
    return Report(job.label, None, settings.kernel_name, settings.pad_mode,
                  status=Status.ERROR, error=message)  # fmt: skip


def skipped_report(job: Job, settings: Settings, reason: str) -> Report:
    """Return the report of a job not run, for ``reason``."""
    settings = job.settings_for(settings)
    output = str(job.target) if job.target is not None else None
    return Report(job.label, output, settings.kernel_name, settings.pad_mode,
                  status=Status.SKIPPED, error=reason)  # fmt: skip
