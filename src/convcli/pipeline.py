"""One input through the kernels: read, filter, map the range, write, report.

Kernels and options are checked before any input is read; shapes, range
and output format are checked before any filtering; nothing is written
until the whole result is ready.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.choices import Colormap, FileFormat, Method, PadMode, Range
from convcli.colormaps import colorize
from convcli.engine import (
    Convolution,
    ConvolutionPlan,
    Geometry,
    PaddingSpec,
    choose_method,
    convolve_bands,
    padded_reads,
    resolve_geometry,
)
from convcli.errors import InputError, ParameterError, UsageError
from convcli.io.formats import OutputFormat, default_output
from convcli.io.images import (
    DEFAULT_MAX_PIXELS,
    Header,
    Picture,
    as_rgb,
    iter_frames,
    luminance,
    read_image,
)
from convcli.io.writing import Frame
from convcli.kernels.kernel import Kernel, Matrix
from convcli.output import (
    cut_to_8_bits,
    depth_name,
    output_metadata,
    tell_losses,
    write_output,
    write_output_frames,
)
from convcli.ranges import Reach, finite_bounds, map_range, ranges_that_help, reach
from convcli.report import Report, StageReport

AXES = {1: "samples", 2: "rows x columns", 3: "planes x rows x columns"}
CLIP_WARNING = 0.01  # say so when more than 1% of the samples were clipped
Source = Path | bytes  # a file, or the bytes of standard input


@dataclass(frozen=True)
class Settings:
    """Everything ``apply`` does to every input."""

    kernels: tuple[Kernel, ...]
    padding: str | tuple[int, ...] = "same"  # a name, or 1, ndim or 2*ndim numbers
    pad_mode: PadMode = PadMode.REFLECT
    pad_value: float = 0.0
    stride: tuple[int, ...] = (1,)
    dilation: tuple[int, ...] = (1,)
    flip: bool = False
    gray: bool = False
    range: Range | None = None  # None: the last kernel's, else clip (raw for .npy output)
    method: Method = Method.AUTO
    format: str | None = None  # None: from the output's suffix, else the input's
    compress_level: int | None = None  # None: the fast PNG default
    threads: int | None = None  # engine threads per image; None: one per CPU
    colormap: Colormap | None = None  # a false-colour map for the (single-channel) response
    strip: bool = False  # leave out the input's colour profile, EXIF and resolution
    frame: int | None = None  # one frame (or page) of each input, from 0; None: all
    quality: int | None = None  # JPEG and WebP; None: a JPEG input's own tables, else 95
    tile: int | None = None  # filter in tiles of this many output samples a side (Dask)

    @property
    def kernel_name(self) -> str:
        """The pipeline's name, as reported: ``sobel-x+gaussian:sigma=2``."""
        return "+".join(kernel.name for kernel in self.kernels)


@dataclass(frozen=True)
class Stage:
    """One kernel of the pipeline, resolved for one input shape."""

    kernel: Kernel
    matrices: tuple[Matrix, ...]
    geometry: Geometry
    method: Method
    convolutions: tuple[Convolution, ...]  # the engine's arguments, one per matrix

    @cached_property
    def plans(self) -> tuple[ConvolutionPlan, ...]:
        """The engine's plans, built when the stage first filters, then kept for every frame.

        Not when planning: a dry run checks what it always did (the fill value's bounds
        are checked by the engine).
        """
        return tuple(asked.plan(self.geometry.input_shape) for asked in self.convolutions)


def plan(
    shape: tuple[int, ...],
    is_image: bool,
    settings: Settings,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Stage]:
    """Resolve every stage's geometry for an input shape, computing nothing.

    On an image a 1-D kernel is a row (it filters along each row, as written
    on one line), and 3-D kernels are refused.

    Raises
    ------
    UsageError
        If an option does not fit a kernel, a stage's output would be empty,
        or what a stage allocates would pass the limits of :func:`check_size`.
    """
    stages = []
    for kernel in settings.kernels:
        matrices = kernel.matrices
        if is_image:
            matrices = tuple(_as_image_kernel(matrix, kernel.name) for matrix in matrices)
        ndim = matrices[0].ndim
        geometry = resolve_geometry(
            shape,
            matrices[0].shape,
            padding=padding_for(settings.padding, ndim),
            stride=per_axis("stride", settings.stride, ndim),
            dilation=per_axis("dilation", settings.dilation, ndim),
        )
        method = choose_method(settings.method, matrices[0], geometry)
        check_size(kernel.name, geometry, method, max_pixels)
        convolutions = tuple(
            Convolution(matrix, padding=geometry.padding, pad_mode=settings.pad_mode,
                        pad_value=settings.pad_value, stride=geometry.stride,
                        dilation=geometry.dilation, flip=settings.flip, method=method)
            for matrix in matrices
        )  # fmt: skip
        stages.append(Stage(kernel, matrices, geometry, method, convolutions))
        shape = geometry.output_shape
    return stages


def padding_for(padding: str | tuple[int, ...], ndim: int) -> PaddingSpec:
    """Turn the padding as written (a word, or 1, ndim or 2*ndim numbers) into the engine's form.

    Examples
    --------
    >>> padding_for((1, 2, 3, 4), 2)
    ((1, 2), (3, 4))
    """
    if isinstance(padding, str):
        return padding
    if len(padding) == 1:
        return padding[0]
    if len(padding) == ndim:
        return padding
    if len(padding) == 2 * ndim:  # before/after per axis: T,B,L,R for an image
        return tuple(zip(padding[::2], padding[1::2], strict=True))
    counts = sorted({1, ndim, 2 * ndim})
    raise ParameterError(
        f"padding takes {', '.join(map(str, counts))} numbers for a {ndim}-D kernel, "
        f"got {len(padding)}",
        parameter="padding",
    )


def per_axis(name: str, values: tuple[int, ...], ndim: int) -> int | tuple[int, ...]:
    """Turn a stride or dilation as written into one value, or one per axis of the kernel."""
    if len(values) == 1:
        return values[0]
    if len(values) == ndim:
        return values
    raise ParameterError(
        f"{name} takes 1 or {ndim} numbers for a {ndim}-D kernel, got {len(values)}",
        parameter=name,
    )


def check_size(name: str, geometry: Geometry, method: Method, max_pixels: int) -> None:
    """Refuse a stage whose output, or the padded input it reads, passes the limits.

    The output may hold ``max_pixels`` pixels, as the input may. The padded
    rows the engine reads, all bands together, may hold ``8 * max_pixels``
    values: an RGBA image at the limit, read at most twice. So a padding of a
    million, or a dilation that reaches far beyond the image, is refused here
    with its numbers, instead of running out of memory or for hours.

    Raises
    ------
    UsageError
        Naming the kernel, the sizes and the limit.
    """
    spatial = geometry.output_shape[: geometry.spatial_ndim]
    pixels = math.prod(spatial)
    if pixels > max_pixels:
        size = "x".join(map(str, spatial))
        axes = AXES.get(len(spatial), "axes")
        raise UsageError(
            f"{name}: the output would be {size} ({axes}) = {pixels:,} points "
            f"(padding {_sides(geometry)}), over the limit of {max_pixels:,}; "
            "use less padding, or raise --max-pixels"
        )
    total, _ = padded_reads(geometry, method)
    if total > 8 * max_pixels:
        raise UsageError(
            f"{name}: the padded input would hold {total:,} values to read (padding "
            f"{_sides(geometry)}, stride {','.join(map(str, geometry.stride))}), over the "
            f"limit of {8 * max_pixels:,} (8 x --max-pixels); use less padding, "
            "or raise --max-pixels"
        )


def _sides(geometry: Geometry) -> str:
    return ",".join(f"{before},{after}" for before, after in geometry.padding)


@dataclass(frozen=True)
class Plan:
    """What will be done to one input, worked out from its header alone."""

    stages: list[Stage]
    format: OutputFormat
    range: Range
    depth: str  # uint8, uint16 or float32
    input_shape: tuple[int, ...]  # of the file, alpha included
    output_shape: tuple[int, ...]  # of what is written, alpha included


def prepare(
    header: Header,
    settings: Settings,
    fmt: OutputFormat | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Plan:
    """Check that ``settings`` fit an input and plan every stage, without any pixels.

    Raises
    ------
    UsageError
        If a stage's output would be empty, or the output cannot be written as asked.
    """
    fmt = fmt or default_output(header.format)
    if settings.frame is not None and settings.frame >= header.frames:
        raise ParameterError(
            f"frame {settings.frame} is past the last: the input has {header.frames} "
            f"frame{'s' * (header.frames != 1)}, numbered from 0",
            parameter="frame",
        )
    shape = header.shape
    if header.is_cmyk and not keeps_cmyk(settings, fmt):
        shape = (*shape[:2], 3)  # made RGB before filtering (see process)
    if settings.gray and header.is_image and len(shape) == 3:
        shape = shape[:2]
    stages = plan(shape, header.is_image, settings, max_pixels)
    filtered = stages[-1].geometry.output_shape
    mode, depth = _output_mapping(filtered, header, settings, fmt)
    if settings.colormap:
        filtered = (*filtered[:2], 3)
    written = _with_alpha(filtered, header.alpha and fmt.alpha)
    return Plan(stages, fmt, mode, depth, header.file_shape, written)


def process(
    source: Source,
    target: Path | BinaryIO,
    settings: Settings,
    *,
    label: str,
    fmt: OutputFormat | None,
    dry_run: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
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
    started = time.perf_counter()
    output_label = "-" if not isinstance(target, Path) else str(target)
    report = Report(label, output_label, settings.kernel_name, settings.pad_mode)
    picture = read_image(source, label, max_pixels, settings.frame or 0)
    if picture.note:
        report.notes.append(picture.note)
    like = picture.header  # the file's layout, for every frame
    picture = _as_needed(picture, settings, fmt, report)
    try:
        planned = prepare(picture.header, settings, fmt, max_pixels)
    except InputError as error:
        raise InputError(f"{label}: {error}") from None
    report.input_shape, report.output_shape = planned.input_shape, planned.output_shape
    report.range = planned.range
    if dry_run:
        report.status = "planned"  # worked out from the input; nothing written
        report.stages = [
            StageReport(s.kernel.name, s.geometry, s.method, 0.0) for s in planned.stages
        ]
        report.seconds = time.perf_counter() - started
        return report

    clipped = [0.0]  # the largest share clipped in any frame
    first = _render(picture, planned, settings, clipped, report.stages)
    tell_losses(report, picture, planned, settings)
    every = settings.frame is None and picture.frames > 1
    metadata = output_metadata(report, picture, settings, planned)
    loop = picture.loop
    del picture  # filtered: the output is encoded without the input's pixels beside it
    if every and planned.format.frames:
        pages = _noted(iter_frames(source, like, label, max_pixels), report)
        rest = _render_rest(pages, like, planned, settings, clipped, report)
        write_output_frames(target, itertools.chain([first], rest), planned.format, settings,
                      metadata, loop, output_label)  # fmt: skip
    else:
        write_output(target, first[0], first[1], planned.format, settings, metadata, output_label)
    tell_clipped(report, clipped[0], planned.range, settings.kernels, planned.depth == "float32")
    report.seconds = time.perf_counter() - started
    return report


def tell_clipped(
    report: Report, share: float, mode: Range, kernels: tuple[Kernel, ...], floating: bool = False
) -> None:
    """Put the share of the output's values that were clipped in the report; note it past 1%."""
    report.clipped = share
    if share > CLIP_WARNING:
        report.clip_note = clip_note(report, share, mode, kernels, floating)


def clip_note(
    report: Report, share: float, mode: Range, kernels: tuple[Kernel, ...], floating: bool = False
) -> str:
    """Say what was clipped, where, why, and which range would show it, from the kernels' weights.

    The advice comes from what the kernels can give (their weights' signs
    and sums, see :func:`convcli.ranges.reach`), not from their names. A
    float output holds any value: ``--range raw`` keeps them as they are.
    """
    where = "standard output" if report.output == "-" else report.output
    if floating:
        return (
            f"{report.input} with {report.kernel} -> {where}: {share:.0%} of the values "
            "fell outside 0 to 1 and were clipped; --range raw keeps them"
        )
    how = reach([(kernel.matrices, kernel.bias) for kernel in kernels])
    *others, last = ranges_that_help(mode, how)
    helps = f"{', '.join(others)} or {last}" if others else last
    return (
        f"{report.input} with {report.kernel} -> {where}: {share:.0%} of the values were "
        f"clipped (range {mode}){_why_clipped(mode, how)}; --range {helps} shows them"
    )


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
    planned: Plan,
    settings: Settings,
    clipped: list[float],
    report: Report,
) -> Iterator[Frame]:
    """Filter the frames after the first, each page at its own depth where the output holds it.

    A TIFF holds each page's sample type; an animation of 8 bits does not:
    a note names each page of another depth than the first that is cut to
    8 bits (the first page's loss is told once, by ``tell_losses``).
    """
    filtered = planned.stages[-1].geometry.output_shape
    for index, page in enumerate(pages, start=1):
        page = _as_needed(page, settings, planned.format)
        _, depth = _output_mapping(filtered, page.header, settings, planned.format)
        if page.white != like.white and cut_to_8_bits(page, depth, settings):
            report.notes.append(
                f"{report.input}: page {index} is {depth_name(page.white)}, unlike the first "
                f"page ({depth_name(like.white)}): written at 8 bits"
            )
        yield _render(page, replace(planned, depth=depth), settings, clipped)


def _render(
    picture: Picture,
    planned: Plan,
    settings: Settings,
    clipped: list[float],
    timings: list[StageReport] | None = None,
) -> Frame:
    """Filter one picture (or frame) through every stage and map it to the output's samples."""
    with np.errstate(all="ignore"):  # NaN and infinity in float inputs are IEEE values, not news
        return _render_frame(picture, planned, settings, clipped, timings)


def _render_frame(
    picture: Picture,
    planned: Plan,
    settings: Settings,
    clipped: list[float],
    timings: list[StageReport] | None,
) -> Frame:
    x: npt.NDArray[np.generic] = luminance(picture) if settings.gray else picture.pixels
    alpha = picture.alpha
    for stage in planned.stages:
        stage_start = time.perf_counter()
        if stage is planned.stages[-1]:
            x, share = _filter_and_map(x, stage, settings, planned, picture.white)
            clipped[0] = max(clipped[0], share)
        else:
            x = _filter(x, stage, settings)
        if timings is not None:
            timings.append(_timed(stage, stage_start))
        alpha = None if alpha is None else _sample(alpha, stage.geometry)
    if settings.colormap:
        x = colorize(x.astype(np.uint8, copy=False), settings.colormap)
    return x, alpha, picture.duration


def _timed(stage: Stage, started: float) -> StageReport:
    return StageReport(
        stage.kernel.name, stage.geometry, stage.method, time.perf_counter() - started
    )


def _bands(
    x: npt.NDArray[np.generic], stage: Stage, settings: Settings
) -> Iterator[tuple[int, npt.NDArray[np.floating]]]:
    """Yield the stage's response in bands of rows: components combined, bias added."""
    streams = [convolve_bands(plan, x, threads=settings.threads) for plan in stage.plans]
    for parts in zip(*streams, strict=True):
        yield parts[0][0], combined([band for _, band in parts], stage.kernel.bias)


def combined(parts: list[npt.NDArray[np.floating]], bias: float) -> npt.NDArray[np.floating]:
    """Combine a kernel's component responses by their magnitude and add its bias, in place."""
    band = parts[0]
    if len(parts) > 1:
        np.square(band, out=band)
        for part in parts[1:]:
            band += np.square(part, out=part)
        np.sqrt(band, out=band)
    if bias:
        band += np.float32(bias)
    return band


def _filter(
    x: npt.NDArray[np.generic], stage: Stage, settings: Settings
) -> npt.NDArray[np.floating]:
    out = np.empty(stage.geometry.output_shape, dtype=np.float32)
    for start, band in _bands(x, stage, settings):
        out[start : start + len(band)] = band
    return out


def _filter_and_map(
    x: npt.NDArray[np.generic], stage: Stage, settings: Settings, planned: Plan, white: float
) -> tuple[npt.NDArray[np.generic], float]:
    """Filter and map to the output range band by band; return the values and the clipped share."""
    bounds = None
    if planned.range == Range.RESCALE:
        # The minimum and maximum of the whole response come first. Filtering twice,
        # keeping nothing the first time, stays banded; holding the float response
        # would not (benchmarks/README.md).
        found = [edges for _, band in _bands(x, stage, settings) if (edges := finite_bounds(band))]
        bounds = (min(low for low, _ in found), max(high for _, high in found)) if found else None
    bands = _bands(x, stage, settings)
    values = np.empty(stage.geometry.output_shape, dtype=planned.depth)
    clipped = 0.0
    for start, band in bands:
        mapped = map_range(band, planned.range, white=white, depth=planned.depth, bounds=bounds)
        values[start : start + len(band)] = mapped.values
        clipped += mapped.clipped * band.size
    return values, clipped / max(values.size, 1)


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


def _with_alpha(shape: tuple[int, ...], alpha: bool) -> tuple[int, ...]:
    if not alpha:
        return tuple(shape)
    channels = shape[2] if len(shape) == 3 else 1
    return (*shape[:2], channels + 1)


def _output_mapping(
    shape: tuple[int, ...], header: Header, settings: Settings, fmt: OutputFormat
) -> tuple[Range, str]:
    """Choose the range mode and sample type of the output; refuse what cannot be."""
    if settings.colormap:
        if fmt.is_array or settings.range == Range.RAW or len(shape) != 2:
            raise ParameterError(
                "colormap makes an 8-bit RGB picture of one channel: write an image "
                "format (not .npy), in a range other than raw",
                parameter="colormap",
            )
        return output_range(settings, fmt), "uint8"
    if fmt.is_array:
        return output_range(settings, fmt), "float32"
    image_shaped = len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4 * fmt.cmyk))
    if not image_shaped and header.is_image:  # the file's own layout: it fails alone
        raise InputError(f"its pixels are laid out as {shape}, which convcli cannot filter")
    if not image_shaped:
        raise UsageError(f"cannot write an array of shape {shape} as {fmt.name}; use .npy")
    mode = output_range(settings, fmt)
    if mode == Range.RAW:
        if "float32" not in fmt.depths:
            raise ParameterError(
                "range raw keeps float values: it needs a .npy, .tif, .pfm or .exr output",
                parameter="range",
            )
        return mode, "float32"
    if fmt.name == FileFormat.PNG and header.frames > 1 and settings.frame is None:
        return mode, "uint8"  # an animated PNG is written by Pillow, at 8 bits
    return mode, _depth(header, fmt)


def output_range(settings: Settings, fmt: OutputFormat) -> Range:
    """Return the range mode of an output: the settings', else the kernel's, else the format's."""
    if settings.colormap:
        # The kernel's range keeps its meaning (abs: zero at the map's low end); else stretch.
        return settings.range or settings.kernels[-1].range or Range.RESCALE
    if fmt.is_array:
        return settings.range or Range.RAW
    return settings.range or settings.kernels[-1].range or Range.CLIP


def keeps_cmyk(settings: Settings, fmt: OutputFormat) -> bool:
    """Whether a CMYK input is filtered and written as CMYK (each ink, as ImageMagick does)."""
    return fmt.cmyk and not settings.gray and settings.colormap is None


def _depth(header: Header, fmt: OutputFormat) -> str:
    # The input's own sample type where the format holds it, else 8 bits.
    if header.white == 65535 and "uint16" in fmt.depths:
        return "uint16"
    if header.white == 1.0 and header.is_image and "float32" in fmt.depths:
        return "float32"
    return "uint8"


def _as_image_kernel(matrix: Matrix, name: str) -> Matrix:
    if matrix.ndim == 1:
        return matrix[np.newaxis, :]
    if matrix.ndim == 2:
        return matrix
    raise UsageError(f"kernel {name} is {matrix.ndim}-D; images take 1-D or 2-D kernels")
