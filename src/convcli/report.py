"""The report of what happened to each input: records, JSON Lines, and report files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.choices import StageKind, Status
from convcli.engine import Geometry
from convcli.errors import ParameterError, worded
from convcli.io.atomic import write_atomically
from convcli.text import to_json

if TYPE_CHECKING:
    from convcli.heat import HeatTile

RECORD_KEYS = (
    "input", "output", "status", "kernel", "input_shape", "kernel_shape", "padding",
    "pad_mode", "stride", "dilation", "output_shape", "method", "range", "clipped", "seconds",
    "error",
)  # fmt: skip
REPORT_SUFFIXES = (".json", ".csv")


@dataclass(frozen=True)
class StageReport:
    """One stage of a pipeline: where it slid, what it gave and how long it took."""

    kernel: str
    geometry: Geometry
    method: str
    seconds: float | None  # None: not timed on its own (--tile runs the stages interleaved)
    shape: tuple[int, ...] | None = None  # what it gave; None: the geometry's output
    kind: StageKind = StageKind.KERNEL
    weights: tuple[int, ...] | None = None  # a layer's (C_out, C_in/groups, kh, kw); else None

    @property
    def output_shape(self) -> tuple[int, ...]:
        """What the stage gave: a layer's maps are its filters', not its input's channels."""
        return self.geometry.output_shape if self.shape is None else self.shape

    def rows(self, names: tuple[str, ...], pad_mode: str) -> list[tuple[str, str]]:
        """Describe the stage for a table: what it is, where it slides, each axis's output size.

        The first row is the stage's kind (``kernel``, ``layer``, ``pool``,
        ``activation``) and name; ``names`` names the spatial axes.
        """
        g = self.geometry
        if self.kind == StageKind.ACTIVATION:
            return [(self.kind, f"{self.kernel}  value by value")]
        sides = ", ".join(f"{name} {b}+{a}" for name, (b, a) in zip(names, g.padding, strict=True))
        stride = ("stride", ", ".join(map(str, g.stride)))
        if self.kind == StageKind.POOL:
            fill = POOL_PADDING.get(self.method, pad_mode)
            sizes = [(f"{name} out", _pool_formula(g, axis)) for axis, name in enumerate(names)]
            return [(self.kind, f"{self.kernel}  window {_shape(g.kernel_shape)}"),
                    ("padding", f"{sides}  ({fill})"), stride, *sizes]  # fmt: skip
        what = f"{self.kernel}  {_shape(g.kernel_shape)}"
        if self.weights is not None:  # a layer: its filters, each over the channels of its group
            out, per_filter = self.weights[0], self.weights[-3]
            what = (f"{self.kernel}  {_shape(self.weights)}: {out} filter{'s' * (out != 1)} of "
                    f"{per_filter} channel{'s' * (per_filter != 1)} x "
                    f"{_shape(g.kernel_shape)}")  # fmt: skip
        return [(self.kind, what), ("padding", f"{sides}  ({pad_mode})"), stride,
                ("dilation", ", ".join(map(str, g.dilation))),
                *((f"{name} out", g.formula(axis)) for axis, name in enumerate(names))]  # fmt: skip


# How a pool fills its padding: never chosen by max, zeros counted in the mean (PyTorch's).
POOL_PADDING = {"maxpool": "never the largest", "avgpool": "zeros, counted in the mean"}


def _pool_formula(g: Geometry, axis: int) -> str:
    """Write a pool's output size as PyTorch does: floor((n + 2p - k) / s) + 1."""
    n, (p, _), k, s = g.input_shape[axis], g.padding[axis], g.kernel_shape[axis], g.stride[axis]
    return f"floor(({n} + 2*{p} - {k}) / {s}) + 1 = {g.output_shape[axis]}"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


@dataclass
class Report:
    """What happened to one input of :func:`convcli.batch` (and ``convcli apply``).

    Attributes
    ----------
    input, output : str
        The input's name, and its output's (None: standard output, or none written).
    kernel : str
        The kernels, as the record names them.
    status : str
        ``ok``, ``skipped``, ``error``, or ``planned`` (a dry run).
    input_shape, output_shape : tuple of int
        Shapes as read and as written (None when the input was not read).
    seconds : float
        The time it took.
    error : str or None
        Why it failed, or was skipped.
    notes : list of str
        What was said about it (a format's limits, a profile left out...).

    The rest is in :meth:`record`: the README's "The report record".

    Examples
    --------
    >>> from convcli.report import Report
    >>> done = Report("a.png", "a_sobel-x.png", "sobel-x", "reflect", seconds=0.25)
    >>> print(done.status, done.record()["kernel"])
    ok sobel-x
    >>> done.to_json()[:50]
    '{"input": "a.png", "output": "a_sobel-x.png", "sta'
    """

    input: str
    output: str | None
    kernel: str
    pad_mode: str
    status: Status = Status.OK
    stages: list[StageReport] = field(default_factory=list)
    input_shape: tuple[int, ...] | None = None  # of the file, alpha included
    output_shape: tuple[int, ...] | None = None  # of what is written
    seconds: float = 0.0
    error: str | None = None
    range: str | None = None  # the output mapping, once planned
    clipped: float | None = None  # the share of the output's values clipped, once written
    notes: list[str] = field(default_factory=list)  # for stderr, not for the record
    clip_note: str | None = None  # told once per run, not once per input
    once_notes: list[str] = field(default_factory=list)  # the same text told once per run
    heat_tile: HeatTile | None = None  # the response reduced, for a contact sheet; not recorded

    def word(self, option: Callable[[str], str]) -> None:
        """Name the parameters its error and notes name with ``option`` (the command line's)."""
        self.error = self.error and worded(self.error, option)
        self.notes = [worded(note, option) for note in self.notes]
        self.once_notes = [worded(note, option) for note in self.once_notes]
        self.clip_note = self.clip_note and worded(self.clip_note, option)

    def to_json(self) -> str:
        """Return :meth:`record` as one line of JSON: a line of ``convcli apply --json``."""
        return to_json(self.record())

    def record(self) -> dict[str, Any]:
        """Return the record of the README's "The report record" (and ``stages`` of a pipeline)."""
        single = self.stages[0] if len(self.stages) == 1 else None
        first = self.stages[0] if self.stages else None
        record: dict[str, Any] = {
            "input": self.input,
            "output": self.output if self.status in (Status.OK, Status.PLANNED) else None,
            "status": self.status,
            "kernel": self.kernel,
            "input_shape": _list(self.input_shape),
            # A pipeline's kernels differ in shape and padding: see "stages".
            "kernel_shape": _list(single.weights or single.geometry.kernel_shape)
            if single
            else None,
            "padding": _pairs(single.geometry.padding) if single else None,
            "pad_mode": self.pad_mode,
            "stride": _list(first.geometry.stride) if first else None,
            "dilation": _list(first.geometry.dilation) if first else None,
            "output_shape": _list(self.output_shape),
            "method": "+".join(stage.method for stage in self.stages) or None,
            "range": self.range,
            "clipped": None if self.clipped is None else round(self.clipped, 6),
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }
        if len(self.stages) > 1:
            record["stages"] = [_stage_record(stage, self.pad_mode) for stage in self.stages]
        return record


def _stage_record(stage: StageReport, pad_mode: str) -> dict[str, Any]:
    g = stage.geometry
    return {
        "kernel": stage.kernel,
        "input_shape": list(g.input_shape),
        "kernel_shape": list(stage.weights or g.kernel_shape),
        "padding": _pairs(g.padding),
        "pad_mode": pad_mode,
        "stride": list(g.stride),
        "dilation": list(g.dilation),
        "output_shape": list(stage.output_shape),
        "method": stage.method,
        "seconds": None if stage.seconds is None else round(stage.seconds, 6),
    }


def _list(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _pairs(padding: tuple[tuple[int, int], ...]) -> list[list[int]]:
    return [list(pair) for pair in padding]


def check_report_path(path: Path, outputs: Iterable[Path] = ()) -> None:
    """Refuse a report file that could not be written, or would replace an output.

    Checked before any work is done, so a bad path never costs the run.
    """
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ParameterError(
            f"report must end in {' or '.join(REPORT_SUFFIXES)} (a JSON array or CSV), got {path}",
            parameter="report",
        )
    if path.is_dir():
        raise ParameterError(f"report {path} is a folder; name a file", parameter="report")
    folder = path.parent
    if not folder.is_dir():
        raise ParameterError(
            f"report {path}: the folder {folder} does not exist", parameter="report"
        )
    where = path.resolve()
    if any(output.resolve() == where for output in outputs):
        raise ParameterError(f"report {path} is also an output of the run", parameter="report")


def write_report(path: Path, reports: list[Report]) -> None:
    """Write every record to ``path``: a JSON array, or CSV with one row per input."""
    records = [report.record() for report in reports]
    if path.suffix.lower() == ".json":
        text = to_json(records, indent=1) + "\n"
    else:
        import csv  # only for a .csv report: not at every start

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=RECORD_KEYS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _csv_cell(record[key]) for key in RECORD_KEYS})
        text = buffer.getvalue()
    data = text.encode("utf-8", "surrogateescape")  # CSV: a name's own bytes, as on disk
    write_atomically(path, lambda stream: stream.write(data))


def _csv_cell(value: object) -> object:
    return to_json(value) if isinstance(value, list) else value
