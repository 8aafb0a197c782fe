"""A layer's stages on pixels: its kernel over every channel, and its steps, by the engine.

Planned with the rest of the pipeline (:mod:`convcli.run.prepare`); run here
by the engine's own functions: :func:`~convcli.engine.convolve_channels`
(``channels="sum"``), the pools and the activations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from convcli.choices import Activation, Pool
from convcli.run.model import LayerStage, Settings, StepStage


def run_layer_stage(
    x: npt.NDArray[np.generic],
    stage: LayerStage | StepStage,
    settings: Settings,
    threads: int | None,
) -> npt.NDArray[np.floating]:
    """Run a layer (each filter over every channel) or a step (each map on its own)."""
    from convcli import engine

    if isinstance(stage, LayerStage):
        kernel, g = stage.kernel, stage.geometry
        return engine.convolve_channels(
            x, kernel.matrices[0], channels="sum", bias=kernel.filter_bias, groups=kernel.groups,
            padding=g.padding, pad_mode=settings.pad_mode, pad_value=settings.pad_value,
            stride=g.stride, dilation=g.dilation, flip=settings.flip, method=stage.method,
            threads=threads,
        )  # fmt: skip
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
