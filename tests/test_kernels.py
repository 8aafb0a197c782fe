"""Kernels: the built-in set, families, spec forms and strict validation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from convcli import ConvcliError
from convcli.catalog.lookup import KERNEL_PATH_VARIABLE, load_kernel, named_kernels
from convcli.choices import Range
from convcli.engine import convolve
from convcli.errors import KernelError
from helpers import run

RANGES = list(Range)

# The built-in kernels the README promises (section "Kernels").
PROMISED_BUILTINS = [
    "identity", "box", "gaussian", "sharpen", "emboss", "sobel-x", "sobel-y", "sobel",
    "scharr-x", "scharr-y", "scharr", "prewitt-x", "prewitt-y", "prewitt", "roberts",
    "laplacian", "laplacian-8", "log", "edge-vertical", "edge-horizontal", "cross", "disk", "ring",
]  # fmt: skip


@pytest.mark.parametrize("name", PROMISED_BUILTINS)
def test_promised_builtins_exist_with_description_and_range(name):
    kernel = load_kernel(name)
    assert kernel.description
    assert (kernel.range or "clip") in RANGES


def test_every_named_kernel_has_a_description_and_a_range():
    for kernel in named_kernels().values():
        assert kernel.description, kernel.name
        assert kernel.range in RANGES, kernel.name


def test_sign_conventions_of_design():
    np.testing.assert_array_equal(
        load_kernel("sobel-x").matrix, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    )
    np.testing.assert_array_equal(load_kernel("sobel-y").matrix, load_kernel("sobel-x").matrix.T)
    np.testing.assert_array_equal(
        load_kernel("edge-vertical").matrix, [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    )
    np.testing.assert_array_equal(
        load_kernel("edge-horizontal").matrix, [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    )
    cross = load_kernel("cross").matrix
    np.testing.assert_array_equal(cross > 0, [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert "Plus" in load_kernel("cross").description


@pytest.mark.parametrize("axis", ["x", "y"])
@pytest.mark.parametrize("family", ["sobel", "scharr", "prewitt"])
def test_gradient_kernels_are_positive_where_intensity_rises(family, axis):
    # Like OpenCV's Sobel(dx=1): a ramp rising along the axis gives a positive response.
    ramp = (
        np.add.outer(np.arange(8.0), np.zeros(8))
        if axis == "y"
        else np.add.outer(np.zeros(8), np.arange(8.0))
    )
    response = convolve(ramp, load_kernel(f"{family}-{axis}").matrix, padding="valid")
    assert (response > 0).all()


@pytest.mark.parametrize("name", ["sobel", "scharr", "prewitt", "roberts"])
def test_composites_are_the_magnitude_of_their_pair(name):
    kernel = load_kernel(name)
    assert kernel.combine == "magnitude"
    assert kernel.matrix is None
    assert [part.name for part in kernel.components] == {
        "roberts": ["roberts-pos", "roberts-neg"]
    }.get(name, [f"{name}-x", f"{name}-y"])


def test_smoothing_kernels_sum_to_one_and_edge_kernels_to_zero():
    for name in ["identity", "box", "gaussian", "disk", "cross", "ring", "emboss", "sharpen"]:
        assert load_kernel(name).total == pytest.approx(1.0), name
    for name in ["sobel-x", "scharr-y", "prewitt-x", "laplacian", "laplacian-8", "log"]:
        assert load_kernel(name).total == pytest.approx(0.0, abs=1e-12), name


def test_a_kernels_sum_is_exact_and_infinite_past_the_largest_float():
    # sobel:30's weights are 1 +- cos/sin of 30 degrees: -2.2e-16 when added in turn,
    # exactly 0 as floats. A sum as small but true stays.
    assert float(np.sum(load_kernel("sobel:30").matrix)) != 0.0
    assert load_kernel("sobel:30").total == 0.0
    assert load_kernel("[[1, -1, 1e-15]]").total == 1e-15
    assert load_kernel("[[1e308, 1e308]]").total == float("inf")


# --- families ---------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5, 2.0, 3.3])
def test_gaussian_defaults_cover_three_sigma_with_an_odd_size(sigma):
    kernel = load_kernel(f"gaussian:sigma={sigma}")
    size = kernel.shape[0]
    assert size % 2 == 1
    assert (size - 1) / 2 >= 3 * sigma
    assert (size - 1) / 2 < 3 * sigma + 1
    assert kernel.total == pytest.approx(1.0)
    assert kernel.separable
    assert kernel.rank == 1
    # Sampled exp(-d^2 / 2 sigma^2): the ratio of neighbouring weights on an axis.
    centre = size // 2
    m = kernel.matrix
    assert m[centre, centre + 1] / m[centre, centre] == pytest.approx(math.exp(-1 / (2 * sigma**2)))


def test_family_parameters_and_positional_form():
    assert load_kernel("gaussian:sigma=1.5,size=9").shape == (9, 9)
    np.testing.assert_allclose(load_kernel("box:5").matrix, np.full((5, 5), 1 / 25))
    assert load_kernel("box").shape == (3, 3)
    disk = load_kernel("disk:r=2").matrix
    expected = np.array(
        [[x * x + y * y <= 4 for x in range(-2, 3)] for y in range(-2, 3)], dtype=float
    )
    np.testing.assert_allclose(disk, expected / expected.sum())
    log = load_kernel("log:sigma=1.4").matrix
    assert log[log.shape[0] // 2, log.shape[1] // 2] < 0  # negative centre, as usual
    assert log.sum() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("box:0", r"^box: size must be an integer >= 1, got '0'$"),
        ("box:2.5", r"^box: size must be an integer >= 1, got '2.5'$"),
        ("gaussian:sigma=0", r"^gaussian: sigma must be a number > 0, got '0'$"),
        ("gaussian:sigma=nan", r"^gaussian: sigma must be a number > 0, got 'nan'$"),
        ("gaussian:sigm=2", r"^gaussian: unknown parameter 'sigm' \(it takes sigma=1,size=auto\)$"),
        ("gaussian:sigma=1e6", r"^gaussian: the kernel would be 6000001 wide; the largest"),
        ("gaussain:sigma=2", r"^unknown kernel family 'gaussain' .*did you mean gaussian\?$"),
        ("disk:1,2", r"^disk: write '2' as NAME=2$"),
    ],
)
def test_family_errors(spec, message):
    with pytest.raises(KernelError, match=message):
        load_kernel(spec)


# --- spec forms ------------------------------------------------------------------------


def test_inline_matrices_of_one_two_and_three_dimensions():
    assert load_kernel("[1, 2, 1]").shape == (3,)
    np.testing.assert_array_equal(load_kernel("[[0,1,0],[1,-4,1],[0,1,0]]").matrix,
                                  [[0, 1, 0], [1, -4, 1], [0, 1, 0]])  # fmt: skip
    assert load_kernel("[[[1,2],[3,4]],[[5,6],[7,8]]]").shape == (2, 2, 2)


def test_kernel_file_with_and_without_a_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[blur]\ndescription = "mine"\nmatrix = [[1, 1], [1, 1]]\nscale = "normalize"\n'
    )
    np.testing.assert_array_equal(load_kernel(str(path)).matrix, np.full((2, 2), 0.25))
    path.write_text(path.read_text() + '\n[edge]\nmatrix = [1, -1]\nrange = "abs"\nbias = 2\n')
    assert load_kernel(f"{path}:edge").bias == 2.0
    with pytest.raises(KernelError, match=r"defines 2 kernels \(blur, edge\); say which with"):
        load_kernel(str(path))
    with pytest.raises(KernelError, match=r"has no kernel 'edg'; did you mean edge\?$"):
        load_kernel(f"{path}:edg")


def test_kernel_path_folders_are_searched_and_a_user_kernel_wins(tmp_path, monkeypatch):
    (tmp_path / "user.toml").write_text(
        '[mine]\ndescription = "x"\nmatrix = [[2]]\n\n[sobel-x]\ndescription = "mine"\nmatrix = [[1]]\n'
    )
    monkeypatch.setenv(KERNEL_PATH_VARIABLE, str(tmp_path))
    assert load_kernel("mine").matrix.tolist() == [[2.0]]
    assert load_kernel("sobel-x").description == "mine"
    monkeypatch.setenv(KERNEL_PATH_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(KernelError, match=r"^CONVCLI_KERNEL_PATH: .*nowhere is not a folder$"):
        load_kernel("sobel-x")


def test_user_composite_may_use_builtin_components(tmp_path):
    path = tmp_path / "grad.toml"
    path.write_text('[g]\ncombine = "magnitude"\ncomponents = ["sobel-x", "sobel-y"]\n')
    assert [part.name for part in load_kernel(str(path)).components] == ["sobel-x", "sobel-y"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sobelx", r"^unknown kernel 'sobelx'; did you mean sobel-x, sobel, sobel-y\? "),
        ("../../etc/passwd", r"is not a plain kernel name"),
        ("a/b", r"is not a plain kernel name"),
        ("[[1,2],[3]]", r"^inline kernel: matrix row 2 has 1 value, expected 2 like row 1$"),
        ("[1, NaN]", r"^inline kernel: NaN is not a finite number$"),
        ("[1, true]", r"^inline kernel: matrix value 2 is a boolean \(true\), not a number$"),
        ('[1, "a"]', r"^inline kernel: matrix value 2 is a string \('a'\), not a number$"),
        ("[]", r"^inline kernel: matrix is empty$"),
        ("[[1,2", r"^inline kernel: not a matrix of numbers: "),
        ("[[[[1]]]]", r"more than 3 levels of nesting"),
        ("missing.toml", r"^kernel file not found: missing.toml$"),
    ],
)
def test_spec_errors(spec, message):
    with pytest.raises(ConvcliError, match=message) as caught:
        load_kernel(spec)
    assert isinstance(caught.value, ValueError)


KERNEL_FILE_ERRORS = [
    ("[k]\nmatrix = [[1, 2]]\nbias = \n", r"invalid TOML: .*\(at line 3, column 8\)$"),
    ('[k]\ndescription = "no matrix"\n', r"\[k\]: missing 'matrix'$"),
    ("[k]\nmatrix = [[1, 2, 3], [4, 5]]\n", r"\[k\]: matrix row 2 has 2 values, expected 3 like row 1$"),
    ("[k]\nmatrix = [[1, true]]\n", r"matrix row 1, column 2 is a boolean \(true\), not a number$"),
    ('[k]\nmatrix = [[1, "2"]]\n', r"matrix row 1, column 2 is a string \('2'\), not a number$"),
    ("[k]\nmatrix = []\n", r"\[k\]: matrix is empty$"),
    ("[k]\nmatrix = [[]]\n", r"\[k\]: matrix row 1 is empty$"),
    ("[k]\nmatrix = [[1, nan]]\n", r"matrix row 1, column 2 is nan; weights must be finite$"),
    ("[k]\nmatrix = [[1, inf]]\n", r"matrix row 1, column 2 is inf; weights must be finite$"),
    ("[k]\nmatrix = [[1, 1e400]]\n", r"matrix row 1, column 2 is inf; weights must be finite$"),
    ("[k]\nmatrix = [[1, -1]]\nscale = \"normalize\"\n", r'scale = "normalize" .* they sum to 0$'),
    ("[k]\nmatrix = [[1]]\nscale = \"double\"\n", r'scale must be a finite number or "normalize"'),
    ("[k]\nmatrix = [[1e300, 1]]\nscale = 1e10\n", r"the scale takes a weight past the largest number"),
    ("[k]\nmatrix = [[1e308, 1e308]]\nscale = \"normalize\"\n", r'"normalize": the weights sum past 1.8e308$'),
    ("[k]\nmatrix = [[1]]\nrange = \"loud\"\n", r"range must be one of clip, abs, rescale, offset, raw"),
    ("[k]\nmatirx = [[1]]\n", r"unknown key 'matirx'; did you mean matrix\?$"),
    ('["../up"]\nmatrix = [[1]]\n', r"'../up' is not a plain kernel name"),
    ("k = 3\n", r"'k' must be a table \(\[k\] with a matrix\)"),
    ("[k]\nmatrix = [[1]]\ncomponents = [\"a\", \"b\"]\ncombine = \"magnitude\"\n", r"either 'matrix' or 'components'"),
    ("[k]\ncombine = \"sum\"\ncomponents = [\"sobel-x\", \"sobel-y\"]\n", r"combine must be one of magnitude, max, got 'sum'$"),
    ("[k]\ncombine = \"magnitude\"\ncomponents = [\"sobel-x\", \"nope\"]\n", r"component 'nope' is not a kernel with a matrix$"),
    ("[k]\ncombine = \"magnitude\"\ncomponents = [\"sobel-x\", \"roberts-pos\"]\n", r"components must have the same shape"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"), KERNEL_FILE_ERRORS, ids=[m for _, m in KERNEL_FILE_ERRORS]
)
def test_kernel_file_errors_say_what_and_where(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(KernelError, match=message) as caught:
        load_kernel(str(path))
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_a_scale_past_the_largest_float_is_one_line_and_no_warning(tmp_path):
    # It used to pass a dry run, then fail with NumPy's overflow warnings beside the error.
    (tmp_path / "k.toml").write_text("[big]\nmatrix = [[1e300, 1e300], [1, 1]]\nscale = 1e300\n")
    np.save(tmp_path / "a.npy", np.ones((8, 8)))
    for extra in ([], ["--dry-run"]):
        result = run("apply", str(tmp_path / "a.npy"), "-k", f"{tmp_path / 'k.toml'}:big",
                     "-o", str(tmp_path / "b.npy"), *extra)  # fmt: skip
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert "the scale takes a weight past the largest number" in result.stderr
    assert not (tmp_path / "b.npy").exists()


def test_kernel_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[k]\ndescription = "caf\xe9"\nmatrix = [[1]]\n')
    with pytest.raises(KernelError, match=r"not UTF-8 text \(line 2\)$"):
        load_kernel(str(path))


# ImageMagick's kernel strings (issue 24, item 10): what ImageMagick users paste.


@pytest.mark.parametrize(
    ("imagemagick", "inline"),
    [
        ("3x3: 0,-1,0 -1,5,-1 0,-1,0", "[[0,-1,0],[-1,5,-1],[0,-1,0]]"),
        ("3: 0 -1 0  -1 5 -1  0 -1 0", "[[0,-1,0],[-1,5,-1],[0,-1,0]]"),  # spaces alone
        ("3x3+1+1:0,-1,0,-1,5,-1,0,-1,0", "[[0,-1,0],[-1,5,-1],[0,-1,0]]"),  # origin: the centre
        ("3x2: 1,2.5,3  -4,5e-1,6", "[[1,2.5,3],[-4,0.5,6]]"),  # width x height: 2 rows of 3
        ("3: -,1,- 1,1,1 nan,1,NaN", "[[0,1,0],[1,1,1],[0,1,0]]"),  # left out of the kernel: 0
        ("4x4: 1,2,3,4 5,6,7,8 9,10,11,12 13,14,15,16",
         "[[1,2,3,4],[5,6,7,8],[9,10,11,12],[13,14,15,16]]"),  # even: anchored as convcli's
    ],
)  # fmt: skip
def test_an_imagemagick_array_is_the_same_kernel_as_its_matrix_inline(imagemagick, inline):
    ours, theirs = load_kernel(imagemagick), load_kernel(inline)
    np.testing.assert_array_equal(ours.matrix, theirs.matrix)
    assert (ours.name, ours.digest) == (theirs.name, theirs.digest)


def test_an_imagemagick_array_writes_the_same_bytes_as_its_matrix_inline(tmp_path):
    from PIL import Image

    from helpers import SAMPLES, run

    for spec, name in (("3x3: 0,-1,0 -1,5,-1 0,-1,0", "im.png"),
                       ("[[0,-1,0],[-1,5,-1],[0,-1,0]]", "inline.png")):  # fmt: skip
        result = run("apply", str(SAMPLES / "coins.png"), "-k", spec, "-o", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    assert (tmp_path / "im.png").read_bytes() == (tmp_path / "inline.png").read_bytes()
    with Image.open(tmp_path / "im.png") as written, Image.open(SAMPLES / "coins.png") as read:
        assert written.size == read.size


def test_an_imagemagick_gaussian_with_a_radius_is_the_sampled_gaussian():
    # ImageMagick's Gaussian:RxS: exp(-(u^2 + v^2) / (2 S^2)) at u, v from -R to R, sum 1
    # (MagickCore/morphology.c); convcli's gaussian:sigma=S,size=2R+1 samples the same.
    offsets = np.arange(-2, 3, dtype=np.float64)
    weights = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.5**2))
    kernel = load_kernel("Gaussian:2x1.5")
    np.testing.assert_allclose(kernel.matrix, weights / weights.sum(), rtol=1e-14)
    assert kernel.name == load_kernel("gaussian:sigma=1.5,size=5").name


@pytest.mark.parametrize(
    ("spec", "matrix", "relation", "convcli_name"),
    [
        # ImageMagick's own numbers (MagickCore/morphology.c), and how convcli's relate
        ("Sobel", [[1, 0, -1], [2, 0, -2], [1, 0, -1]], lambda m: np.rot90(m, 2), "sobel-x"),
        ("Prewitt", [[1, 0, -1], [1, 0, -1], [1, 0, -1]], lambda m: np.rot90(m, 2), "prewitt-x"),
        ("Laplacian:0", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.negative, "laplacian-8"),
        ("Laplacian", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.negative, "laplacian-8"),
        ("laplacian:1", [[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.negative, "laplacian"),
    ],
)  # fmt: skip
def test_imagemagick_named_kernels_have_imagemagicks_numbers(spec, matrix, relation, convcli_name):
    kernel = load_kernel(spec)
    assert kernel.matrix.tolist() == matrix
    assert kernel.name != convcli_name  # never mistaken for convcli's kernel of other numbers
    ours = load_kernel(convcli_name).matrix
    np.testing.assert_array_equal(relation(np.array(matrix, dtype=np.float64)), ours)


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("Cross:2", "give its matrix inline, -k '[[0,-1,0],[-1,5,-1],[0,-1,0]]', or as "
                    "ImageMagick writes it, -k '3x3: 0,-1,0 -1,5,-1 0,-1,0' ('convcli kernels "
                    "list' shows convcli's)"),
        ("Peaks", "give its matrix inline, -k '[[0,-1,0],[-1,5,-1],[0,-1,0]]', or as "
                  "ImageMagick writes it, -k '3x3: 0,-1,0 -1,5,-1 0,-1,0' ('convcli kernels "
                  "list' shows convcli's)"),
    ],
)  # fmt: skip
def test_an_imagemagick_name_is_answered_with_the_options_to_type(tmp_path, spec, said):
    from helpers import run

    result = run("apply", str(tmp_path / "any.png"), "-k", spec)
    assert result.exit_code == 2
    assert result.stderr == (
        f"convcli: error: ImageMagick's {spec} is not one of convcli's kernels: {said}\n"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("3x3+3+0: 0,-1,0 -1,5,-1 0,-1,0", "the origin +3+0 is outside it"),
        ("3x2: 1,2,3,4,5", "3x2 takes 6 values, got 5"),
        ("3: 1,x,1 1,1,1 1,1,1", "'x' is not a finite number"),
        ("3: 1,inf,1 1,1,1 1,1,1", "'inf' is not a finite number"),
        ("3: 1,1e400,1 1,1,1 1,1,1", "'1e400' is not a finite number"),
        ("Gaussian:0x2", "give the radius (Gaussian:6x2 is convcli's gaussian:sigma=2,size=13)"),
        ("Cross", "give its matrix inline, kernels '[[0,-1,0],[-1,5,-1],[0,-1,0]]'"),  # -k
        ("Kirsch:30", "angle must be a multiple of 45 degrees for this kernel, got 30"),
    ],
)  # fmt: skip
def test_imagemagick_forms_convcli_does_not_take_say_why(spec, message):
    with pytest.raises(KernelError, match=re.escape(message)):
        load_kernel(spec)


def test_convcli_names_win_over_imagemagick_ones():
    assert load_kernel("laplacian").matrix.tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    assert load_kernel("sobel").components
