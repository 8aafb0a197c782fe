"""Kernel families, round two (issue 27): each against a formula written out here.

The expected matrices come from the textbooks or from ImageMagick's
documentation and MagickCore/morphology.c (its numbers), never from
convcli's own code.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import convcli
from convcli.catalog.lookup import load_kernel
from convcli.errors import KernelError
from helpers import run


def matrix(spec: str) -> np.ndarray:
    return load_kernel(spec).matrix


def offsets(side: int) -> np.ndarray:
    return np.arange(side, dtype=np.float64) - (side - 1) / 2


def sampled_gaussian(side: int, sigma: float) -> np.ndarray:
    u = offsets(side)
    g = np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def clockwise(m: np.ndarray, quarters: int = 1) -> np.ndarray:
    """Turn a matrix clockwise as seen on the screen: its top-left cell comes from the bottom-left."""
    for _ in range(quarters % 4):
        m = np.array([[m[len(m) - 1 - c][r] for c in range(len(m))] for r in range(len(m[0]))])
    return m


# --- blurs ---------------------------------------------------------------------------------


def test_binomial_is_pascals_triangle_outer_product():
    row = np.array([1, 4, 6, 4, 1]) / 16  # row 4 of Pascal's triangle over 2^4
    np.testing.assert_allclose(matrix("binomial:2"), np.outer(row, row), rtol=1e-15)
    np.testing.assert_allclose(matrix("Binomial"), np.outer([1, 2, 1], [1, 2, 1]) / 16)


def test_blur_is_a_one_dimensional_gaussian_turned_exactly_by_90_degrees():
    t = np.arange(-3, 4, dtype=np.float64)
    row = np.exp(-(t**2) / (2 * 1.5**2))
    expected = (row / row.sum())[None, :]
    np.testing.assert_allclose(matrix("blur:radius=3,sigma=1.5"), expected, rtol=1e-14)
    np.testing.assert_array_equal(matrix("Blur:3x1.5,90"), matrix("blur:3,1.5").T)
    np.testing.assert_array_equal(matrix("blur:3,1.5,180"), matrix("blur:3,1.5"))
    assert load_kernel("blur:sigma=2").shape == (1, 13)  # auto: +-3 sigma


def test_comet_is_half_a_gaussian_on_one_side_of_the_centre():
    t = np.arange(4, dtype=np.float64)
    half = np.exp(-(t**2) / (2 * 2.0**2))
    expected = np.concatenate([np.zeros(3), half / half.sum()])[None, :]
    np.testing.assert_allclose(matrix("Comet:4x2"), expected, rtol=1e-14)
    np.testing.assert_array_equal(matrix("comet:4,2,90"), expected.T)
    np.testing.assert_array_equal(matrix("comet:4,2,180"), expected[:, ::-1])


def test_motion_is_a_normalised_line():
    np.testing.assert_allclose(matrix("motion:5"), np.full((1, 5), 0.2))
    np.testing.assert_array_equal(matrix("motion:5,90"), matrix("motion:5").T)
    # An even length: the samples sit between cells and share them, half each.
    np.testing.assert_allclose(matrix("motion:4"), [[0.5, 1, 1, 1, 0.5]] / np.float64(4))


@pytest.mark.parametrize("angle", [30.0, 45.0, 100.0])
def test_motion_at_an_angle_is_anti_aliased_by_tent_weights(angle):
    # Samples a pixel apart along the line, each shared by the cells around it in
    # proportion to the tent max(0, 1 - |distance|) along each axis.
    length = 7
    kernel = matrix(f"motion:length={length},angle={angle}")
    rows, cols = kernel.shape
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    expected = np.zeros(kernel.shape)
    for t in np.arange(length) - (length - 1) / 2:
        x, y = t * c, t * s  # x to the right, y downwards: clockwise
        for r in range(rows):
            for k in range(cols):
                dy, dx = r - (rows // 2 + y), k - (cols // 2 + x)
                expected[r, k] += max(0, 1 - abs(dx)) * max(0, 1 - abs(dy))
    np.testing.assert_allclose(kernel, expected / expected.sum(), atol=1e-12)
    assert kernel.sum() == pytest.approx(1.0)


def test_dog_is_imagemagicks_difference_of_normal_densities():
    # ImageMagick's DoG:R,S1,S2: exp(-r^2/2s^2)/(2 pi s^2) for S1 minus the same for S2,
    # its positive weights then made to sum 1 and its negative ones -1.
    u = offsets(7)
    r2 = u[:, None] ** 2 + u[None, :] ** 2
    d = np.exp(-r2 / 2) / (2 * np.pi) - np.exp(-r2 / 8) / (8 * np.pi)
    expected = np.where(d > 0, d / d[d > 0].sum(), d / -d[d < 0].sum())
    np.testing.assert_allclose(matrix("DoG:3,1,2"), expected, rtol=1e-12)
    assert load_kernel("dog:radius=3,sigma1=1,sigma2=2").name == "dog:radius=3,sigma1=1,sigma2=2"
    with pytest.raises(KernelError, match="sigma1 and sigma2 must differ"):
        load_kernel("dog:sigma1=2,sigma2=2")


def test_unsharp_and_highpass_subtract_a_gaussian_from_the_identity():
    identity = np.zeros((7, 7))
    identity[3, 3] = 1
    blur = sampled_gaussian(7, 1.0)
    np.testing.assert_allclose(matrix("unsharp:sigma=1,amount=0.5"),
                               identity + 0.5 * (identity - blur), atol=1e-15)  # fmt: skip
    np.testing.assert_allclose(matrix("highpass:1"), identity - blur, atol=1e-15)
    assert load_kernel("unsharp").total == pytest.approx(1.0)
    assert load_kernel("highpass").total == pytest.approx(0.0, abs=1e-15)


# --- shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "inside"),
    [
        ("diamond:2", lambda x, y: abs(x) + abs(y) <= 2),
        ("square:2", lambda x, y: True),
        ("octagon:2", lambda x, y: abs(x) + abs(y) <= 3),  # ImageMagick: r + r // 2
        ("octagon:3", lambda x, y: abs(x) + abs(y) <= 4),
        ("plus:2", lambda x, y: x == 0 or y == 0),
        ("ring:1,2", lambda x, y: 1 < x * x + y * y <= 4),
        ("Ring:2,3", lambda x, y: 4 < x * x + y * y <= 9),
        ("disk:2.5", lambda x, y: x * x + y * y <= 6.25),
    ],
)  # fmt: skip
def test_shapes_are_means_over_imagemagicks_shapes(spec, inside):
    kernel = matrix(spec)
    side = kernel.shape[0]
    reach = side // 2
    mask = np.array([[inside(x, y) for x in range(-reach, reach + 1)]
                     for y in range(-reach, reach + 1)], dtype=float)  # fmt: skip
    np.testing.assert_allclose(kernel, mask / mask.sum(), rtol=1e-15)


def test_plus_1_is_the_builtin_cross():
    np.testing.assert_allclose(matrix("plus:1"), matrix("cross"))


def test_a_rectangle_is_anchored_at_its_origin_among_zeros():
    # Rectangle:3x2+0+0: 3 wide, 2 high, anchored at its top-left cell. convcli anchors a
    # kernel at cell (k-1)//2 of each side (row 0 of 2): the columns are set among zeros.
    expected = np.zeros((2, 5))
    expected[:, 2:5] = 1 / 6
    np.testing.assert_array_equal(matrix("Rectangle:3x2+0+0"), expected)
    np.testing.assert_array_equal(matrix("rectangle:4,2"), np.full((2, 4), 1 / 8))
    with pytest.raises(KernelError, match=r"origin \+3\+0 is outside 3x2"):
        load_kernel("rectangle:width=3,height=2,x=3,y=0")


def test_an_origin_gives_the_response_at_that_cell():
    # ImageMagick's "3x3+0+0": the kernel's top-left cell sits on the output pixel, so
    # out[y, x] = sum m[j, i] * in[y + j, x + i].
    rng = np.random.default_rng(1)
    image, weights = rng.random((9, 10)), rng.integers(-3, 4, (3, 3)).astype(float)
    text = " ".join(",".join(f"{v:g}" for v in row) for row in weights)
    out = convcli.convolve(image, f"3x3+0+0: {text}", padding="same", pad_mode="zero")
    expected = np.zeros_like(image)
    for y in range(9):
        for x in range(10):
            expected[y, x] = sum(weights[j, i] * image[y + j, x + i]
                                 for j in range(3) for i in range(3)
                                 if y + j < 9 and x + i < 10)  # fmt: skip
    np.testing.assert_allclose(out, expected, atol=1e-5)


# --- edges ---------------------------------------------------------------------------------

# ImageMagick's documentation (Usage/convolve, "Laplacian Kernels") writes these.
IM_LAPLACIANS = {
    0: [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    1: [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    2: [[-2, 1, -2], [1, 4, 1], [-2, 1, -2]],
    3: [[1, -2, 1], [-2, 4, -2], [1, -2, 1]],
    5: [[-4, -1, 0, -1, -4], [-1, 2, 3, 2, -1], [0, 3, 4, 3, 0], [-1, 2, 3, 2, -1],
        [-4, -1, 0, -1, -4]],
    15: [[0, 0, -1, 0, 0], [0, -1, -2, -1, 0], [-1, -2, 16, -2, -1], [0, -1, -2, -1, 0],
         [0, 0, -1, 0, 0]],
}  # fmt: skip


@pytest.mark.parametrize("n", sorted(IM_LAPLACIANS))
def test_laplacian_n_is_imagemagicks(n):
    assert matrix(f"Laplacian:{n}").tolist() == IM_LAPLACIANS[n]
    assert load_kernel(f"laplacian:{n}").total == 0


def test_laplacian_refuses_a_number_imagemagick_has_not():
    with pytest.raises(KernelError, match="n must be one of 0, 1, 2, 3, 5, 7, 15, 19, got 4"):
        load_kernel("laplacian:4")


# Kirsch's eight compass masks as the textbooks write them: west, then turning clockwise.
KIRSCH_WEST = [[5, -3, -3], [5, 0, -3], [5, -3, -3]]
KIRSCH_NORTHWEST = [[5, 5, -3], [5, 0, -3], [-3, -3, -3]]
SOBEL_IM = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]  # ImageMagick's Sobel, angle 0


def test_compass_kernels_at_0_are_imagemagicks_and_turn_clockwise():
    assert matrix("Kirsch:0").tolist() == KIRSCH_WEST
    assert matrix("kirsch:45").tolist() == KIRSCH_NORTHWEST
    assert matrix("sobel:0").tolist() == SOBEL_IM
    assert matrix("sobel:45").tolist() == [[2, 1, 0], [1, 0, -1], [0, -1, -2]]
    assert matrix("compass:0").tolist() == [[1, 1, -1], [1, -2, -1], [1, 1, -1]]
    assert matrix("prewitt:0").tolist() == [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    # Clockwise by 90: sobel:90 is convcli's sobel-y turned 180 degrees (rising down).
    np.testing.assert_array_equal(matrix("sobel:90"), -matrix("sobel-y"))
    for name in ("sobel", "kirsch", "compass", "prewitt", "roberts", "freichen:11"):
        base = matrix(f"{name},angle=0" if ":" in name else f"{name}:0")
        for quarters in (1, 2, 3):
            turned = f"{name},angle={90 * quarters}" if ":" in name else f"{name}:{90 * quarters}"
            np.testing.assert_array_equal(matrix(turned), clockwise(base, quarters), turned)


# The derivatives along +x and +y (down) as ImageMagick's Sobel writes them: positive where
# intensity falls that way. Prewitt's and Roberts' the same with other weights.
SOBEL_ALONG_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)
SOBEL_ALONG_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)
PREWITT_ALONG_X = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)
ROBERTS_ALONG_X = np.array([[0, 0, 0], [1, -1, 0], [0, 0, 0]], float)
ROOT2 = math.sqrt(2)
FREICHEN_ALONG_X = np.array([[1, 0, -1], [ROOT2, 0, -ROOT2], [1, 0, -1]]) / (2 * ROOT2)


@pytest.mark.parametrize(
    ("spec", "along_x"),
    [("sobel", SOBEL_ALONG_X), ("prewitt", PREWITT_ALONG_X), ("roberts", ROBERTS_ALONG_X),
     ("freichen:11", FREICHEN_ALONG_X)],
)  # fmt: skip
@pytest.mark.parametrize("angle", [10.0, 30.0, 100.0, 200.0, 333.0])
def test_a_first_derivative_at_any_angle_is_its_steerable_form(spec, along_x, angle):
    # The derivative along (cos A, sin A), y downwards: cos A d/dx + sin A d/dy, where d/dy
    # is d/dx turned a quarter clockwise (the screen's +x turns to +y).
    along_y = clockwise(along_x)
    t = math.radians(angle)
    expected = math.cos(t) * along_x + math.sin(t) * along_y
    name = f"{spec},angle={angle:g}" if ":" in spec else f"{spec}:{angle:g}"
    np.testing.assert_allclose(matrix(name), expected, atol=1e-15)


def test_the_steerable_form_meets_the_exact_turns_at_0_and_90_and_imagemagicks_at_45():
    np.testing.assert_array_equal(matrix("sobel:0"), SOBEL_ALONG_X)
    np.testing.assert_array_equal(matrix("sobel:90"), SOBEL_ALONG_Y)
    np.testing.assert_allclose(matrix("sobel:90.000001"), SOBEL_ALONG_Y, atol=1e-7)
    np.testing.assert_allclose(matrix("sobel:30"),
                               [[math.sqrt(3) / 2 + 0.5, 1, 0.5 - math.sqrt(3) / 2],
                                [math.sqrt(3), 0, -math.sqrt(3)],
                                [math.sqrt(3) / 2 - 0.5, -1, -0.5 - math.sqrt(3) / 2]],
                               atol=1e-15)  # fmt: skip
    # At 45, ImageMagick's Sobel:45: the ring of eight moved one place, not the steered form.
    assert matrix("Sobel:45").tolist() == [[2, 1, 0], [1, 0, -1], [0, -1, -2]]
    # A set steps through the steered turns: sobel@30's 12 members.
    members = load_kernel("sobel@30").components
    np.testing.assert_allclose(members[1].matrix, matrix("sobel:30"), atol=0)
    for spec in ("kirsch:30", "compass:10", "freichen:12,30", "laplacian:0,angle=30"):
        with pytest.raises(KernelError):
            load_kernel(spec)


def test_frei_chen_nine_masks_are_an_orthonormal_basis():
    # Frei and Chen (1977): the nine masks are orthonormal, so any 3x3 patch is their sum.
    masks = np.array([matrix(f"FreiChen:{n}").ravel() for n in range(11, 20)])
    np.testing.assert_allclose(masks @ masks.T, np.eye(9), atol=1e-15)
    r = math.sqrt(2)
    np.testing.assert_allclose(matrix("freichen:12"),
                               np.array([[1, r, 1], [0, 0, 0], [-1, -r, -1]]) / (2 * r))  # fmt: skip
    np.testing.assert_allclose(matrix("freichen:19"), np.full((3, 3), 1 / 3))


def frei_chen_masks() -> list[np.ndarray]:
    """Frei and Chen's nine masks as the textbooks write them: edges, lines, the average."""
    r = math.sqrt(2)
    edges = [
        [[1, 0, -1], [r, 0, -r], [1, 0, -1]],
        [[1, r, 1], [0, 0, 0], [-1, -r, -1]],
        [[r, -1, 0], [-1, 0, 1], [0, 1, -r]],
        [[0, 1, -r], [-1, 0, 1], [r, -1, 0]],
    ]
    lines = [[[0, -1, 0], [1, 0, 1], [0, -1, 0]], [[1, 0, -1], [0, 0, 0], [-1, 0, 1]]]
    laplacians = [[[1, -2, 1], [-2, 4, -2], [1, -2, 1]], [[-2, 1, -2], [1, 4, 1], [-2, 1, -2]]]
    return ([np.array(m) / (2 * r) for m in edges] + [np.array(m) / 2 for m in lines]
            + [np.array(m) / 6 for m in laplacians] + [np.ones((3, 3)) / 3])  # fmt: skip


def test_the_frei_chen_set_is_the_nine_masks_numbered_as_imagemagick_numbers_them():
    masks = frei_chen_masks()
    for number, mask in zip(range(11, 20), masks, strict=True):
        np.testing.assert_allclose(matrix(f"freichen:{number}"), mask, atol=1e-15)
    for spec in ("freichen", "FreiChen", "FreiChen:10", "freichen:10"):
        members = load_kernel(spec).components
        assert [part.name for part in members] == [f"freichen:n={n},angle=0" for n in range(11, 20)]
    assert load_kernel("freichen").combine == "frei-chen"


def test_the_frei_chen_set_is_the_share_of_the_edge_subspace():
    # Frei and Chen's edge measure: cos of the angle between the window w and the edge
    # subspace, sqrt(sum of the edge masks' responses^2 / sum of all nine's). The nine are
    # an orthonormal basis: the sum of all nine's squares is |w|^2.
    image = np.random.default_rng(5).random((9, 10))
    windows = np.lib.stride_tricks.sliding_window_view(image, (3, 3))
    edges = sum(np.einsum("ijkl,kl->ij", windows, m) ** 2 for m in frei_chen_masks()[:4])
    expected = np.sqrt(edges / np.einsum("ijkl,ijkl->ij", windows, windows))
    got = convcli.convolve(image, "freichen", padding="valid")
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert convcli.convolve(np.zeros((5, 5)), "freichen").max() == 0  # 0 where all are 0


def test_a_bank_of_the_frei_chen_set_writes_its_nine_masks(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(6).random((8, 8)).astype(np.float32))
    result = run("apply", str(tmp_path / "x.npy"), "-k", "FreiChen:10", "--bank",
                 "-o", str(tmp_path / "bank") + "/")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "bank").iterdir()) == sorted(
        f"x_freichen-n-{n}-angle-0.npy" for n in range(11, 20)
    )


def test_emboss_at_225_is_the_builtin_and_turns_exactly():
    np.testing.assert_array_equal(matrix("emboss:225"), matrix("emboss"))
    for angle in (0, 30, 225):
        np.testing.assert_array_equal(matrix(f"emboss:{angle + 90}"),
                                      clockwise(matrix(f"emboss:{angle}")))  # fmt: skip
    assert load_kernel("emboss:10").total == pytest.approx(1.0)


@pytest.mark.parametrize("theta", [0.0, 30.0, 90.0, 135.0])
def test_an_even_gabor_is_opencvs(theta):
    cv2 = pytest.importorskip("cv2")
    kernel = matrix(f"gabor:sigma=2,theta={theta},wavelength=5,gamma=0.5,psi=0")
    theirs = cv2.getGaborKernel(kernel.shape[::-1], 2, math.radians(theta), 5, 0.5, 0,
                                ktype=cv2.CV_64F)  # fmt: skip
    np.testing.assert_allclose(kernel, theirs, atol=1e-12)


def test_gabor_written_out_and_turned():
    # exp(-(x'^2 + g^2 y'^2) / 2 s^2) cos(2 pi x' / l + psi), x' = x cos t + y sin t,
    # y' = -x sin t + y cos t; x to the right, y downwards, t and psi in degrees.
    kernel = matrix("gabor:sigma=1.5,theta=60,wavelength=4,gamma=0.8,psi=90")
    y, x = np.meshgrid(offsets(kernel.shape[0]), offsets(kernel.shape[1]), indexing="ij")
    t = math.radians(60)
    along, across = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    expected = np.exp(-(along**2 + 0.64 * across**2) / 4.5) * np.cos(
        2 * np.pi * along / 4 + np.pi / 2
    )
    np.testing.assert_allclose(kernel, expected, atol=1e-12)
    np.testing.assert_array_equal(matrix("gabor:theta=0"), matrix("gabor"))
    np.testing.assert_array_equal(matrix("gabor:theta=90"), clockwise(matrix("gabor:theta=0")))


# --- sets ----------------------------------------------------------------------------------


def test_a_rotation_set_has_every_turn_and_its_largest_response():
    every45, every90 = load_kernel("sobel@"), load_kernel("Sobel>")
    assert [part.name for part in every45.components] == [
        f"sobel:angle={a}" for a in range(0, 360, 45)
    ]
    assert [part.name for part in every90.components] == [
        f"sobel:angle={a}" for a in range(0, 360, 90)
    ]
    rng = np.random.default_rng(0)
    image = rng.random((12, 11))
    responses = [
        convcli.convolve(image, clockwise(np.array(KIRSCH_WEST, float), q), padding="valid")
        for q in range(4)
    ] + [
        convcli.convolve(image, clockwise(np.array(KIRSCH_NORTHWEST, float), q), padding="valid")
        for q in range(4)
    ]
    np.testing.assert_allclose(convcli.convolve(image, "kirsch", padding="valid"),
                               np.max(responses, axis=0), rtol=1e-5)  # fmt: skip
    assert load_kernel("kirsch").combine == "max"


def test_any_named_2d_kernel_turns_by_90_degrees_and_a_3x3_one_by_45():
    np.testing.assert_array_equal(matrix("sobel-x:angle=90"), matrix("sobel-y"))
    np.testing.assert_array_equal(matrix("roberts-pos:angle=270"),
                                  clockwise(matrix("roberts-pos"), 3))  # fmt: skip
    assert matrix("edge-vertical:angle=45").tolist() == [[1, 1, 0], [1, 0, -1], [0, -1, -1]]
    assert [part.name for part in load_kernel("sobel-x>").components] == [
        f"sobel-x:angle={a}" for a in (0, 90, 180, 270)
    ]
    with pytest.raises(KernelError, match=r"roberts-pos: only a 3x3 kernel turns by 45"):
        load_kernel("roberts-pos:angle=45")
    with pytest.raises(KernelError, match="sobel-x is a kernel, not a family: it takes only"):
        load_kernel("sobel-x:size=3")


def test_sets_refuse_what_cannot_turn():
    with pytest.raises(KernelError, match="scharr combines others: only a 2-D matrix turns"):
        load_kernel("scharr@")
    with pytest.raises(KernelError, match=r"only a family with an angle .* or a kernel of"):
        load_kernel("nosuchkernel@")
    with pytest.raises(KernelError, match="the step must divide 360 degrees"):
        load_kernel("gabor@7")
    with pytest.raises(KernelError, match="its members differ in shape"):
        load_kernel("blur:2@45")


def test_kernels_show_shows_every_member_of_a_set():
    result = run("kernels", "show", "kirsch", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["combine"] == "max"
    assert [part["name"] for part in record["components"]] == [
        f"kirsch:angle={a}" for a in range(0, 360, 45)
    ]
    assert record["components"][1]["matrix"] == KIRSCH_NORTHWEST


def test_kernels_list_groups_families_and_sets():
    result = run("kernels", "list", "--json")
    entries = json.loads(result.stdout)
    sources = [entry["source"] for entry in entries]
    assert sources == sorted(sources, key=["built-in", "built-in family", "built-in set"].index)
    names = {entry["name"] for entry in entries}
    assert {"kirsch", "compass", "freichen", "gabor", "motion", "ring"} <= names
    assert run("kernels", "list", "--tag", "set").stdout.count("built-in set") == 0  # no column
    assert "kirsch" in run("kernels", "list", "--tag", "set").stdout


@pytest.mark.parametrize("columns", ["60", "80", "140"])
def test_kernels_list_shows_kernels_families_and_sets_under_headings(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    lines = run("kernels", "list").stdout.splitlines()
    headings = [
        n for n, line in enumerate(lines) if line.startswith(("Kernels", "Families", "Sets"))
    ]
    assert [lines[n].split()[0] for n in headings] == ["Kernels", "Families", "Sets"]

    def under(name: str) -> str:  # the heading above the row of that name (its name cell)
        at = next(n for n, line in enumerate(lines) if re.match(rf"(name +|│ ){name}(\s|$)", line))
        return lines[max(n for n in headings if n < at)].split()[0]

    assert under("sobel-x") == under("laplacian-8") == "Kernels"
    assert (
        under(re.escape("gaussian:sigma=1,size=auto"))
        == under(re.escape("sobel:angle=0"))
        == "Families"
    )
    assert under("kirsch") == under("freichen") == "Sets"
    only = run("kernels", "list", "--tag", "set").stdout.splitlines()
    assert [line for line in only if line.startswith(("Kernels", "Families", "Sets"))] == [
        next(line for line in lines if line.startswith("Sets"))
    ]


def test_a_bank_of_a_set_writes_each_member_named_by_its_angle(tmp_path):
    image = np.random.default_rng(2).random((16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", image)
    result = run("apply", str(tmp_path / "x.npy"), "-k", "sobel>", "--bank",
                 "-o", str(tmp_path / "bank") + "/")  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "bank").iterdir())
    assert names == [f"x_sobel-angle-{a}.npy" for a in (0, 180, 270, 90)]
    result = run("apply", str(tmp_path / "x.npy"), "-k", "sobel>", "-o", str(tmp_path / "m.npy"))
    assert result.exit_code == 0, result.output
    members = [np.load(tmp_path / "bank" / name) for name in names]
    np.testing.assert_allclose(np.load(tmp_path / "m.npy"), np.max(members, axis=0), rtol=1e-6)


def test_a_set_filtered_in_tiles_is_the_set_filtered_whole(tmp_path):
    # Each member is its own Dask task in every tile: eight turned matrices, eight names.
    pytest.importorskip("dask")
    np.save(tmp_path / "x.npy", np.random.default_rng(3).random((48, 48)).astype(np.float32))
    for extra, out in (([], "whole.npy"), (["--tile", "16"], "tiled.npy")):
        result = run("apply", str(tmp_path / "x.npy"), "-k", "kirsch", *extra,
                     "-o", str(tmp_path / out))  # fmt: skip
        assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "tiled.npy"), np.load(tmp_path / "whole.npy"))


def test_the_library_banks_a_sets_members(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(4).random((10, 10)))
    results = convcli.apply(str(tmp_path / "x.npy"), "sobel>", bank=True)
    assert [record["kernel"] for _, record in results] == [
        f"sobel:angle={a}" for a in (0, 90, 180, 270)
    ]


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("ring:1e15,2e15", "the kernel would be 4e+15 wide"),  # refused before the ring's search
        ("gaussian:sigma=1e308", "the kernel would be over 1e308 wide"),  # 3 sigma overflows
        ("unsharp:1e308", "the kernel would be over 1e308 wide"),
        ("disk:600", "the kernel would be 1201 wide; the largest allowed is 1001"),
        ("sobel@-45", "the step must divide 360 degrees into 2 to 64 turns, got -45"),
        ("sobel@nan", "'nan' is not a number of degrees"),
        ("sobel@45>", "'45>' is not a number of degrees"),
        ("0: ", "a kernel is at least 1x1, got 0x0"),
    ],
)
def test_a_kernel_spec_out_of_bounds_is_one_line_and_exit_2(spec: str, said: str) -> None:
    result = run("kernels", "show", spec)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert said in result.stderr


def test_a_set_of_members_on_the_integer_path_and_off_it_is_combined_band_by_band(tmp_path):
    # On 8-bit samples the average mask (ones/3) sums in integers, the others (with sqrt 2)
    # in floats: bands of different heights, which the set must still combine row for row.
    image = np.random.default_rng(7).integers(0, 256, (700, 600), dtype=np.uint8)
    np.save(tmp_path / "x.npy", image)
    result = run("apply", str(tmp_path / "x.npy"), "-k", "freichen", "-p", "valid",
                 "-o", str(tmp_path / "out.npy"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    windows = np.lib.stride_tricks.sliding_window_view(image.astype(np.float64), (3, 3))
    edges = sum(np.einsum("ijkl,kl->ij", windows, m) ** 2 for m in frei_chen_masks()[:4])
    whole = np.einsum("ijkl,ijkl->ij", windows, windows)
    expected = np.sqrt(np.divide(edges, whole, out=np.zeros_like(whole), where=whole > 0))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-4, atol=1e-6)
