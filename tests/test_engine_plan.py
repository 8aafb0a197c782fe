"""The engine's plan: checked once, then as many bands, frames or tiles as asked, as convolve."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
from PIL import Image

import convcli.engine._plan
from convcli import ParameterError
from convcli.choices import Method
from convcli.engine import Convolution, ConvolutionPlan, convolve, convolve_bands
from helpers import run

RNG = np.random.default_rng(20261207)
GEOMETRIES = [
    dict(),
    dict(padding="valid", stride=2),
    dict(padding=((2, 0), (1, 3)), dilation=(2, 1), pad_mode="wrap", flip=True),
    dict(padding="full", pad_mode="zero", pad_value=7.5, stride=(1, 3)),
]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("options", GEOMETRIES, ids=str)
def test_a_plan_built_once_gives_convolve_s_numbers_for_every_frame(method, options):
    kernel = RNG.normal(size=(4, 3))
    frames = [(RNG.random((37, 29, 3)) * 255).astype(np.uint8) for _ in range(3)]
    plan = Convolution(kernel, method=method, **options).plan(frames[0].shape)
    for frame in frames:  # one plan, every frame of its shape
        whole = convolve(frame, kernel, method=method, **options)
        bands = [band for _, band in convolve_bands(plan, frame, threads=1)]
        assert np.array_equal(np.concatenate(bands), whole)


def test_the_plan_holds_the_kernel_as_applied_and_the_resolved_geometry():
    kernel = np.arange(6.0).reshape(2, 3)
    plan = Convolution(kernel, flip=True, stride=2, pad_mode="edge").plan((10, 11))
    assert np.array_equal(plan.taps, kernel[::-1, ::-1])
    assert plan.taps.dtype == np.float32
    assert plan.geometry.padding == ((0, 1), (1, 1))  # even: anchored before the centre
    assert plan.geometry.output_shape == (5, 6)  # ceil(10 / 2), ceil(11 / 2)
    assert plan.pad_mode == "replicate"
    assert plan.method != "auto"


BAD = [
    (dict(stride=0), "stride must be >= 1, got 0"),
    (dict(dilation=(1, -2)), "dilation"),
    (dict(padding="middle"), "padding"),
    (dict(pad_mode="mirror"), "pad_mode must be one of"),
    (dict(pad_value=float("nan")), "pad_value must be finite in float32, got nan"),
    (dict(pad_value=1e39), "pad_value must be finite in float32"),
    (dict(method="fastest"), "method must be one of"),
    (dict(dtype=np.int32), "dtype must be float32 or float64"),
    (dict(kernel=[[1.0, np.inf]]), "kernel must be finite, got inf at index (0, 1)"),
    (dict(kernel=[[1, 2], [3]]), "kernel must be a rectangular array of numbers"),
    (dict(kernel=[["a"]]), "kernel must hold real numbers"),
    (dict(padding="valid", dilation=9), "output would be empty along axis 0"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD, ids=[m for _, m in BAD])
def test_invalid_arguments_are_refused_at_plan_time_as_convolve_refuses_them(arguments, message):
    arguments = {"kernel": np.ones((3, 3)), **arguments}
    x = np.zeros((8, 9))
    with pytest.raises(ParameterError) as planned:
        Convolution(**arguments).plan(x.shape)
    with pytest.raises(ParameterError) as whole:
        convolve(x, **arguments)
    assert message in str(planned.value)
    assert str(planned.value) == str(whole.value)
    assert planned.value.parameter == whole.value.parameter


def test_a_plan_is_not_checked_again_for_each_band(monkeypatch):
    x = RNG.random((40, 30))
    plan = Convolution(RNG.random((3, 3)), method="direct").plan(x.shape)

    def refused(*_: object, **__: object) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(Convolution, "checked", refused)
    for name in ("resolve_geometry", "choose_method", "check_pad_value"):
        monkeypatch.setattr(convcli.engine._plan, name, refused)
    bands = list(convolve_bands(plan, x, rows=4, threads=1))
    assert len(bands) == 10


def test_an_input_the_plan_was_not_made_for_is_refused():
    plan = Convolution(np.ones((3, 3))).plan((8, 9))
    with pytest.raises(ParameterError, match=r"made for, \(8, 9\), got \(9, 8\)"):
        convolve_bands(plan, np.zeros((9, 8)))
    with pytest.raises(ParameterError, match="input must hold real numbers"):
        convolve_bands(plan, np.full((8, 9), "a"))


def test_convolve_s_keywords_are_the_convolution_s_fields():
    # The keywords are declared once, by Convolution; convolve's signature is the library's
    # contract (README, "The library") and must not drift from it.
    fields = [(f.name, f.type, f.default) for f in dataclasses.fields(Convolution)]
    parameters = inspect.signature(convolve).parameters.values()
    keywords = [(p.name, p.annotation, p.default) for p in parameters if p.name != "threads"]
    assert [name for name, _, _ in keywords[:2]] == ["x", "kernel"]
    assert fields[0][:2] == keywords[1][:2]  # the kernel, positional: no default
    assert fields[1:] == keywords[2:]  # the keywords: names, types, defaults, in order


def test_the_run_plans_each_stage_twice_whatever_the_frames_and_passes(tmp_path, monkeypatch):
    frames = [Image.fromarray((RNG.random((24, 32)) * 255).astype(np.uint8)) for _ in range(3)]
    source = tmp_path / "moving.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=50, loop=0)
    made = []
    plan = Convolution.plan

    def counted(self: Convolution, shape: tuple[int, ...]) -> ConvolutionPlan:
        made.append(shape)
        return plan(self, shape)

    monkeypatch.setattr(Convolution, "plan", counted)
    # sobel is two matrices, box one; rescale filters twice (extremes first), over 3 frames.
    # Each matrix is planned when the run is checked, from the header, and again when its job
    # reads the input: 2 x 3 plans, never one per frame or pass (that would be 3 x 3 x 2 more).
    done = run("apply", str(source), "-k", "sobel", "-k", "box", "--range", "rescale",
               "-o", str(tmp_path / "edges.gif"))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert made == [made[0]] * 2 * 3
