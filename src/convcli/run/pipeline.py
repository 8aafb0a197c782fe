"""One input through the kernels: read, filter, map the range, write, report.

Kernels and options are checked before any input is read; shapes, range
and output format are checked before any filtering (:mod:`convcli.run.prepare`);
an output appears only once it is whole (its encoder may take the rows as
they are made, into a temporary file: :mod:`convcli.run.streaming`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.catalog.kernel import Kernel
from convcli.choices import Depth, Range, Status
from convcli.engine import Geometry
from convcli.errors import InputError, Message, reason
from convcli.io.colour import as_rgb, luminance, luminance_dtype
from convcli.io.formats import OutputFormat, default_output
from convcli.io.metadata import Metadata
from convcli.io.picture import Header, Picture
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.io.reading import iter_frames, read_image
from convcli.io.writing import Frame
from convcli.ranges import (
    Reach,
    ranges_that_help,
    reach,
)
from convcli.report import Report, StageReport
from convcli.run.filtering import filter_and_map, filter_stage, map_whole
from convcli.run.layer import run_layer_stage
from convcli.run.model import InputPlan, LayerStage, Planned, Settings, Source, Stage
from convcli.run.output import (
    cut_to_8_bits,
    depth_name,
    output_metadata,
    tell_losses,
    write_map_files,
    write_output,
    write_output_frames,
)
from convcli.run.prepare import keeps_cmyk, output_mapping, prepare_input, written_maps
from convcli.run.streaming import Rows, Writer

if TYPE_CHECKING:
    from convcli.heat import HeatReducer
    from convcli.io.storage import Location

CLIP_WARNING = 0.01  # say so when more than 1% of the samples were clipped


def process(
    source: Source,
    target: Path | BinaryIO,
    settings: Settings,
    *,
    label: str,
    fmt: OutputFormat | None,
    dry_run: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    threads: int | None = None,
    heat_tile: bool = False,
    make_folder: bool = False,
    maps: Sequence[Location] = (),
) -> Report:
    """Run the pipeline on one input and write the result to ``target``.

    Every stage runs in bands of rows, and the last maps each band straight
    to the output's sample type, so no full-size float copy is made (except
    for ``rescale``, which needs the whole response, and between the stages
    of a pipeline).

    Parameters
    ----------
    source : Path or bytes
        The input file, or the bytes read from standard input.
    target : Path or binary stream
        The output file (written atomically) or a stream (standard output).
    settings : Settings
        What to do.
    label : str
        How the input is named in the report and in messages.
    fmt : OutputFormat or None
        The output format; None for the input's own.
    dry_run : bool
        Only read and plan: report the shapes, write nothing.
    max_pixels : int
        Refuse larger inputs before decoding them.
    threads : int or None
        Engine and PNG threads for this input; None: one per CPU.
    heat_tile : bool
        Put the first frame's response, reduced, in the report (see :func:`render`).
    make_folder : bool
        Make ``target``'s folder if it is missing (a batch's mirrored
        sub-folders), once the input has been read and filtered: an input
        that fails leaves no empty folder.
    maps : sequence of Path or UPath
        A bank's layer kernel: the file of each feature map, in order (the
        report names the first).

    Returns
    -------
    Report
        Status ``ok``; a failure raises instead.

    Raises
    ------
    InputError
        The input cannot be read or the output cannot be written.
    UsageError
        The settings do not fit this input (shapes, range, format).
    """
    output_label = str(maps[0]) if maps else "-" if not isinstance(target, Path) else str(target)
    pictures = Pictures(read_image(source, label, max_pixels, settings.frame or 0),
                        lambda like: iter_frames(source, like, label, max_pixels))  # fmt: skip
    # Where it can, the output is encoded beside the filtering (run/streaming.py).
    streams = not dry_run and not maps and Writer.wanted(target, threads, make_folder)
    writer = Writer(target, settings, output_label, threads) if streams else None
    done = render(pictures, settings, label=label, output_label=output_label, fmt=fmt,
                  dry_run=dry_run, max_pixels=max_pixels, threads=threads,
                  heat_tile=heat_tile, writer=writer)  # fmt: skip
    if done.frames is not None:
        if make_folder and isinstance(target, Path):
            create_folder(target.parent)
        if writer is None or not writer.wrote():
            write_rendered(target, done, settings, output_label, threads, maps)
    return done.finished()


def create_folder(folder: Path) -> None:
    """Make ``folder`` and its parents; failing, say so as the input's error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{folder}: cannot create the folder: {reason(error)}") from None


class Pictures:
    """An input's first picture (or its one frame), and how to read the frames after it."""

    def __init__(self, first: Picture, rest: Callable[[Header], Iterator[Picture]]) -> None:
        self.first: Picture | None = first
        self.rest = rest

    def take_first(self) -> Picture:
        """Return the first picture, kept here no longer (it is filtered, then let go)."""
        first, self.first = self.first, None
        assert first is not None, "the first picture is taken once"
        return first


@dataclass
class Rendered:
    """One input filtered: its output's frames (the first done, the rest as they are taken)."""

    report: Report
    planned: InputPlan
    frames: Iterator[Frame] | None  # None: a dry run
    several: bool  # written as an animation or a stack
    metadata: Metadata
    loop: int | None
    clipped: list[float]  # the largest share clipped in any frame, once every frame is taken
    started: float
    kernels: tuple[Kernel, ...]  # for the advice on what was clipped
    white: float = 1.0  # the input's: a float output's clipped values lie outside 0 to it

    def finished(self) -> Report:
        """Return the report, once every frame was taken: what was clipped, how long it took."""
        if self.frames is not None:
            floating = self.white if self.planned.depth == Depth.FLOAT32 else None
            mode = self.planned.range
            tell_clipped(self.report, self.clipped[0], mode, self.kernels, floating)
        self.report.seconds = time.perf_counter() - self.started
        return self.report


def render(
    pictures: Pictures,
    settings: Settings,
    *,
    label: str,
    output_label: str | None,
    fmt: OutputFormat | None,
    dry_run: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    threads: int | None = None,
    heat_tile: bool = False,
    writer: Writer | None = None,
) -> Rendered:
    """Plan one input and filter its first frame; the frames after it are filtered as taken.

    With ``heat_tile``, the first frame's response to the last stage, if it
    is 2-D, is reduced as it is made and put in the report (``heat_tile``):
    the values of a contact sheet's heat map. A ``writer`` is given the
    first frame's rows as they are made, where it takes them (see
    :meth:`Writer.start`).
    """
    started = time.perf_counter()
    report = Report(label, output_label, settings.kernel_name, settings.pad_mode)
    picture = pictures.take_first()
    if picture.note:
        report.notes.append(picture.note)
    like = picture.header  # the file's layout, for every frame
    picture = _as_needed(picture, settings, fmt, report)
    try:
        planned = prepare_input(picture.header, settings, fmt, max_pixels)
    except InputError as error:
        raise InputError(Message("{label}: {why}", label=label, why=error.said)) from None
    report.input_shape, report.output_shape = planned.input_shape, planned.output_shape
    report.range = planned.range
    if dry_run:
        report.status = Status.PLANNED  # worked out from the input; nothing written
        # Each stage's input: the picture's samples (or grey values), then the floats before.
        dtypes = [luminance_dtype(picture) if settings.gray else picture.pixels.dtype]
        dtypes += [np.dtype(np.float32)] * (len(planned.stages) - 1)
        report.stages = [
            stage_report(s, s.method_for(dtype), 0.0) for s, dtype in zip(planned.stages, dtypes,
                                                                       strict=True)
        ]  # fmt: skip
        return Rendered(report, planned, None, False, Metadata(), None, [0.0], started, ())

    clipped = [0.0]  # the largest share clipped in any frame
    filtered = written_maps(planned.stages, planned.format)
    heat: HeatReducer | None = None
    # A layer's maps, (H, W, C), are reduced map by map: a feature sheet's tiles.
    if heat_tile and (len(filtered) == 2 or planned.layered):
        from convcli.heat import HeatReducer  # only for a sheet of values: most runs need none

        heat = HeatReducer(filtered)
    tell_losses(report, picture, planned, settings)
    metadata = output_metadata(report, picture, settings, planned)
    beside = writer.filling(picture, planned, metadata) if writer else contextlib.nullcontext()
    with beside as rows:
        first = _render(picture, planned, settings, clipped, threads, report.stages, heat, rows)
    report.heat_tile = None if heat is None else heat.tile()
    several = settings.frame is None and picture.frames > 1 and planned.format.frames
    loop = picture.loop
    del picture  # filtered: the output is encoded without the input's pixels beside it
    frames: Iterator[Frame] = iter([first])
    if several:
        pages = _noted(pictures.rest(like), report)
        rest = _render_rest(pages, like, planned, settings, clipped, report, threads)
        frames = itertools.chain(frames, rest)
    # A layer's clipped maps are advised on without its weights' reach (no picture's response).
    advised = () if planned.layered else settings.convolutions
    return Rendered(report, planned, frames, several, metadata, loop, clipped, started, advised,
                    like.white)  # fmt: skip


def write_rendered(
    target: Path | BinaryIO,
    done: Rendered,
    settings: Settings,
    output_label: str,
    threads: int | None = None,
    maps: Sequence[Location] = (),
) -> None:
    """Write a filtered input's frames to its file (atomically) or stream.

    ``maps``: a bank's layer kernel writes feature map i to ``maps[i]`` instead.
    """
    assert done.frames is not None, "a dry run writes nothing"
    fmt = done.planned.format
    if fmt.split:
        values, _, _ = next(done.frames)
        write_map_files(maps, values, fmt, settings, done.metadata, threads)
    elif done.several:
        write_output_frames(target, done.frames, fmt, settings, done.metadata, done.loop,
                            output_label)  # fmt: skip
    else:
        values, alpha, _ = next(done.frames)
        write_output(target, values, alpha, fmt, settings, done.metadata, output_label, threads)


def tell_clipped(
    report: Report,
    share: float,
    mode: Range,
    kernels: tuple[Kernel, ...],
    floating: float | None = None,
) -> None:
    """Put the share of the output's values that were clipped in the report; note it past 1%."""
    report.clipped = share
    if share > CLIP_WARNING:
        report.clip_note = clip_note(report, share, mode, kernels, floating)


def clip_note(
    report: Report,
    share: float,
    mode: Range,
    kernels: tuple[Kernel, ...],
    floating: float | None = None,
) -> str:
    """Say what was clipped, where, why, and which range would show it, from the kernels' weights.

    The advice comes from what the kernels can give (their weights' signs
    and sums, see :func:`convcli.ranges.reach`), not from their names. A
    float output (``floating``: its white, the input's) holds any value:
    ``--range raw`` keeps them as they are.
    """
    where = "standard output" if report.output == "-" else report.output
    values = f"{report.input} with {report.kernel} -> {where}: {share:.0%} of the values"
    if floating is not None:
        return Message("{values} fell outside 0 to {white:g} and were clipped; {range} raw keeps "
                       "them", values=values, white=floating)  # fmt: skip
    how = reach([(kernel.matrices, kernel.bias) for kernel in kernels])
    *others, last = ranges_that_help(mode, how)
    helps = f"{', '.join(others)} or {last}" if others else last
    return Message(
        "{values} were clipped (range {mode}){why}; {range} {helps} shows them",
        values=values, mode=mode, why=_why_clipped(mode, how), helps=helps,
    )  # fmt: skip


def _why_clipped(mode: Range, how: Reach) -> str:
    if how.signed and how.centred:
        return ": weights that sum to 0 make the response signed"
    if how.signed and how.high > 1:
        return ": weights of both signs overshoot at edges, as expected"
    if not how.signed and mode == Range.OFFSET:
        return ": the response is never negative, and offset puts 0 at mid-grey"
    if math.isinf(how.high):
        return ": the kernel's bias lifts the response past white"
    if how.high > 1:
        return f": the response reaches up to {how.high:.3g} times white"
    return ""


def _noted(frames: Iterator[Picture], report: Report) -> Iterator[Picture]:
    """Pass the frames on, their decoders' warnings put among the report's notes."""
    for frame in frames:
        if frame.note and frame.note not in report.notes:
            report.notes.append(frame.note)
        yield frame


def _as_needed(
    picture: Picture, settings: Settings, fmt: OutputFormat | None, report: Report | None = None
) -> Picture:
    """Make a CMYK picture RGB where its output will not be CMYK."""
    if not picture.header.is_cmyk or keeps_cmyk(settings, fmt or default_output(picture.format)):
        return picture
    converted, how = as_rgb(picture)
    if report is not None:
        report.notes.append(f"{report.input}: {how}")
    return converted


def _render_rest(
    pages: Iterator[Picture],
    like: Header,
    planned: InputPlan,
    settings: Settings,
    clipped: list[float],
    report: Report,
    threads: int | None,
) -> Iterator[Frame]:
    """Filter the frames after the first, each page at its own depth where the output holds it.

    A TIFF holds each page's sample type; an animation of 8 bits does not:
    a note names each page of another depth than the first that is cut to
    8 bits (the first page's loss is told once, by ``tell_losses``).
    """
    filtered = written_maps(planned.stages, planned.format)
    for index, page in enumerate(pages, start=1):
        page = _as_needed(page, settings, planned.format)
        _, depth = output_mapping(filtered, page.header, settings, planned.format)
        if page.white != like.white and cut_to_8_bits(page, depth, settings):
            report.notes.append(
                f"{report.input}: page {index} is {depth_name(page.white)}, unlike the first "
                f"page ({depth_name(like.white)}): written at 8 bits"
            )
        yield _render(page, replace(planned, depth=depth), settings, clipped, threads)


def _render(
    picture: Picture,
    planned: InputPlan,
    settings: Settings,
    clipped: list[float],
    threads: int | None,
    timings: list[StageReport] | None = None,
    heat: HeatReducer | None = None,
    rows: Rows | None = None,
) -> Frame:
    """Filter one picture (or frame) through every stage and map it to the output's samples.

    With ``rows``, the last stage maps into its values and says as each band is final.
    """
    with np.errstate(all="ignore"):  # NaN and infinity in float inputs are IEEE values, not news
        return _render_frame(picture, planned, settings, clipped, threads, timings, heat, rows)


def _render_frame(
    picture: Picture,
    planned: InputPlan,
    settings: Settings,
    clipped: list[float],
    threads: int | None,
    timings: list[StageReport] | None,
    heat: HeatReducer | None,
    rows: Rows | None = None,
) -> Frame:
    x: npt.NDArray[np.generic] = luminance(picture) if settings.gray else picture.pixels
    alpha = picture.alpha
    for stage in planned.stages:
        stage_start, dtype = time.perf_counter(), x.dtype
        last = stage is planned.stages[-1]
        if isinstance(stage, Stage) and last:
            x, share = filter_and_map(x, stage, planned, picture.white, threads, heat, rows)
            clipped[0] = max(clipped[0], share)
        elif isinstance(stage, Stage):
            x = filter_stage(x, stage, threads)
        else:
            x = run_layer_stage(x, stage, settings, threads)
            if last:
                x, share = map_whole(x, planned, picture.white, heat)
                clipped[0] = max(clipped[0], share)
        if timings is not None:
            timings.append(stage_report(stage, stage.method_for(dtype), time.perf_counter()
                                     - stage_start))  # fmt: skip
        alpha = None if alpha is None else _sample(alpha, stage.geometry)
    if settings.colormap:
        from convcli.colormaps import colorize  # only for a run that asks for one

        x = colorize(x.astype(np.uint8, copy=False), settings.colormap)
    return x, alpha, picture.duration


def stage_report(stage: Planned, method: str, seconds: float | None) -> StageReport:
    """Report a stage: its window's geometry, what it gives, the method that ran, how long.

    ``seconds`` is None where the stages run interleaved (``--tile``).
    """
    weights = stage.kernel.shape if isinstance(stage, LayerStage) else None
    return StageReport(stage.name, stage.geometry, method, seconds, stage.output_shape,
                       stage.kind, weights)  # fmt: skip


def _sample(alpha: npt.NDArray[np.generic], geometry: Geometry) -> npt.NDArray[np.generic]:
    # Alpha is not filtered: each output takes the alpha under its kernel's anchor.
    indices = [
        np.clip(np.arange(out) * s - before + d * ((k - 1) // 2), 0, n - 1)
        for n, (before, _), k, s, d, out in zip(
            geometry.input_shape, geometry.padding, geometry.kernel_shape,
            geometry.stride, geometry.dilation, geometry.output_shape, strict=False,
        )
    ]  # fmt: skip
    return alpha[np.ix_(*indices)]
