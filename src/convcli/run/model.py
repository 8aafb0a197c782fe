"""What a run does and how: settings, stages, an input's plan, jobs and run options.

Plain data, no behaviour beyond naming: every other module of the run
takes these and imports nothing above them. What is done to every input
(:class:`Settings`) is kept apart from how the run goes (:class:`RunOptions`:
processes, threads, limits): the first is written into every output's
provenance, the second never is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from convcli.catalog.kernel import Kernel, Step
from convcli.choices import INTEGER_METHOD, Colormap, Depth, Method, PadMode, Range, StageKind
from convcli.io.pillow import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    import numpy as np

    from convcli.catalog.kernel import Matrix
    from convcli.engine import ConvolutionPlan, Geometry
    from convcli.io.formats import OutputFormat
    from convcli.io.storage import Location

Source = Path | bytes  # a file, or the bytes of standard input


@dataclass(frozen=True)
class Settings:
    """Everything ``apply`` does to every input (what, not how: see :class:`RunOptions`)."""

    kernels: tuple[Kernel | Step, ...]  # a pipeline, in order: kernels, and a layer's steps
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
    colormap: Colormap | None = None  # a false-colour map for the (single-channel) response
    strip: bool = False  # leave out the input's colour profile, EXIF and resolution
    frame: int | None = None  # one frame (or page) of each input, from 0; None: all
    quality: int | None = None  # JPEG and WebP; None: a JPEG input's own tables, else 95

    @property
    def kernel_name(self) -> str:
        """The pipeline's name, as reported: ``sobel-x+gaussian:sigma=2``."""
        return "+".join(kernel.name for kernel in self.kernels)

    @property
    def convolutions(self) -> tuple[Kernel, ...]:
        """The pipeline's kernels, its steps (activations, pools) left out."""
        return tuple(kernel for kernel in self.kernels if isinstance(kernel, Kernel))

    @property
    def kernel_range(self) -> Range | None:
        """The last kernel's own range (a step has none): the output's, unless one is given."""
        ranges = [kernel.range for kernel in self.convolutions]
        return ranges[-1] if ranges else None


def one_kernel(settings: Settings, kernel: int | None) -> Settings:
    """Return the settings with only the kernel at index ``kernel`` (None: all of them)."""
    return settings if kernel is None else replace(settings, kernels=(settings.kernels[kernel],))


@dataclass(frozen=True)
class Stage:
    """One kernel of the pipeline, resolved for one input shape: each channel filtered alone."""

    kernel: Kernel
    matrices: tuple[Matrix, ...]
    geometry: Geometry
    method: Method
    plans: tuple[ConvolutionPlan, ...]  # the engine's, one per matrix: checked when planning
    kind = StageKind.KERNEL

    @property
    def name(self) -> str:
        """The kernel's, as reported."""
        return self.kernel.name

    @property
    def output_shape(self) -> tuple[int, ...]:
        """What it gives: the input's channels kept."""
        return self.geometry.output_shape

    def method_for(self, dtype: np.dtype[Any]) -> str:
        """Name what filters inputs of ``dtype``: ``separable``, or ``integer-int16`` (exact sums).

        A kernel of several matrices, some summed in integers and some not,
        is named both ways: ``direct/integer-int16``.
        """
        sums = [plan.sum_type(dtype) for plan in self.plans]
        widest = max((s for s in sums if s is not None), key=lambda s: s.itemsize, default=None)
        integer = None if widest is None else f"{INTEGER_METHOD}-{widest.name}"
        floating = str(self.method) if None in sums else None
        return "/".join(name for name in (floating, integer) if name)


@dataclass(frozen=True)
class LayerStage:
    """A layer's kernel, resolved for one input shape: each filter sums over the channels.

    Run by the engine's :func:`~convcli.engine.convolve_layer` (``channels="sum"``), whole,
    or in tiles by :func:`~convcli.distributed.tiles.convolve_layer_tiles`.
    """

    kernel: Kernel  # 3-D (C_in, kh, kw) or 4-D (C_out, C_in/groups, kh, kw) weights
    geometry: Geometry  # of the input (H, W, C_in) and the filters' window (kh, kw)
    method: Method
    kind = StageKind.LAYER

    @property
    def name(self) -> str:
        """The kernel's, as reported."""
        return self.kernel.name

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The feature maps: ``(H', W', C_out)``; one filter's (3-D weights) ``(H', W')``."""
        rows, columns = self.geometry.output_shape[:2]
        single = len(self.kernel.shape) == 3
        return (rows, columns) if single else (rows, columns, self.kernel.filters)

    def method_for(self, dtype: np.dtype[Any]) -> str:
        """Name what sums the layer: ``auto``'s matrix products, or the method asked for."""
        return "layer" if self.method is Method.AUTO else f"layer-{self.method}"


@dataclass(frozen=True)
class StepStage:
    """An activation or a pool, resolved for one input shape: each map on its own."""

    step: Step
    geometry: Geometry  # a pool's window, stride and padding; an activation's is 1 x 1

    @property
    def name(self) -> str:
        """The step's, as reported."""
        return self.step.name

    @property
    def kind(self) -> StageKind:
        """A pool (it slides a window) or an activation (value by value)."""
        return StageKind.POOL if self.step.pool else StageKind.ACTIVATION

    @property
    def output_shape(self) -> tuple[int, ...]:
        """What it gives: a pool's smaller maps, an activation's the same."""
        return self.geometry.output_shape

    def method_for(self, dtype: np.dtype[Any]) -> str:
        """Name what it runs: the engine's function of the step's kind."""
        return str(self.step.kind)


Planned: TypeAlias = Stage | LayerStage | StepStage  # one stage of the pipeline, planned


@dataclass(frozen=True)
class InputPlan:
    """What will be done to one input, worked out from its header alone."""

    stages: list[Planned]
    format: OutputFormat
    range: Range
    depth: Depth
    input_shape: tuple[int, ...]  # of the file, alpha included
    output_shape: tuple[int, ...]  # of what is written, alpha included

    @property
    def layered(self) -> bool:
        """Whether a layer or a step is among the stages: the samples are then 0 to 1 (ToTensor)."""
        return not all(isinstance(stage, Stage) for stage in self.stages)


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
    kernel: int | None = None  # of a bank: which one of the run's kernels it applies
    maps: tuple[Location, ...] = ()  # a bank's layer kernel: one file per feature map, in order

    @property
    def tiled(self) -> bool:
        """Whether the input is filtered in tiles (asked for, or an .npy over the pixel limit)."""
        return self.tile is not None

    def settings_for(self, settings: Settings) -> Settings:
        """Return what this job does: the run's settings, or its one kernel of a bank's."""
        return one_kernel(settings, self.kernel)


@dataclass(frozen=True)
class RunOptions:
    """How to run the jobs (not what to do to each: that is :class:`Settings`)."""

    workers: int = 1  # processes for a batch, threads for a tiled input
    fail_fast: bool = False
    dry_run: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int | None = None  # engine threads per image; None: one per CPU
    heat_tiles: bool = False  # each report carries its response reduced: a sheet's heat map
