"""convolve against independent oracles: the plain-loop reference and SciPy."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from convcli import ConvcliError, convolve, output_shape
from convcli.choices import PAD_MODE_ALIASES, Method, PadMode
from convcli.engine import Convolution, convolve_bands
from convcli.engine._borders import source_index
from helpers.reference import correlate_reference

METHODS, PAD_MODES = list(Method), list(PadMode)

RNG = np.random.default_rng(20261121)

# Our names -> SciPy's (the clash: SciPy 'reflect' is our 'symmetric').
SCIPY_MODES = {
    "zero": "constant",
    "reflect": "mirror",
    "symmetric": "reflect",
    "replicate": "nearest",
    "wrap": "grid-wrap",
}

PADDINGS = [
    "valid",
    "same",
    "full",
    2,
    (1, 3),
    ((0, 2), (3, 1)),
    ((9, 0), (1, 13)),  # wider than the 6 x 7 input: periodic extension
]
STRIDE_DILATION = [(1, 1), (2, 1), (1, 2), ((3, 2), (2, 3))]
KERNEL_SHAPES_2D = [(3, 3), (2, 2), (4, 3), (2, 5), (1, 4)]


def random_array(*shape: int) -> np.ndarray:
    return RNG.uniform(-1.0, 1.0, size=shape)


def per_axis(value, ndim):
    return (value,) * ndim if isinstance(value, int) else tuple(value)


def check_against_reference(
    x, kernel, *, padding, mode, stride=1, dilation=1, value=0.0, flip=False
):
    """convolve(x, kernel, ...) equals the plain-loop reference, or both find no output."""
    ndim = kernel.ndim
    strides, dilations = per_axis(stride, ndim), per_axis(dilation, ndim)
    # The reference takes per-side padding; resolve the named forms the way the README says ("Padding").
    spans = [d * (k - 1) for k, d in zip(kernel.shape, dilations)]
    if padding == "valid":
        pads = [(0, 0)] * ndim
    elif padding == "same":
        pads = [(span // 2, span - span // 2) for span in spans]
    elif padding == "full":
        pads = [(span, span) for span in spans]
    else:
        pads = [per_axis(p, 2) for p in per_axis(padding, ndim)]
    expected = correlate_reference(x, kernel, pads, mode, value, strides, dilations, flip)
    options = dict(
        padding=padding, pad_mode=mode, pad_value=value, stride=stride, dilation=dilation, flip=flip
    )
    if expected.size == 0:
        with pytest.raises(ConvcliError, match="output would be empty along axis"):
            convolve(x, kernel, **options)
        return
    for method in METHODS:  # every algorithm against the one reference
        got = convolve(x, kernel, dtype=np.float64, method=method, **options)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=method)


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("padding", PADDINGS, ids=str)
@pytest.mark.parametrize(("stride", "dilation"), STRIDE_DILATION, ids=str)
def test_2d_matches_plain_loop_reference(mode, padding, stride, dilation):
    x = random_array(6, 7, 2)  # two channels, filtered independently
    for k_shape in KERNEL_SHAPES_2D:
        check_against_reference(
            x, random_array(*k_shape), padding=padding, mode=mode, stride=stride,
            dilation=dilation, value=0.75,
        )  # fmt: skip
    # Low rank (fewer terms than rows): separable and matrix take their own paths.
    for kernel in LOW_RANK:
        check_against_reference(x, kernel, padding=padding, mode=mode, stride=stride,
                                dilation=dilation, value=0.75)  # fmt: skip


LOW_RANK = [
    np.outer(random_array(4), random_array(3)),
    np.outer(random_array(5), random_array(2)) + np.outer(random_array(5), random_array(2)),
    np.outer(random_array(7), random_array(6)),  # the matrix method takes its term (stride 1)
]


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize(
    ("padding", "stride", "dilation"),
    [("same", 1, 1), ("full", 2, 1), ("valid", 1, 3), (((4, 0),), 3, 2), (((0, 11),), 1, 1)],
    ids=str,
)
def test_1d_matches_plain_loop_reference(mode, padding, stride, dilation):
    x = random_array(9)
    for k_len in (1, 2, 3, 4):
        check_against_reference(
            x, random_array(k_len), padding=padding, mode=mode, stride=stride,
            dilation=dilation, value=-2.0,
        )  # fmt: skip


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize(
    ("padding", "stride", "dilation"),
    [("same", 1, 1), ("valid", (1, 2, 1), 1), (((1, 2), (0, 0), (3, 1)), 2, (1, 1, 2))],
    ids=str,
)
def test_3d_matches_plain_loop_reference(mode, padding, stride, dilation):
    check_against_reference(
        random_array(4, 5, 6), random_array(3, 2, 3), padding=padding, mode=mode,
        stride=stride, dilation=dilation,
    )  # fmt: skip


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("k_shape", [(3, 3), (4, 2), (1, 5)], ids=str)
def test_flip_matches_reference_convolution(mode, k_shape):
    check_against_reference(
        random_array(5, 6), random_array(*k_shape), padding="same", mode=mode, flip=True
    )


# --- SciPy as a second, independent oracle -------------------------------------------

SCIPY_KERNELS = [(3, 3), (5, 3), (1, 7), (2, 2), (4, 3), (9, 11)]  # (9, 11) is wider than x


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("k_shape", SCIPY_KERNELS, ids=str)
def test_same_padding_matches_scipy_correlate_and_convolve(mode, k_shape):
    x = random_array(8, 10)
    kernel = random_array(*k_shape)
    # SciPy centres a kernel of size k at k // 2; convcli anchors at (k - 1) // 2.
    origin = [(k - 1) // 2 - k // 2 for k in k_shape]
    scipy_mode = SCIPY_MODES[mode]
    expected = ndi.correlate(x, kernel, mode=scipy_mode, cval=1.5, origin=origin)
    got = convolve(x, kernel, pad_mode=mode, pad_value=1.5, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # True convolution: SciPy's convolve already shifts even kernels to match.
    expected = ndi.convolve(x, kernel, mode=scipy_mode, cval=1.5)
    got = convolve(x, kernel, pad_mode=mode, pad_value=1.5, flip=True, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", PAD_MODES)
def test_1d_signal_and_3d_volume_match_scipy(mode):
    signal, taps = random_array(50), random_array(7)
    np.testing.assert_allclose(
        convolve(signal, taps, pad_mode=mode, dtype=np.float64),
        ndi.correlate(signal, taps, mode=SCIPY_MODES[mode]),
        rtol=1e-10,
        atol=1e-12,
    )
    volume, cube = random_array(6, 7, 8), random_array(3, 3, 3)
    np.testing.assert_allclose(
        convolve(volume, cube, pad_mode=mode, dtype=np.float64),
        ndi.correlate(volume, cube, mode=SCIPY_MODES[mode]),
        rtol=1e-10,
        atol=1e-12,
    )


def test_channels_are_filtered_independently_like_scipy():
    image = RNG.integers(0, 256, size=(12, 9, 3), dtype=np.uint8)
    kernel = random_array(3, 3)
    got = convolve(image, kernel, dtype=np.float64)
    for c in range(3):
        expected = ndi.correlate(image[..., c].astype(np.float64), kernel, mode="mirror")
        np.testing.assert_allclose(got[..., c], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("alias", "name"), PAD_MODE_ALIASES.items())
def test_aliases_are_the_same_mode(alias, name):
    x, kernel = random_array(7, 7), random_array(3, 3)
    np.testing.assert_array_equal(
        convolve(x, kernel, padding=4, pad_mode=alias),
        convolve(x, kernel, padding=4, pad_mode=name),
    )


# --- dtypes -------------------------------------------------------------------------


def test_default_dtype_is_float32_and_float64_on_request():
    x = random_array(5, 5)
    assert convolve(x, np.ones((3, 3))).dtype == np.float32
    assert convolve(x, np.ones((3, 3)), dtype=np.float64).dtype == np.float64
    assert convolve(x, np.ones((3, 3)), dtype="float64").dtype == np.float64


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, bool])
def test_integer_input_never_wraps(dtype):
    top = np.iinfo(dtype).max if dtype is not bool else 1
    x = np.full((4, 4), top, dtype=dtype)
    # Nine taps of 1 over a constant image: 9 * top, far outside the input's own range.
    got = convolve(x, np.ones((3, 3), dtype=np.int64), dtype=np.float64)
    np.testing.assert_array_equal(got, np.full((4, 4), 9.0 * top))


def test_float32_result_is_close_to_float64():
    x = RNG.integers(0, 256, size=(30, 30)).astype(np.uint8)
    kernel = random_array(5, 5)
    np.testing.assert_allclose(
        convolve(x, kernel), convolve(x, kernel, dtype=np.float64), rtol=1e-5, atol=1e-3
    )


def test_output_shape_matches_convolve_shape():
    x = random_array(11, 13, 3)
    for padding in PADDINGS:
        for stride, dilation in STRIDE_DILATION:
            for k_shape in KERNEL_SHAPES_2D:
                args = dict(padding=padding, stride=stride, dilation=dilation)
                shape = output_shape(x.shape, k_shape, **args)
                assert convolve(x, np.ones(k_shape), **args).shape == shape


# --- stride computes only the outputs it keeps ---------------------------------------


@pytest.mark.parametrize(("method", "share"), [("direct", 1 / 4), ("separable", 1 / 2)])
def test_stride_allocates_only_the_kept_outputs(method, share):
    x = np.zeros((3000, 3000), dtype=np.float32)  # 36 MB: a band (about 1 MB) is small beside it
    kernel = np.ones((3, 3))
    full_bytes = x.nbytes
    tracemalloc.start()
    try:
        convolve(x, kernel, padding="valid", stride=4, method=method, threads=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The strided output is 1/16 of the image. Direct computes only kept outputs;
    # separable's first pass keeps every 4th row but all columns (1/4). A full-size
    # result, subsampled afterwards, would need at least full_bytes.
    assert peak < full_bytes * share


# --- errors ---------------------------------------------------------------------------

ERRORS = [
    (dict(stride=0), r"^stride must be >= 1, got 0$"),
    (dict(stride=(1, 0)), r"^stride must be >= 1, got \(1, 0\)$"),
    (dict(stride=(1, 2, 3)), r"^stride must be an int or 2 ints .*got \(1, 2, 3\)$"),
    (dict(stride=True), r"^stride must be an int or 2 ints .*got True$"),
    (dict(stride=1.5), r"^stride must be an int or 2 ints .*got 1.5$"),
    (dict(dilation=0), r"^dilation must be >= 1, got 0$"),
    (dict(dilation=-2), r"^dilation must be >= 1, got -2$"),
    (dict(dilation=10**20), r"^dilation must be at most 2147483647, got 100000000000000000000$"),
    (dict(stride=(1, 2**31)), r"^stride must be at most 2147483647, got \(1, 2147483648\)$"),
    (dict(padding=2**31), r"^padding must be at most 2147483647, got 2147483648$"),
    (dict(padding=-1), r"^padding must be >= 0, got -1$"),
    (dict(padding=((1, 1), (0, -3))), r"^padding must be >= 0, got \(\(1, 1\), \(0, -3\)\)$"),
    (dict(padding="sam"), r"^padding must be one of valid, same, full.*got 'sam'$"),
    (dict(padding=(1, 2, 3)), r"^padding must be .* 2 entries .*got \(1, 2, 3\)$"),
    (dict(padding=((1, 2, 3), 1)), r"^padding must be .*got \(\(1, 2, 3\), 1\)$"),
    (dict(pad_mode="mirror"), r"^pad_mode must be one of zero, reflect, symmetric, replicate, "
     r"wrap, constant, edge, circular, got 'mirror'$"),
    (dict(pad_value=float("nan")), r"^pad_value must be finite in float32, got nan$"),
    (dict(pad_value=1e39), r"^pad_value must be finite in float32, got 1e\+39$"),
    (dict(pad_value="0"), r"^pad_value must be a number, got '0'$"),
    (dict(method="magic"), r"^method must be one of auto, direct, separable, fft, matrix, got 'magic'$"),
    (dict(dtype=np.int32), r"^dtype must be float32 or float64, got "),
    (dict(dtype="nonsense"), r"^dtype must be float32 or float64, got 'nonsense'$"),
    (dict(dtype=None), r"^dtype must be float32 or float64, got None$"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "message"), ERRORS, ids=lambda v: str(v)[:40])
def test_invalid_parameters_name_the_parameter_and_value(kwargs, message):
    with pytest.raises(ConvcliError, match=message) as caught:
        convolve(np.zeros((5, 5)), np.ones((3, 3)), **kwargs)
    assert isinstance(caught.value, ValueError)


IMAGE = np.zeros((5, 5))
ARRAY_ERRORS = [
    (np.zeros(5), np.ones((3, 3)), r"^kernel has 2 dimensions but the input only 1 "),
    (IMAGE, 2.0, r"^kernel must have at least 1 dimension"),
    (IMAGE, np.ones((0, 3)), r"^kernel is empty: shape \(0, 3\)$"),
    (np.zeros((0, 5)), np.ones((3, 3)), r"^input is empty: shape \(0, 5\)$"),
    (IMAGE, [[1, 0], [np.nan, 1]], r"^kernel must be finite, got nan at index \(1, 0\)$"),
    (IMAGE, [[1, np.inf]], r"^kernel must be finite, got inf at index \(0, 1\)$"),
    (IMAGE, [[1, 2], [3]], r"^kernel must be a rectangular array of numbers"),
    (IMAGE, [["a", "b"]], r"^kernel must hold real numbers, got dtype <U1$"),
    (IMAGE.astype(complex), np.ones((3, 3)), r"^input must hold real numbers, got dtype complex"),
]


@pytest.mark.parametrize(("x", "kernel", "message"), ARRAY_ERRORS, ids=lambda v: str(v)[:30])
def test_invalid_arrays_are_reported(x, kernel, message):
    with pytest.raises(ConvcliError, match=message):
        convolve(x, kernel)


def test_empty_output_names_the_axis_and_the_numbers():
    message = (
        r"^output would be empty along axis 1: floor\(\(4 \+ 0 \+ 0 - 2\*\(3 - 1\) - 1\) / 1\) "
        r"\+ 1 = 0; the dilated kernel spans 5 but the padded input only 4$"
    )
    with pytest.raises(ConvcliError, match=message):
        convolve(np.zeros((9, 4)), np.ones((3, 3)), padding="valid", dilation=2)


# --- layering -------------------------------------------------------------------------


def test_engine_imports_no_cli_terminal_or_image_library():
    code = (
        "import sys, numpy as np, convcli.engine as e; "
        "e.convolve(np.ones((4, 4)), np.ones((3, 3))); "
        "print(sorted(m for m in ('typer', 'rich', 'PIL', 'click', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- bands of rows ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("padding", PADDINGS, ids=str)
@pytest.mark.parametrize(("stride", "dilation"), STRIDE_DILATION, ids=str)
def test_bands_of_rows_put_together_are_convolve(mode, padding, stride, dilation):
    x = random_array(6, 7, 2)
    kernel = random_array(3, 2)
    options = dict(padding=padding, pad_mode=mode, pad_value=0.5, stride=stride, dilation=dilation)
    try:
        whole = convolve(x, kernel, dtype=np.float64, **options)
    except ConvcliError:
        with pytest.raises(ConvcliError):
            Convolution(kernel, **options).plan(x.shape)
        return
    plan = Convolution(kernel, dtype=np.float64, **options).plan(x.shape)
    for rows in (1, 2, 3, 100):
        bands = list(convolve_bands(plan, x, rows=rows))
        assert [start for start, _ in bands] == list(range(0, whole.shape[0], rows))
        np.testing.assert_array_equal(np.concatenate([band for _, band in bands]), whole)


def test_bands_of_a_volume_and_of_a_signal():
    volume, cube = random_array(5, 6, 4), random_array(3, 3, 2)
    plan = Convolution(cube, pad_mode="wrap").plan(volume.shape)
    bands = [band for _, band in convolve_bands(plan, volume, rows=2)]
    np.testing.assert_array_equal(np.concatenate(bands), convolve(volume, cube, pad_mode="wrap"))
    signal = random_array(11)
    plan = Convolution([1, 2], stride=3).plan(signal.shape)
    bands = [band for _, band in convolve_bands(plan, signal, rows=1)]
    np.testing.assert_array_equal(np.concatenate(bands), convolve(signal, [1, 2], stride=3))


def test_bands_convert_only_a_band_of_the_input_to_float():
    image = np.zeros((2000, 1000), dtype=np.uint8)
    tracemalloc.start()
    try:
        plan = Convolution(np.ones((3, 3))).plan(image.shape)
        for _ in convolve_bands(plan, image, rows=50, threads=1):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float32 copy of the whole image would be 8 MB; a band of 52 rows is about 0.2 MB.
    assert peak < 2_000_000


# --- the fast algorithms on real data ----------------------------------------------------


def test_fft_rounds_to_the_same_8_bit_values_as_exact_arithmetic():
    from PIL import Image

    with Image.open(Path(__file__).resolve().parents[1] / "sample_images" / "camera.png") as image:
        photo = np.asarray(image)
    for kernel in (RNG.random((31, 31)), RNG.random((9, 9))):
        kernel /= kernel.sum()
        exact = convolve(photo, kernel, method="direct", dtype=np.float64)
        fast = convolve(photo, kernel, method="fft")  # float32 result, float64 spectra
        differs = np.rint(fast) != np.rint(exact)
        # A float32 result can round differently only where the exact value is a tie
        # to within float32's resolution (1.5e-5 near 200).
        distance_to_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5)
        assert (distance_to_tie[differs] < 1e-4).all()
        assert differs.mean() < 1e-4


@pytest.mark.parametrize("method", ["fft", "matrix"])
def test_nan_in_the_input_does_not_spread_through_the_spectrum_or_a_window(method):
    x = random_array(40, 40)
    x[20, 20] = np.nan
    kernel = random_array(5, 5)
    direct = convolve(x, kernel, method="direct", dtype=np.float64)
    other = convolve(x, kernel, method=method, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(other), np.isnan(direct))
    assert np.isnan(direct).sum() == 25  # only the windows that see it


def test_separable_factors_are_exact_for_integer_rank_one_kernels():
    from convcli.engine._separable import factor

    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    ((column, row),) = factor(sobel)
    assert np.array_equal(np.outer(column, row), sobel)
    assert len(factor(np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float))) == 2  # Laplacian
    assert factor(RNG.random((3, 3, 3))) == ()  # 3-D of higher rank: left to direct


@pytest.mark.parametrize("method", METHODS)
def test_threads_never_change_a_bit(method):
    x = (RNG.random((300, 200, 3)) * 255).astype(np.float32)
    kernel = RNG.random((5, 5))
    one = convolve(x, kernel, method=method, threads=1, stride=(2, 1))
    two = convolve(x, kernel, method=method, threads=2, stride=(2, 1))
    assert np.array_equal(one, two)
    plan = Convolution(kernel, method=method).plan(x.shape)
    bands = list(convolve_bands(plan, x, threads=2, rows=7))
    assert [start for start, _ in bands] == list(range(0, 300, 7))
    assert np.array_equal(np.concatenate([b for _, b in bands]), convolve(x, kernel, method=method))


@pytest.mark.parametrize("mode", PAD_MODES)
def test_padded_positions_map_to_the_rows_numpy_pad_would_copy(mode):
    # The bands map padded rows to input rows without building the padded axis;
    # numpy.pad applied to the row indices is the reference, wider than the input too.
    numpy_mode = {"zero": "constant", "replicate": "edge"}.get(mode, mode)
    for n in range(1, 7):
        for before, after in [(0, 0), (1, 2), (5, 0), (0, 9), (13, 17)]:
            options = {"constant_values": -1} if mode == "zero" else {}
            expected = np.pad(np.arange(n), (before, after), mode=numpy_mode, **options)
            got = source_index(np.arange(n + before + after), n, before, mode)
            np.testing.assert_array_equal(got, expected)


def test_separable_keeps_small_terms_in_float64():
    # Found by the linearity property: a rank-2 kernel whose second singular value is
    # 1e-7 of the first lost that term even in float64 (a float32 tolerance).
    x = np.array([[17.0, 0, 0, 0, 0]])
    kernel = np.array([[1e-5, 2.66915439e-308], [51.0, 51.0]])
    direct = convolve(x, kernel, pad_mode="zero", method="direct", dtype=np.float64)
    separable = convolve(x, kernel, pad_mode="zero", method="separable", dtype=np.float64)
    np.testing.assert_allclose(separable, direct, rtol=1e-9, atol=1e-12)


# --- the matrix method's own paths --------------------------------------------------------


def matrix_against_reference(x, kernel, **options):
    """The matrix method on ``x`` equals the plain-loop reference (float64, reflect border)."""
    ndim = kernel.ndim
    strides = per_axis(options.get("stride", 1), ndim)
    dilations = per_axis(options.get("dilation", 1), ndim)
    spans = [d * (k - 1) for k, d in zip(kernel.shape, dilations)]
    pads = [(span // 2, span - span // 2) for span in spans]
    expected = correlate_reference(x, kernel, pads, "reflect", 0.0, strides, dilations, False)
    got = convolve(x, kernel, method="matrix", dtype=np.float64, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("k_shape", "options"),
    [((3, 19), {}), ((4, 17), dict(stride=(1, 2))), ((5, 9), dict(dilation=(2, 3)))],
    ids=str,
)
def test_wide_kernels_take_windows_longer_than_their_outputs(k_shape, options):
    # A kernel spanning more than a window's 16 outputs reads windows longer than twice
    # that, of several rows, against the reference on rows 70 wide.
    matrix_against_reference(random_array(23, 70, 2), random_array(*k_shape), **options)


def test_kernels_cut_into_pieces_add_up_to_the_whole(monkeypatch):
    # A window longer than LONGEST samples cuts the kernel along its first axis:
    # with LONGEST at 1 every row (every plane of a volume) is its own piece.
    from convcli.engine import _matrix

    monkeypatch.setattr(_matrix, "LONGEST", 1)
    matrix_against_reference(random_array(9, 30), random_array(4, 5), stride=(2, 1))
    matrix_against_reference(random_array(6, 7, 20), random_array(3, 2, 3), dilation=(2, 1, 1))
    with_zero_row = random_array(3, 3)
    with_zero_row[1] = 0  # full rank kept: the zero row is one more piece of zeros
    with_zero_row[:, 1] = [1, 0, -1]
    matrix_against_reference(random_array(8, 40), with_zero_row)


@pytest.mark.parametrize(
    "options",
    [{}, dict(stride=(2, 1)), dict(stride=(3, 2), dilation=(2, 1)), dict(dilation=(3, 2))],
    ids=str,
)
def test_column_products_of_few_rows_and_values_equal_the_reference(monkeypatch, options):
    # A low-rank kernel's column products have one shape: with 4 output rows of 8
    # values, the last rows and columns of every band go through copies of that shape.
    # Its terms made no work, so that strides take them too (the model fuses those).
    from convcli.engine import _matrix, resolve_geometry

    monkeypatch.setattr(_matrix, "COLUMN_BLOCK", 4)
    monkeypatch.setattr(_matrix, "COLUMN_WIDTH", 8)
    monkeypatch.setattr(_matrix, "LONGEST", 16)  # a column of 15 in pieces
    monkeypatch.setattr(_matrix, "SHORT", 0.0)
    monkeypatch.setattr(_matrix, "DOWN", 0.0)
    rank_two = sum(np.outer(random_array(9), random_array(9)) for _ in range(2))
    tall = np.outer(random_array(15), random_array(4))
    for x in (random_array(29, 37), random_array(19, 21, 3)):
        for kernel in (np.outer(random_array(5), random_array(6)), rank_two, tall):
            geometry = resolve_geometry(x.shape, kernel.shape, **options)
            assert len(_matrix.matrix_work(kernel, geometry)[0]) == np.linalg.matrix_rank(kernel)
            matrix_against_reference(x, kernel, **options)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_tall_columns_pieces_give_every_band_the_wholes_bits(dtype):
    # BLAS splits a product of a few hundred rows at fixed places, which fall among an
    # output's taps where its band starts (past 400 to 600 here): a column of 601 taps
    # is cut into pieces of LONGEST rows; bands of any height equal the whole.
    from convcli.engine import Convolution, convolve_bands

    x = random_array(630, 40).astype(dtype)
    kernel = np.outer(random_array(601), random_array(3))
    plan = Convolution(kernel, method="matrix", dtype=dtype).plan(x.shape)
    whole = np.concatenate([band for _, band in convolve_bands(plan, x)])
    for rows in (1, 7, 16, 45):
        banded = np.concatenate([band for _, band in convolve_bands(plan, x, rows=rows)])
        assert np.array_equal(banded, whole), rows
    direct = convolve(x, kernel, method="direct", dtype=np.float64)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12  # of the largest value
    np.testing.assert_allclose(whole, direct, atol=tolerance * np.abs(direct).max())


def test_windows_gathered_a_few_products_at_a_time_equal_one_gathering(monkeypatch):
    # The windows go through BLAS GATHERED_BYTES at a time; cut into the fewest
    # (one product's worth) or gathered all at once, every bit is the same.
    from convcli.engine import _matrix

    x, kernel = random_array(50, 300, 3), random_array(7, 7)
    small = convolve(x, kernel, method="matrix")
    monkeypatch.setattr(_matrix, "GATHERED_BYTES", 1 << 40)
    assert np.array_equal(convolve(x, kernel, method="matrix"), small)


def test_the_matrix_method_takes_a_low_rank_kernels_terms_where_they_are_less_work():
    from convcli.engine import resolve_geometry
    from convcli.engine._matrix import matrix_work

    def terms(kernel):
        return len(matrix_work(kernel, resolve_geometry((30, 40), kernel.shape))[0])

    rank_one = np.outer(random_array(7), random_array(7))
    rank_two = np.outer(random_array(15), random_array(15)) + np.outer(*random_array(2, 15))
    assert (terms(rank_one), terms(rank_two)) == (1, 2)
    assert terms(rank_two[:5, :5]) == 0  # 5 rows fused are less work than 2 terms
    assert terms(random_array(7, 3)) == 0  # rank 3
    for kernel in (rank_one, rank_two):
        matrix_against_reference(random_array(30, 40), kernel)
        matrix_against_reference(random_array(30, 40, 2), kernel, dilation=(2, 1))
