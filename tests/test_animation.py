"""Animations of the sliding window: each frame shows the step it claims, where it claims it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from convcli.engine import convolve
from convcli.errors import UsageError
from convcli.explanation import worked_out
from convcli.limits import MAX_ANIMATION_FRAMES
from convcli.pictures.animation import frames, highlights, layout, write_animation
from convcli.pictures.canvas import (
    CONTEXT,
    HATCH,
    HIGHLIGHT,
    INK,
    KERNEL,
    PADDING,
    WHITE,
    GridLayout,
    PlotLayout,
)
from helpers.reference import brute_force_size, correlate_reference

SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
RAMP = np.arange(1.0, 26.0).reshape(5, 5)
ALL = 10_000


def decoded(path) -> list[np.ndarray]:
    """Every frame of an animation file, as Pillow decodes it, in RGB."""
    with Image.open(path) as animation:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(animation)]


def lit(frame: np.ndarray, box) -> np.ndarray:
    """Where ``frame`` has the highlight colour, inside ``box``."""
    part = frame[box.top : box.bottom, box.left : box.right]
    return np.all(part == HIGHLIGHT, axis=2)


def assert_highlight_only_in(frame: np.ndarray, area, boxes) -> None:
    """The highlight colour is in each box, and nowhere else in ``area``."""
    allowed = np.zeros(frame.shape[:2], dtype=bool)
    for box in boxes:
        assert lit(frame, box).any(), box
        allowed[box.top : box.bottom, box.left : box.right] = True
    region = np.zeros(frame.shape[:2], dtype=bool)
    region[area.top : area.bottom, area.left : area.right] = True
    stray = np.all(frame == HIGHLIGHT, axis=2) & region & ~allowed
    assert not stray.any(), np.argwhere(stray)[:5]


def expected_taps(index, kernel_shape, stride, dilation) -> list[tuple[int, int]]:
    """The padded cells the window at output ``index`` reads, from the definition."""
    return [
        (index[0] * stride[0] + m * dilation[0], index[1] * stride[1] + n * dilation[1])
        for m in range(kernel_shape[0])
        for n in range(kernel_shape[1])
    ]


@st.composite
def cases(draw: st.DrawFn):
    sides = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    ksides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    x = np.array(draw(st.lists(st.integers(-9, 9), min_size=sides[0] * sides[1],
                               max_size=sides[0] * sides[1]))).reshape(sides)  # fmt: skip
    k = np.array(draw(st.lists(st.integers(-9, 9), min_size=ksides[0] * ksides[1],
                               max_size=ksides[0] * ksides[1]))).reshape(ksides)  # fmt: skip
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2)]
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    mode = draw(st.sampled_from(["zero", "reflect", "symmetric", "replicate", "wrap"]))
    return x, k, pads, strides, dilations, mode, draw(st.booleans())


@settings(max_examples=25, deadline=None)
@given(cases())
def test_every_frame_shows_its_step_and_the_step_is_the_definition(case):
    x, k, pads, strides, dilations, mode, flip = case
    sizes = [brute_force_size(n, b, a, m, s, d) for n, (b, a), m, s, d in
             zip(x.shape, pads, k.shape, strides, dilations)]  # fmt: skip
    assume(min(sizes) >= 1)
    e = worked_out(x, k, padding=pads, pad_mode=mode, stride=strides, dilation=dilations, flip=flip,
                steps=ALL)  # fmt: skip
    pictures = frames(e)
    assert len(pictures) == len(e.steps) == sizes[0] * sizes[1]
    engine = convolve(x.astype(float), k.astype(float), padding=pads, pad_mode=mode,
                      stride=strides, dilation=dilations, flip=flip, dtype=np.float64)  # fmt: skip
    reference = correlate_reference(x, k, pads, mode, 0.0, strides, dilations, flip)
    applied = np.flip(k) if flip else k
    where = layout(e)
    assert isinstance(where, GridLayout)
    for number, (step, index) in enumerate(zip(e.steps, np.ndindex(*sizes))):
        assert step.output_index == index
        cells = expected_taps(index, k.shape, strides, dilations)
        window = np.array([e.padded[cell] for cell in cells]).reshape(k.shape)
        np.testing.assert_array_equal(step.window, window)
        assert step.sum == pytest.approx(float((window * applied).sum()))
        assert step.sum == pytest.approx(engine[index])
        assert step.sum == pytest.approx(reference[index])
        boxes = highlights(e, number)
        assert boxes == [where.shown.box(*cell) for cell in cells] + [where.output.box(*index)]
    for number in {0, len(pictures) - 1}:  # the drawn frame, before any encoding
        frame = np.asarray(pictures[number].convert("RGB"))
        boxes = highlights(e, number)
        assert_highlight_only_in(frame, where.shown.area, boxes[:-1])
        assert_highlight_only_in(frame, where.output.area, boxes[-1:])


@pytest.mark.parametrize("suffix", [".gif", ".png", ".apng"])
def test_decoded_frames_light_the_window_and_the_output_cell_and_nothing_else(tmp_path, suffix):
    # sobel-x over the ramp, one cell of zero padding, stride 2, dilation 1 by 2: gaps between taps
    e = worked_out(RAMP, SOBEL_X, padding=1, pad_mode="zero", stride=2, dilation=(1, 2), steps=ALL)
    path = tmp_path / f"window{suffix}"
    write_animation(e, path)
    shown = decoded(path)
    assert len(shown) == len(e.steps) == 3 * 2  # rows ⌊(5+2-2-1)/2⌋+1, cols ⌊(5+2-4-1)/2⌋+1
    where = layout(e)
    assert isinstance(where, GridLayout)
    for number, index in enumerate([(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]):
        cells = expected_taps(index, (3, 3), (2, 2), (1, 2))
        assert_highlight_only_in(shown[number], where.shown.area,
                                 [where.shown.box(*cell) for cell in cells])  # fmt: skip
        assert_highlight_only_in(shown[number], where.output.area, [where.output.box(*index)])


def test_the_file_loops_forever_and_holds_the_last_frame_longer(tmp_path):
    e = worked_out(RAMP, SOBEL_X, padding="valid", steps=ALL)
    for suffix in (".gif", ".png"):
        path = tmp_path / f"loop{suffix}"
        write_animation(e, path)
        with Image.open(path) as animation:
            assert animation.n_frames == 9
            assert animation.info["loop"] == 0
            durations = []
            for frame in ImageSequence.Iterator(animation):
                durations.append(frame.info["duration"])
        assert 500 <= durations[0] <= 900
        assert len(set(durations[:-1])) == 1
        assert durations[-1] > durations[0]


def test_the_lecture_square_wave_and_sawtooth_draw_numpy_convolve(tmp_path):
    f = np.r_[np.zeros(4), np.ones(8), np.zeros(4)]  # a square wave
    g = np.array([0.25, 0.5, 0.75, 1.0])  # one tooth of a sawtooth
    expected = np.convolve(f, g, "full")
    e = worked_out(f, g, padding="full", pad_mode="zero", flip=True, steps=ALL)
    np.testing.assert_allclose(e.output, expected)
    np.testing.assert_allclose([step.sum for step in e.steps], expected)
    path = tmp_path / "lecture.gif"
    write_animation(e, path)
    shown = decoded(path)
    assert len(shown) == len(expected) == 16 + 4 - 1
    where = layout(e)
    assert isinstance(where, PlotLayout)
    last = shown[-1]
    for n, value in enumerate(expected):  # every point of the finished curve, where its value is
        x, y = where.lag_x(n), where.curve_y(value)
        assert tuple(last[y, x]) in (INK, HIGHLIGHT), (n, value)
        # under its window: with full padding, lag n's window is padded samples n to n + 3
        assert where.samples.box(0, n).left <= x < where.samples.box(0, n + 3).right
    # The axes stay put: output 0's point is where it was on the first frame.
    x, y = where.lag_x(0), where.curve_y(expected[0])
    assert tuple(shown[0][y, x]) == HIGHLIGHT
    assert tuple(last[y, x]) == INK
    for number in (0, 7, len(shown) - 1):
        step = e.steps[number]
        boxes = highlights(e, number)
        taps_drawn = boxes[:-1]
        assert len(taps_drawn) == 4
        assert [box.left for box in taps_drawn] == sorted(box.left for box in taps_drawn)
        first = where.samples.box(0, step.origin[0])  # the window starts at the lag n
        assert first.left <= taps_drawn[0].left < first.right
        plots = where.signal.top, where.curve.bottom
        area = type(boxes[0])(where.signal.left, plots[0], where.signal.right, plots[1])
        assert_highlight_only_in(shown[number], area, boxes)


def test_a_1d_frame_count_and_a_dilated_window(tmp_path):
    e = worked_out(np.arange(1.0, 8.0), [1.0, 0.0, -1.0], padding="same", dilation=2, steps=ALL)
    assert len(frames(e)) == len(e.steps) == 7
    np.testing.assert_allclose(
        [s.sum for s in e.steps],
        correlate_reference(np.arange(1.0, 8.0), np.array([1.0, 0.0, -1.0]), [(2, 2)], "reflect",
                            0.0, (1,), (2,)),
    )  # fmt: skip
    where = layout(e)
    assert isinstance(where, PlotLayout)
    marks = highlights(e, 3)[:-1]
    columns = [where.samples.box(0, 3 + 2 * t) for t in range(3)]  # taps two samples apart
    for mark, column in zip(marks, columns, strict=True):
        assert column.left <= mark.left
        assert mark.right <= column.right


def test_the_same_explanation_writes_the_same_bytes(tmp_path):
    e = worked_out(RAMP, SOBEL_X, padding=1, steps=ALL)
    line = worked_out(np.r_[np.zeros(3), np.ones(4), np.zeros(3)], [1.0, 2.0, 3.0], padding="full",
                   flip=True, steps=ALL)  # fmt: skip
    for name, what in [("grid", e), ("line", line)]:
        for suffix in (".gif", ".png"):
            first, second = tmp_path / f"{name}1{suffix}", tmp_path / f"{name}2{suffix}"
            write_animation(what, first)
            write_animation(what, second)
            assert first.read_bytes() == second.read_bytes()
            assert len(first.read_bytes()) > 1000


@pytest.mark.parametrize("name", ["window.mp4", "window.webp", "window", "window.GIF.txt"])
def test_another_suffix_is_a_usage_error_and_nothing_is_written(tmp_path, name):
    e = worked_out(RAMP, SOBEL_X, steps=2)
    with pytest.raises(UsageError, match=r"\.gif, \.png or \.apng") as caught:
        write_animation(e, tmp_path / name)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_no_steps_and_too_many_frames_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="at least one"):
        write_animation(worked_out(RAMP, SOBEL_X, steps=0), tmp_path / "none.gif")
    many = worked_out(np.zeros((32, 32)), np.ones((1, 1)), steps=MAX_ANIMATION_FRAMES + 1)
    assert len(many.steps) == MAX_ANIMATION_FRAMES + 1
    with pytest.raises(UsageError, match=str(MAX_ANIMATION_FRAMES)):
        frames(many)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("signal", "kernel"),
    [((32, 32), (1, 1)), ((32, 32), (32, 32)), ((32, 32), (5, 5)), ((32,), (3,))],
)
def test_the_largest_explanations_keep_the_picture_bounded(signal, kernel):
    # 16 cells of padding a side: the 64 cells a side explain shows at most
    rng = np.random.default_rng(7)
    e = worked_out(rng.normal(size=signal), np.ones(kernel), padding=[(16, 16)] * len(signal),
                pad_mode="zero", steps=2)  # fmt: skip
    assert max(e.padded.shape) == 64
    first, _ = frames(e)
    assert first.width <= 1440
    assert first.height <= 1000


def test_a_crop_shows_its_context_apart_from_the_crop_and_the_padding(tmp_path):
    # The 3x3 crop in the corner of a 6x6 input, a 3x3 kernel: the windows read one cell more
    # on each side, so the shown grid is image rows and cols -1..3: padding at -1, context at 3.
    e = worked_out(np.arange(36.0).reshape(6, 6), np.ones((3, 3)), crop=(0, 0, 3, 3), steps=ALL)
    path = tmp_path / "crop.gif"
    write_animation(e, path)
    last = decoded(path)[-1]
    where = layout(e)
    assert isinstance(where, GridLayout)
    assert e.padded.shape == (5, 5)
    window = set(expected_taps((2, 2), (3, 3), (1, 1), (1, 1)))  # the last step's
    for row, col in np.ndindex(5, 5):
        if (row, col) in window:
            continue
        box = where.shown.box(row, col)
        pixel = tuple(last[box.top + box.height // 2, box.left + 3])
        if row == 0 or col == 0:
            assert pixel in (PADDING, HATCH), (row, col)
        elif row == 4 or col == 4:
            assert pixel == CONTEXT, (row, col)
        else:
            assert pixel == WHITE, (row, col)


def test_a_kernel_far_smaller_than_the_signal_is_still_drawn_tall(tmp_path):
    # weights of 0.1 over values of 100: on one scale the kernel would be a flat line at 0
    f = 100 * np.r_[np.zeros(3), np.ones(5), np.zeros(3)]
    e = worked_out(f, [0.1, 0.2, 0.1], padding="valid", steps=ALL)
    path = tmp_path / "small.png"
    write_animation(e, path)
    frame = decoded(path)[2]
    where = layout(e)
    assert isinstance(where, PlotLayout)
    zero, top = where.signal_y(0.0), where.signal_y(100.0)
    red = np.argwhere(np.all(frame == KERNEL, axis=2))
    inside = red[(red[:, 1] >= where.signal.left) & (red[:, 1] < where.signal.right)]
    assert inside[:, 0].min() <= (zero + top) / 2  # at least half as tall as f's 100
