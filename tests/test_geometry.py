"""Padding forms, the anchor of even kernels, and the formula report."""

from __future__ import annotations

import math

import pytest

from convcli.engine import resolve_geometry


@pytest.mark.parametrize(
    ("k", "dilation", "expected"),
    [
        (1, 1, (0, 0)),
        (2, 1, (0, 1)),
        (3, 1, (1, 1)),
        (4, 1, (1, 2)),
        (4, 2, (3, 3)),
        (2, 3, (1, 2)),
    ],
)
def test_same_padding_puts_the_smaller_half_before_as_pytorch_does(k, dilation, expected):
    # PyTorch: total = dilation * (k - 1); left = total // 2; right = total - left.
    geometry = resolve_geometry((10,), (k,), padding="same", dilation=dilation)
    assert geometry.padding == (expected,)


@pytest.mark.parametrize("n", range(1, 12))
@pytest.mark.parametrize("stride", [1, 2, 3, 5])
def test_same_padding_gives_ceil_of_n_over_stride(n, stride):
    for k in (1, 2, 3, 4, 7):
        shape = resolve_geometry((n,), (k,), padding="same", stride=stride).output_shape
        assert shape == (math.ceil(n / stride),)


def test_full_padding_gives_every_overlap():
    assert resolve_geometry((10, 7), (3, 4), padding="full").output_shape == (12, 10)
    assert resolve_geometry((10,), (3,), padding="full", dilation=3).padding == ((6, 6),)


def test_padding_forms_resolve_to_per_side_pairs():
    def pads(padding):
        return resolve_geometry((9, 9, 3), (3, 3), padding=padding).padding

    assert pads("valid") == ((0, 0), (0, 0))
    assert pads(2) == ((2, 2), (2, 2))
    assert pads((1, 3)) == ((1, 1), (3, 3))
    assert pads([(0, 2), 4]) == ((0, 2), (4, 4))
    assert pads(((1, 0), (2, 5))) == ((1, 0), (2, 5))


def test_channels_are_kept_and_reported():
    geometry = resolve_geometry((480, 640, 3), (5, 5), padding=2, stride=(2, 4))
    assert geometry.channel_shape == (3,)
    assert geometry.output_shape == (240, 160, 3)
    assert geometry.formula(1) == "floor((640 + 2 + 2 - 1*(5 - 1) - 1) / 4) + 1 = 160"
