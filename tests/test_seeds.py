"""The worked examples of the reference texts in shared/seeds/."""

from __future__ import annotations

import itertools

import numpy
import numpy as np
import pytest

from convcli import convolve, output_shape

RNG = np.random.default_rng(7)


class SeedConv2D:
    """The NumPy Conv2D of seed 001 ("how do i code this?"), copied unchanged but for names.

    It is a third oracle, written by someone else from the same definition:
    zero padding, a square kernel, cross-correlation.
    """

    def __init__(self, kernel: numpy.ndarray, stride: int, padding: int) -> None:
        self.kernel = kernel
        self.stride = stride
        self.padding = padding

    def forward(self, in_matrix: numpy.ndarray) -> numpy.ndarray:
        i_w, i_h = in_matrix.shape
        k_w, k_h = self.kernel.shape

        padded_input = numpy.pad(
            in_matrix,
            ((self.padding, self.padding), (self.padding, self.padding)),
            mode="constant",
            constant_values=0,
        )

        o_h = ((i_h + 2 * self.padding - k_h) // self.stride) + 1
        o_w = ((i_w + 2 * self.padding - k_w) // self.stride) + 1

        out_matrix = numpy.ones((o_w, o_h))

        for i in range(o_w):
            for j in range(o_h):
                o_i = i * self.stride
                o_j = j * self.stride

                i_end = o_i + len(self.kernel)
                j_end = o_j + len(self.kernel)

                sub_matrix = padded_input[o_i:i_end, o_j:j_end]
                out_matrix[i, j] = numpy.sum(numpy.multiply(sub_matrix, self.kernel))

        return out_matrix


@pytest.mark.parametrize(
    ("n", "padding", "kernel", "stride"),
    [
        (n, p, k, s)
        for n, p, k, s in itertools.product(range(1, 16), range(4), range(1, 6), range(1, 4))
        if n + 2 * p >= k
    ],
)
def test_output_size_formula_of_seed_001(n, padding, kernel, stride):
    # "((input_dim + 2 * padding - kernel) // stride) + 1"
    expected = ((n + 2 * padding - kernel) // stride) + 1
    assert output_shape((n,), (kernel,), padding=padding, stride=stride) == (expected,)


# Seed 002: "The kernel will always be of size (3, 3) and the images will be
# (8, 8), (12, 10), (10, 10), and (12, 8) respectively."
@pytest.mark.parametrize("shape", [(8, 8), (12, 10), (10, 10), (12, 8)])
@pytest.mark.parametrize(("padding", "stride"), [(0, 1), (1, 1), (1, 2), (2, 3)])
def test_3x3_kernel_on_the_images_of_seed_002_agrees_with_seed_001_code(shape, padding, stride):
    image = RNG.integers(0, 256, size=shape).astype(np.float64)
    kernel = RNG.normal(size=(3, 3))
    expected = SeedConv2D(kernel, stride, padding).forward(image)
    got = convolve(image, kernel, padding=padding, pad_mode="zero", stride=stride, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)


def test_one_output_is_the_dot_product_of_seed_002():
    # f*g = (a·1) + (b·2) + (c·3) + (d·4) + (e·5) + (f·6) + (g·7) + (h·8) + (i·9)
    a, b, c, d, e, f, g, h, i = RNG.normal(size=9)
    patch = np.array([[a, b, c], [d, e, f], [g, h, i]])
    kernel = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    expected = (a * 1) + (b * 2) + (c * 3) + (d * 4) + (e * 5) + (f * 6) + (g * 7) + (h * 8)
    expected += i * 9
    got = convolve(patch, kernel, padding="valid", dtype=np.float64)
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected, rel=1e-12)


def test_vertical_and_horizontal_edge_kernels_of_seed_001():
    vertical = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    horizontal = [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    # Bright left half, dark right half: one vertical edge between columns 3 and 4.
    image = np.zeros((6, 8))
    image[:, :4] = 10.0
    response = convolve(image, vertical, padding="valid", dtype=np.float64)
    # Windows starting at columns 2 and 3 straddle the edge: 3 rows * 10 each.
    np.testing.assert_array_equal(response, np.tile([0, 0, 30, 30, 0, 0], (4, 1)))
    # The horizontal-edge kernel sees no change from top to bottom.
    np.testing.assert_array_equal(convolve(image, horizontal, padding="valid"), 0)
    np.testing.assert_array_equal(
        convolve(image.T, horizontal, padding="valid", dtype=np.float64),
        response.T,
    )
