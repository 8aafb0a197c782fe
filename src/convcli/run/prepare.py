"""An input's plan from its header alone: each stage's geometry and method, the output's range.

No pixel is read and nothing is computed: planning a run checks every
input this way before the first output is written, and the pipeline
then follows the same plan.
"""

from __future__ import annotations

import math

import numpy as np

from convcli.catalog.kernel import Kernel, Matrix, Step
from convcli.choices import Depth, FileFormat, Method, Range
from convcli.engine import (
    Convolution,
    Geometry,
    PaddingSpec,
    choose_method,
    padded_reads,
    resolve_geometry,
)
from convcli.errors import InputError, Message, ParameterError, UsageError
from convcli.io.formats import OutputFormat, default_output
from convcli.io.picture import Header
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.run.model import InputPlan, LayerStage, Planned, Settings, Stage, StepStage

AXES = {1: "samples", 2: "rows x columns", 3: "planes x rows x columns"}


def resolve_stages(
    shape: tuple[int, ...],
    is_image: bool,
    settings: Settings,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Planned]:
    """Resolve every stage's geometry for an input shape, computing nothing.

    On an image a 1-D kernel is a row (it filters along each row, as written
    on one line), and a 3-D kernel is one filter of a layer (see
    :meth:`Kernel.sums_channels`).

    Raises
    ------
    UsageError
        If an option does not fit a kernel, a layer's channels are not the
        input's, a stage's output would be empty, or what a stage allocates
        would pass the limits of :func:`check_size`.
    ParameterError
        If the engine refuses a setting (the fill value's bounds) when it plans a stage.
    """
    stages: list[Planned] = []
    for item in settings.kernels:
        stage: Planned
        if isinstance(item, Step):
            stage = _step_stage(item, shape)
        elif item.sums_channels(is_image):
            stage = _layer_stage(item, shape, settings, max_pixels, first=not stages)
        else:
            stage = _kernel_stage(item, shape, is_image, settings, max_pixels)
        stages.append(stage)
        shape = stage.output_shape
    return stages


def _kernel_stage(
    kernel: Kernel, shape: tuple[int, ...], is_image: bool, settings: Settings, max_pixels: int
) -> Stage:
    """Plan a kernel that filters each channel on its own."""
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
    # Planned here, not when filtering: the engine's own checks (the fill value's bounds,
    # finite weights) refuse a dry run as they refuse the run, before anything is written.
    plans = tuple(_convolution(matrix, geometry, settings, method).plan(geometry.input_shape)
                  for matrix in matrices)  # fmt: skip
    return Stage(kernel, matrices, geometry, method, plans)


def _convolution(
    matrix: Matrix, geometry: Geometry, settings: Settings, method: Method
) -> Convolution:
    return Convolution(
        matrix,
        padding=geometry.padding,
        pad_mode=settings.pad_mode,
        pad_value=settings.pad_value,
        stride=geometry.stride,
        dilation=geometry.dilation,
        flip=settings.flip,
        method=method,
        integer=settings.method == Method.AUTO,
    )  # fmt: skip (auto: exact too)


def _layer_stage(
    kernel: Kernel, shape: tuple[int, ...], settings: Settings, max_pixels: int, first: bool
) -> LayerStage:
    """Plan a layer: its filters' channels must be the input's (checked from the header)."""
    if len(shape) not in (2, 3):
        raise UsageError(
            f"{kernel.name} is a layer: its input is (H, W) or (H, W, C_in), got shape "
            f"{'x'.join(map(str, shape))}"
        )
    channels = shape[2] if len(shape) == 3 else 1
    if channels != kernel.channels_in:
        what = "the input has" if first else "the stage before it gives"
        groups = f", groups={kernel.groups}" if kernel.groups > 1 else ""
        why = ""  # a colour map is drawn from the luminance: the input is grey (library.apply)
        if first and settings.colormap:
            why = " ({colormap} filters the luminance, as {gray} does)"
        elif first and settings.gray:
            why = " (after {gray})"
        raise UsageError(Message(
            "{name} takes {wanted} input channels (weights {shape}{groups}), but {what} {count}"
            + why, name=kernel.name, wanted=kernel.channels_in, groups=groups, what=what,
            shape="x".join(map(str, kernel.shape)), count=channels,
        ))  # fmt: skip
    window = kernel.shape[-2:]
    geometry = resolve_geometry(
        shape if len(shape) == 3 else (*shape, 1),
        window,
        padding=padding_for(settings.padding, 2),
        stride=per_axis("stride", settings.stride, 2),
        dilation=per_axis("dilation", settings.dilation, 2),
    )
    check_size(kernel.name, geometry, Method.MATRIX, max_pixels)
    stage = LayerStage(kernel, geometry, settings.method)
    maps = math.prod(stage.output_shape)
    if maps > 8 * max_pixels:
        raise _over_the_limit(
            f"{kernel.name}: the feature maps would hold {maps:,} values "
            f"({'x'.join(map(str, stage.output_shape))}), over the limit of {8 * max_pixels:,}",
            " (8 x {max_pixels})",
        )
    # The engine's checks of the settings (the fill value's bounds), on one filter's window.
    one = kernel.matrices[0][(0,) * (len(kernel.shape) - 2)]
    _convolution(one, geometry, settings, Method.DIRECT).plan(geometry.input_shape[:2])
    return stage


def _step_stage(step: Step, shape: tuple[int, ...]) -> StepStage:
    """Plan an activation (each value) or a pool (each map's windows)."""
    if not step.pool:
        window = (1,) * min(len(shape), 2)
        return StepStage(step, resolve_geometry(shape, window, padding=0))
    if len(shape) < 2:
        raise UsageError(f"{step.name} pools rows and columns; the input is 1-D")
    geometry = resolve_geometry(shape, (step.size, step.size), padding=step.padding,
                                stride=step.stride)  # fmt: skip
    return StepStage(step, geometry)


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
        raise _over_the_limit(
            f"{name}: the output would be {size} ({axes}) = {pixels:,} points "
            f"(padding {_sides(geometry)}), over the limit of {max_pixels:,}"
        )
    total, _ = padded_reads(geometry, method)
    if total > 8 * max_pixels:
        raise _over_the_limit(
            f"{name}: the padded input would hold {total:,} values to read (padding "
            f"{_sides(geometry)}, stride {','.join(map(str, geometry.stride))}), over the "
            f"limit of {8 * max_pixels:,}",
            " (8 x {max_pixels})",
        )


def _over_the_limit(why: str, limit: str = "") -> ParameterError:
    """Refuse what passes the limit (``--max-pixels``): ``why``, then ``limit`` (a template)."""
    return ParameterError(
        Message("{why}" + limit + "; use less padding, or raise {max_pixels}", why=why),
        parameter="max_pixels",
    )


def _sides(geometry: Geometry) -> str:
    return ",".join(f"{before},{after}" for before, after in geometry.padding)


def prepare_input(
    header: Header,
    settings: Settings,
    fmt: OutputFormat | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> InputPlan:
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
    stages = resolve_stages(shape, header.is_image, settings, max_pixels)
    if any(isinstance(s, LayerStage) for s in stages) and not (settings.colormap or fmt.maps):
        fmt = fmt.for_maps()  # a layer's maps are values, not colours (see for_maps)
    filtered = written_maps(stages, fmt)
    mode, depth = output_mapping(filtered, header, settings, fmt)
    if settings.colormap:
        filtered = (*filtered[:2], 3)
    written = _with_alpha(filtered, header.alpha and fmt.alpha)
    return InputPlan(stages, fmt, mode, depth, header.file_shape, written)


def written_maps(stages: list[Planned], fmt: OutputFormat) -> tuple[int, ...]:
    """Return the last stage's shape as written: one map ``(H, W, 1)`` is grey in a picture."""
    shape = stages[-1].output_shape
    picture = not (fmt.is_array or fmt.paged)
    if fmt.maps and picture and len(shape) == 3 and shape[2] == 1:
        return shape[:2]
    return shape


def output_mapping(
    shape: tuple[int, ...], header: Header, settings: Settings, fmt: OutputFormat
) -> tuple[Range, Depth]:
    """Choose the range mode and sample type of the output; refuse what cannot be."""
    if settings.colormap:
        if fmt.is_array or settings.range == Range.RAW or len(shape) != 2:
            raise ParameterError(
                "colormap makes an 8-bit RGB picture of one channel: write an image "
                "format (not .npy), in a range other than raw",
                parameter="colormap",
            )
        return output_range(settings, fmt), Depth.UINT8
    if fmt.maps:
        check_maps(shape, fmt, one_kernel=len(settings.kernels) == 1)
        shape = shape[:2] if fmt.split else shape  # each file holds one map
    if fmt.is_array or fmt.paged:
        return output_range(settings, fmt), Depth.FLOAT32
    image_shaped = len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4 * fmt.cmyk))
    if not image_shaped and header.is_image:  # the file's own layout: it fails alone
        raise InputError(f"its pixels are laid out as {shape}, which convcli cannot filter")
    if not image_shaped:
        raise UsageError(f"cannot write an array of shape {shape} as {fmt.name}; use .npy")
    mode = output_range(settings, fmt)
    if mode == Range.RAW:
        if Depth.FLOAT32 not in fmt.depths:
            raise ParameterError(
                "range raw keeps float values: it needs a .npy, .tif, .pfm or .exr output",
                parameter="range",
            )
        return mode, Depth.FLOAT32
    if fmt.name == FileFormat.PNG and header.frames > 1 and settings.frame is None:
        return mode, Depth.UINT8  # an animated PNG is written by Pillow, at 8 bits
    return mode, _depth(header, fmt)


def check_maps(shape: tuple[int, ...], fmt: OutputFormat, *, one_kernel: bool = True) -> None:
    """Refuse feature maps of ``shape`` that ``fmt`` cannot hold, naming what can.

    ``--bank`` (one file per map) is named only for ``one_kernel``: it
    refuses a pipeline's steps.
    """
    count = shape[2] if len(shape) == 3 else 1
    if not fmt.holds_maps(count):
        bank = ", or give {bank} for one file per map" if one_kernel else ""
        raise ParameterError(
            Message("{kind} holds 1 feature map (grey) or 3 (as RGB), not {count}: write .npy "
                    "or .tif for every map in one file" + bank, kind=fmt.name, count=count),
            parameter="bank",
        )  # fmt: skip


def output_range(settings: Settings, fmt: OutputFormat) -> Range:
    """Return the range mode of an output: the settings', else the kernel's, else the format's."""
    if settings.colormap:
        # The kernel's range keeps its meaning (abs: zero at the map's low end); else stretch.
        return settings.range or settings.kernel_range or Range.RESCALE
    if fmt.is_array:
        return settings.range or Range.RAW
    return settings.range or settings.kernel_range or Range.CLIP


def keeps_cmyk(settings: Settings, fmt: OutputFormat) -> bool:
    """Whether a CMYK input is filtered and written as CMYK (each ink, as ImageMagick does).

    A layer's filters take RGB: its maps have no inks.
    """
    layered = any(kernel.sums_channels(image=True) for kernel in settings.convolutions)
    return fmt.cmyk and not settings.gray and settings.colormap is None and not layered


def _depth(header: Header, fmt: OutputFormat) -> Depth:
    # The input's own sample type where the format holds it, else 8 bits.
    if header.white == 65535 and Depth.UINT16 in fmt.depths:
        return Depth.UINT16
    if header.white == 1.0 and header.is_image and Depth.FLOAT32 in fmt.depths:
        return Depth.FLOAT32
    return Depth.UINT8


def _with_alpha(shape: tuple[int, ...], alpha: bool) -> tuple[int, ...]:
    if not alpha:
        return tuple(shape)
    channels = shape[2] if len(shape) == 3 else 1
    return (*shape[:2], channels + 1)


def _as_image_kernel(matrix: Matrix, name: str) -> Matrix:
    if matrix.ndim == 1:
        return matrix[np.newaxis, :]
    if matrix.ndim == 2:
        return matrix
    raise UsageError(f"kernel {name} is {matrix.ndim}-D; images take 1-D or 2-D kernels")
