"""A layer's stages on pixels: its kernel over every channel, and its steps, by the engine.

Planned with the rest of the pipeline (:mod:`convcli.run.prepare`); run here
by the engine's own functions: :func:`~convcli.engine.convolve_layer`
(``channels="sum"``), the pools and the activations. ``--tile`` runs the
same: the layer's :func:`layer_convolution` in tiles, a step on each tile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from convcli.choices import Activation, Pool
from convcli.run.model import LayerStage, Settings, StepStage

if TYPE_CHECKING:
    from convcli.engine import Convolution


def run_layer_stage(
    x: npt.NDArray[np.generic],
    stage: LayerStage | StepStage,
    settings: Settings,
    threads: int | None,
) -> npt.NDArray[np.floating]:
    """Run a layer (each filter over every channel) or a step (each map on its own)."""
    from convcli import engine

    if isinstance(stage, LayerStage):
        kernel = stage.kernel
        return engine.convolve_layer(x, layer_convolution(stage, settings), kernel.filter_bias,
                                     kernel.groups, threads)  # fmt: skip
    return run_step(x, stage)


def layer_convolution(stage: LayerStage, settings: Settings) -> Convolution:
    """Return the layer's weights and settings as the engine takes them, whole or in tiles."""
    from convcli import engine

    g = stage.geometry
    return engine.Convolution(stage.kernel.matrices[0], padding=g.padding,
                              pad_mode=settings.pad_mode, pad_value=settings.pad_value,
                              stride=g.stride, dilation=g.dilation, flip=settings.flip,
                              method=stage.method)  # fmt: skip


def run_step(x: npt.NDArray[np.generic], stage: StepStage) -> npt.NDArray[np.floating]:
    """Run an activation (value by value) or a pool (each map's windows) on ``x``."""
    from convcli import engine

    step = stage.step
    if step.kind is Pool.MAX:
        return engine.max_pool(x, step.size, step.stride, step.padding)
    if step.kind is Pool.AVG:
        return engine.avg_pool(x, step.size, step.stride, step.padding)
    if step.kind is Activation.LEAKY_RELU:
        return engine.leaky_relu(x, step.slope)
    activations = {Activation.RELU: engine.relu, Activation.TANH: engine.tanh,
                   Activation.SIGMOID: engine.sigmoid, Activation.ABS: engine.absolute}  # fmt: skip
    return activations[Activation(step.kind)](x)
