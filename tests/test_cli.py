"""The command line, in-process: outputs, reports, exit codes and messages."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image

from convcli import __version__
from convcli.cli import app
from convcli.report import RECORD_KEYS
from helpers import SAMPLES, run, runner

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)


@pytest.fixture
def camera(tmp_path) -> Path:
    path = tmp_path / "camera.png"
    shutil.copy(SAMPLES / "camera.png", path)
    return path


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode=mode).save(path)
    return path


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def mode_of(path: Path) -> str:
    with Image.open(path) as image:
        return image.mode


# --- the main job -------------------------------------------------------------------


def test_sobel_on_a_photograph_matches_scipy(camera):
    result = run("apply", str(camera), "-k", "sobel-x", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    written = read(camera.with_name("camera_sobel-x.png"))
    # Independent: SciPy's correlate with mirror borders, |.|, clipped, rounded.
    response = ndi.correlate(read(camera).astype(float), SOBEL_X, mode="mirror")
    expected = np.rint(np.clip(np.abs(response), 0, 255)).astype(np.uint8)
    assert written.dtype == np.uint8
    # float32 engine vs float64 SciPy: equal except at exact .5 ties.
    assert (np.abs(written.astype(int) - expected) <= 1).all()
    assert (written == expected).mean() > 0.999


def test_the_report_table_shows_shapes_and_the_formula(camera):
    result = run("apply", str(camera), "-k", "sobel-x", "-s", "2", "-p", "valid")
    assert result.exit_code == 0
    table = result.stdout
    assert "512x512" in table
    assert "255x255" in table
    assert "floor((512 + 0 + 0 - 1*(3 - 1) - 1) / 2) + 1 = 255" in table
    assert "reflect" in table
    assert "exact integer sums (int16)" in table  # 8-bit samples, |weights| sum to 8
    assert "shapes: rows x cols (x channels)" in table  # the convention, said
    assert "clipped" in result.stderr  # Sobel on 8-bit exceeds 255 here and there


def test_json_lines_have_exactly_the_design_keys(camera):
    result = run("apply", str(camera), "-k", "sobel-x", "--json", "-p", "1,2,3,4", "-d", "2")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert tuple(record) == RECORD_KEYS
    assert record["status"] == "ok"
    assert record["error"] is None
    assert record["input_shape"] == [512, 512]
    assert record["kernel_shape"] == [3, 3]
    assert record["padding"] == [[1, 2], [3, 4]]
    assert record["dilation"] == [2, 2]
    assert record["stride"] == [1, 1]
    # rows: 512 + 1 + 2 - 2*2 - 1 + 1 = 511; cols: 512 + 3 + 4 - 4 = 515
    assert record["output_shape"] == [511, 515]
    assert Path(record["output"]).name == "camera_sobel-x_p1-2-3-4_d2.png"  # README "Outputs"
    assert read(Path(record["output"])).shape == (511, 515)


def test_a_pipeline_reports_every_stage(camera):
    result = run("apply", str(camera), "-k", "gaussian:sigma=1", "-k", "sobel", "-s", "2", "--json")
    record = json.loads(result.stdout)
    assert record["kernel"] == "gaussian:sigma=1+sobel"
    assert record["output_shape"] == [128, 128]  # two stages of stride 2
    assert record["kernel_shape"] is None
    assert record["padding"] is None
    assert [stage["kernel"] for stage in record["stages"]] == ["gaussian:sigma=1", "sobel"]
    assert record["stages"][0]["output_shape"] == record["stages"][1]["input_shape"] == [256, 256]
    assert camera.with_name("camera_gaussian-sigma-1+sobel_s2.png").exists()


def test_colour_channels_are_filtered_and_alpha_carried_through(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, size=(9, 8, 3), dtype=np.uint8)
    alpha = np.tile(np.arange(8, dtype=np.uint8) * 30, (9, 1))
    source = write_png(tmp_path / "a.png", np.dstack([rgb, alpha]))
    result = run(
        "apply", str(source), "-k", "box:3", "-s", "2", "-o", str(tmp_path / "b.png"), "-q"
    )
    assert result.exit_code == 0
    out = read(tmp_path / "b.png")
    assert out.shape == (5, 4, 4)
    for channel in range(3):
        box = ndi.uniform_filter(rgb[..., channel].astype(float), 3, mode="mirror")[::2, ::2]
        assert (np.abs(out[..., channel] - np.rint(box)) <= 1).all()
    np.testing.assert_array_equal(out[..., 3], alpha[::2, ::2])  # sampled, not filtered


def test_gray_uses_luminance(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    source = write_png(tmp_path / "c.png", rgb)
    run("apply", str(source), "-k", "identity", "--gray", "-o", str(tmp_path / "g.png"), "-q")
    expected = np.rint(rgb @ np.array([0.299, 0.587, 0.114]))
    assert (np.abs(read(tmp_path / "g.png") - expected) <= 1).all()


def test_sixteen_bit_grey_stays_sixteen_bit(tmp_path):
    deep = (np.arange(48).reshape(6, 8) * 1000).astype(np.uint16)
    source = write_png(tmp_path / "deep.png", deep)
    result = run("apply", str(source), "-k", "identity", "-q")
    assert result.exit_code == 0
    assert mode_of(tmp_path / "deep_identity.png") == "I;16"
    np.testing.assert_array_equal(read(tmp_path / "deep_identity.png"), deep)


def test_npy_in_and_out_keeps_float_values(tmp_path):
    signal = np.array([0, 0, 1, 1, 1, 0, 0], dtype=float)
    np.save(tmp_path / "s.npy", signal)
    result = run("apply", str(tmp_path / "s.npy"), "-k", "[1, 0, -1]", "-p", "valid", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    out = np.load(record["output"])
    np.testing.assert_array_equal(out, [-1, -1, 0, 1, 1])  # x[i] - x[i+2]: raw, signed
    volume = np.zeros((5, 5, 5))
    volume[2, 2, 2] = 1
    np.save(tmp_path / "v.npy", volume)
    result = run("apply", str(tmp_path / "v.npy"), "-k", "[[[1,1],[1,1]],[[1,1],[1,1]]]", "-q")
    assert result.exit_code == 0
    (written,) = tmp_path.glob("v_inline-*.npy")  # an inline kernel is named by its digest
    assert re.fullmatch(r"v_inline-[0-9a-f]{8}\.npy", written.name)
    assert np.load(written).sum() == 8


def test_one_dimensional_kernel_is_a_row_on_images(tmp_path):
    image = np.zeros((3, 5), np.uint8)
    image[:, 2] = 100
    source = write_png(tmp_path / "line.png", image)
    run("apply", str(source), "-k", "[1, 1, 1]", "-p", "valid", "-o", str(tmp_path / "r.png"), "-q")
    np.testing.assert_array_equal(read(tmp_path / "r.png"), [[100, 100, 100]] * 3)


def test_flip_and_pad_mode_options(tmp_path):
    image = np.zeros((5, 5), np.uint8)
    image[2, 2] = 50
    source = write_png(tmp_path / "dot.png", image)
    kernel = "[[1,2,0],[0,0,0],[0,0,0]]"
    for flip, expected_row, expected_col in [(False, 3, 3), (True, 1, 1)]:
        args = ["apply", str(source), "-k", kernel, "-o", str(tmp_path / "f.png"), "-q"]
        run(*args, *(["--flip"] if flip else []), "--pad-mode", "zero")
        out = read(tmp_path / "f.png")
        # Correlation puts the weight of kernel (0, 0) below-right of the dot; convolution above-left.
        assert out[expected_row, expected_col] == 50


def test_stdin_to_stdout(camera):
    result = runner.invoke(app, ["apply", "-", "-k", "box:3", "--format", "png", "-q"],
                           input=camera.read_bytes())  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert image.size == (512, 512)
        assert image.format == "PNG"


def test_output_to_a_folder_and_report_files(camera, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    report = tmp_path / "report.csv"
    result = run(
        "apply", str(camera), "-k", "laplacian", "-o", str(out), "--report", str(report), "-q"
    )
    assert result.exit_code == 0
    assert (out / "camera_laplacian.png").exists()
    rows = list(csv.DictReader(report.read_text().splitlines()))
    assert tuple(rows[0]) == RECORD_KEYS
    assert json.loads(rows[0]["output_shape"]) == [512, 512]
    report_json = tmp_path / "report.json"
    run("apply", str(camera), "-k", "laplacian", "-o", str(out), "--report", str(report_json), "-q")
    assert json.loads(report_json.read_text())[0]["kernel"] == "laplacian"


def test_dry_run_writes_nothing(camera):
    before = sorted(camera.parent.iterdir())
    result = run("apply", str(camera), "-k", "sobel", "--dry-run", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["output_shape"] == [512, 512]
    assert sorted(camera.parent.iterdir()) == before


@pytest.mark.parametrize(("suffix", "mode"), [(".jpg", "RGB"), (".tif", "RGB"), (".webp", "RGB"),
                                              (".bmp", "RGB"), (".gif", "P")])  # fmt: skip
def test_output_formats_by_suffix(tmp_path, suffix, mode):
    source = SAMPLES / "astronaut.png"
    target = tmp_path / f"a{suffix}"
    result = run("apply", str(source), "-k", "box", "-o", str(target), "-q")
    assert result.exit_code == 0
    assert mode_of(target) == mode


# --- errors: one line, the right exit code, nothing written -------------------------------

USAGE_ERRORS = [
    (["-k", "sobelx"], r"unknown kernel 'sobelx'; did you mean sobel-x"),
    (["-k", "sobel-x", "-p", "sam"], r"--padding must be valid, same, full, N, N,M or T,B,L,R \(integers\), got .sam.; did you mean same\?$"),
    (["-k", "sobel-x", "-p", "1,2,3"], r"--padding takes 1, 2, 4 numbers for a 2-D kernel, got 3"),
    (["-k", "sobel-x", "-s", "0"], r"--stride must be >= 1, got '0'"),
    (["-k", "sobel-x", "-s", "a"], r"--stride must be N or N,M \(integers\), got .a.$"),
    (["-k", "sobel-x", "--pad-mode", "mirror"], r"--pad-mode must be one of zero, reflect, "),
    (["-k", "sobel-x", "--range", "loud"], r"--range must be one of clip, abs, rescale"),
    (["-k", "sobel-x", "--method", "fast"], r"--method must be one of auto, direct, separable, fft"),
    (["-k", "sobel-x", "-o", "out.xyz"], r"unknown output format '.xyz'"),
    (["-k", "sobel-x", "--range", "raw", "-o", "o.png"], r"--range raw keeps float values"),
    (["-k", "sobel-x", "--compress-level", "12"], r"Invalid value for '--compress-level': 12 is not in the range 0<=x<=9\. \(see"),
    (["-k", "sobel-x", "--report", "r.txt"], r"--report must end in .json or .csv"),
    (["-k", "gaussian:sigma=0"], r"gaussian: sigma must be a number > 0"),
    (["-k", "box:600", "-p", "valid"], r"output would be empty along axis 0: floor\(\(512"),
    (["-k", "[[[1]],[[1]]]"], r".*inline takes 2 input channels \(weights 2x1x1\), but the input has 1"),
    ([], r"Missing option '-k' / '--kernel'"),
    (["-k", "sobel-x", "--bogus"], r"No such option: --bogus"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS, ids=[m[:30] for _, m in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line_and_write_nothing(camera, args, message):
    before = sorted(camera.parent.iterdir())
    result = runner.invoke(app, ["apply", str(camera), *args], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("convcli: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert sorted(camera.parent.iterdir()) == before


@pytest.mark.parametrize(
    ("several", "output", "message"),
    [
        (True, "one.png", r"-o .*one\.png names a file, but there are several inputs; name a folder "
                          r"\(-o .*one/\) or give one input"),
        (True, "camera.png", r"-o .*camera\.png is a file, but there are several inputs: "
                             r"-o must name a folder"),
        (False, "nodir/sub/x.png", r"-o .*x\.png: the folder .*nodir/sub does not exist; create it, "
                                   r"or end -o with / to have convcli make a folder"),
        (False, "newdir", r"-o .*newdir has no suffix to tell the format: end it with / to write into "
                          r"a folder, or add one \(\.png, \.tif, \.\.\.\), or give --format"),
    ],
)  # fmt: skip
def test_an_output_that_is_surely_a_typo_is_refused(camera, tmp_path, several, output, message):
    inputs = [str(camera), str(SAMPLES / "coins.png")] if several else [str(camera)]
    result = run("apply", *inputs, "-k", "box", "-o", str(tmp_path / output))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert re.fullmatch(f"convcli: error: {message}", line), line  # the options as typed
    assert list(tmp_path.iterdir()) == [camera]  # no folder made, nothing written


def test_an_input_with_no_suffix_needs_a_format_for_its_output(camera, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(camera.read_bytes())
    refused = run("apply", str(plain), "-k", "box")
    assert refused.exit_code == 2
    assert (
        refused.stderr
        == f"convcli: error: {plain} has no suffix to give its output; give --format\n"
    )
    assert run("apply", str(plain), "-k", "box", "--format", "png", "-q").exit_code == 0
    assert read(tmp_path / "plain_box.png").shape == (512, 512)


def test_a_missing_input_fails_alone_with_or_without_a_suffix(camera, tmp_path):
    out = f"{tmp_path}/out/"
    for missing in (tmp_path / "photos", tmp_path / "gone.png"):
        result = run("apply", str(missing), str(camera), "-k", "box", "-o", out, "-q")
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0].startswith(f"convcli: error: {missing}: no such file")
        assert (tmp_path / "out" / "camera_box.png").is_file()
    alone = run("apply", str(tmp_path / "photos/"), "-k", "box")
    assert alone.exit_code == 1
    assert alone.stderr == f"convcli: error: {tmp_path / 'photos'}: no such file or folder\n"


def test_standard_input_into_a_folder_is_refused(camera, tmp_path):
    result = run("apply", "-", "-k", "box", "-o", f"{tmp_path}/out/", stdin=camera.read_bytes())
    assert result.exit_code == 2
    assert result.stderr == (
        "convcli: error: standard input has no name to put in a folder; use -o FILE\n"
    )
    assert list(tmp_path.iterdir()) == [camera]


def test_a_folder_output_is_made_when_it_ends_in_a_slash(camera, tmp_path):
    result = run("apply", str(camera), "-k", "box", "-o", f"{tmp_path}/new/deeper/")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "new" / "deeper" / "camera_box.png").is_file()


def test_output_equal_to_input_is_refused(camera):
    result = run("apply", str(camera), "-k", "box", "-o", str(camera))
    assert result.exit_code == 2
    assert result.stderr == (
        f"convcli: error: the output {camera} of {camera} is an input; choose another -o\n"
    )
    via_dots = camera.parent / ".." / camera.parent.name / camera.name
    assert run("apply", str(camera), "-k", "box", "-o", str(via_dots)).exit_code == 2
    link = camera.parent / "link.png"
    link.symlink_to(camera)
    via_link = run("apply", str(camera), "-k", "box", "-o", str(link))
    assert via_link.exit_code == 2
    assert "is an input" in via_link.stderr
    assert read(camera).shape == (512, 512)  # untouched


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, r"no such file"), (b"not an image", r"not an image convcli can read"),
     (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"cannot read image")],
)  # fmt: skip
def test_a_bad_input_fails_alone_with_exit_1(camera, tmp_path, content, message):
    bad = tmp_path / "bad.png"
    if content is not None:
        bad.write_bytes(content)
    result = run("apply", str(bad), str(camera), "-k", "box", "-o", str(tmp_path), "--json")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in records] == ["error", "ok"]
    assert records[0]["output"] is None
    assert message.split()[-1] in records[0]["error"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("convcli: error:")]
    assert len(errors) == 1
    assert result.stderr.splitlines()[-1].startswith("convcli: 1 done, 0 skipped, 1 failed in ")
    assert not (tmp_path / "bad_box.png").exists()
    assert (tmp_path / "camera_box.png").exists()


def test_a_single_bad_input_gets_its_one_line_and_no_table(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    result = run("apply", str(bad), "-k", "box", "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()  # the error says it all: no table after it
    assert line.startswith(f"convcli: error: {bad}: not an image convcli can read")
    assert not (tmp_path / "out.png").exists()


def test_json_to_stdout_and_image_to_stdout_conflict(camera):
    result = run("apply", str(camera), "-k", "box", "-o", "-", "--json")
    assert result.exit_code == 2
    assert "both want standard output" in result.stderr


# --- kernels list / show ---------------------------------------------------------------


def test_kernels_list_json_and_tags():
    entries = json.loads(run("kernels", "list", "--json").stdout)
    names = [entry["name"] for entry in entries]
    assert {"sobel-x", "sobel", "gaussian", "box", "disk", "log", "cross", "ring"} <= set(names)
    assert all({"name", "shape", "description", "tags", "source"} <= set(e) for e in entries)
    gaussian = entries[names.index("gaussian")]
    assert gaussian["parameters"] == {"sigma": 1.0, "size": "auto"}
    blur = json.loads(run("kernels", "list", "--tag", "blur", "--json").stdout)
    assert {"box", "gaussian", "disk", "cross", "motion"} <= {e["name"] for e in blur}
    assert all("blur" in e["tags"] for e in blur)
    table = run("kernels", "list").stdout
    assert "gaussian:sigma=1,size=auto" in table
    assert "edge-vertical" in table


def test_kernels_show_json_and_view():
    record = json.loads(run("kernels", "show", "sobel-x", "--json").stdout)
    assert record["matrix"] == SOBEL_X.tolist()
    assert record["sum"] == 0
    assert record["rank"] == 1
    assert record["separable"] is True
    assert record["range"] == "abs"
    disk = json.loads(run("kernels", "show", "disk:r=3", "--json").stdout)
    assert disk["separable"] is False
    assert disk["shape"] == [7, 7]
    composite = json.loads(run("kernels", "show", "sobel", "--json").stdout)
    assert composite["matrix"] is None
    assert composite["combine"] == "magnitude"
    view = run("kernels", "show", "laplacian").stdout
    assert "-4" in view
    assert "separable" in view
    assert "rank" in view
    failed = run("kernels", "show", "nope")
    assert failed.exit_code == 2
    assert failed.stderr.startswith("convcli: error: unknown kernel")


@pytest.mark.parametrize("columns", [None, "40"])
def test_kernels_show_keeps_every_digit_and_exponent(columns):
    # Piped: rows as long as they are; at 40 columns: rows fold, a blank line between them.
    result = runner.invoke(app, ["kernels", "show", "gaussian:sigma=1.5"], env={"COLUMNS": columns})
    blocks = result.stdout.split("\n\n") if columns else result.stdout.splitlines()
    numeric = [[ln for ln in b.splitlines() if re.fullmatch(r"[-+.e\d ]+", ln)] for b in blocks]
    rows = [[float(v) for v in " ".join(lines).split()] for lines in numeric if lines]
    # Independently: the sampled Gaussian on -5..5 (radius ceil(3 sigma)), normalised to sum 1.
    x = np.arange(-5, 6)
    expected = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(rows, expected / expected.sum(), rtol=5e-4)
    assert all(len(line) <= 40 for line in result.stdout.splitlines()) or not columns


# --- program --------------------------------------------------------------------------------


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"convcli {__version__}\n"


def test_python_dash_m_runs_the_same_program():
    result = subprocess.run(
        [sys.executable, "-m", "convcli", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"convcli {__version__}\n"


def heavy_modules_after(*commands: list[str]) -> list[str]:
    """Run CLI commands in a fresh interpreter; say which of NumPy and Pillow got imported."""
    invocations = "; ".join(
        f"assert CliRunner().invoke(app, {args!r}).exit_code == 0" for args in commands
    )
    code = (
        "import sys; from convcli.cli import app; from typer.testing import CliRunner; "
        f"{invocations}; print(sorted(m for m in ('numpy', 'PIL') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(result.stdout)


def test_help_loads_neither_numpy_nor_pillow():
    # The library API and the image stack load on first use, so `convcli --help` stays fast.
    assert heavy_modules_after(["--help"], ["apply", "--help"]) == []


def test_kernels_list_loads_no_numpy():
    # Listing reads kernel files and family parameters only; matrices are built on use.
    assert heavy_modules_after(["kernels", "list"]) == []


def test_several_inputs_go_to_a_folder_created_if_missing(camera, tmp_path):
    coins = tmp_path / "coins.png"
    shutil.copy(SAMPLES / "coins.png", coins)
    out = tmp_path / "new" / "edges"
    dry = run("apply", str(camera), str(coins), "-k", "sobel", "-o", str(out), "--dry-run", "-q")
    assert dry.exit_code == 0
    assert not out.exists()
    result = run("apply", str(camera), str(coins), "-k", "sobel", "-o", str(out), "-q")
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["camera_sobel.png", "coins_sobel.png"]
    (tmp_path / "file.png").write_bytes(b"x")
    clash = run("apply", str(camera), str(coins), "-k", "sobel", "-o", str(tmp_path / "file.png"))
    assert clash.exit_code == 2
    assert "is a file" in clash.stderr


def _mode_cases():
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    grey, alpha = rgb[..., 0], rgb[..., 1]
    palette = Image.fromarray(rgb).quantize(colors=16)
    return {
        # name: (image, format to save, expected pixels after identity, output suffix)
        "1": (Image.fromarray(grey > 127), "PNG", (grey > 127).astype(np.uint8) * 255, ".png"),
        "L": (Image.fromarray(grey), "PNG", grey, ".png"),
        "LA": (Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]), "PNG", np.dstack([grey, alpha]), ".png"),
        "RGB": (Image.fromarray(rgb), "PNG", rgb, ".png"),
        "RGBA": (Image.fromarray(np.dstack([rgb, alpha])), "PNG", np.dstack([rgb, alpha]), ".png"),
        "P": (palette, "PNG", np.asarray(palette.convert("RGB")), ".png"),
        "CMYK": (Image.fromarray(rgb).convert("CMYK"), "TIFF",
                 np.asarray(Image.fromarray(rgb).convert("CMYK").convert("RGB")), ".png"),
        "I;16": (Image.fromarray(grey.astype(np.uint16) * 257), "PNG", grey.astype(np.uint16) * 257, ".png"),
        "I": (Image.fromarray(grey.astype(np.int32) * 257), "TIFF", grey.astype(np.uint16) * 257, ".tif"),
        "F": (Image.fromarray(grey.astype(np.float32) / 255), "TIFF", grey, ".png"),
        "GIF": (palette, "GIF", np.asarray(palette.convert("RGB")), ".png"),
    }  # fmt: skip


@pytest.mark.parametrize("mode", list(_mode_cases()))
def test_every_mode_survives_the_identity_kernel_exactly(tmp_path, mode):
    image, fmt, expected, suffix = _mode_cases()[mode]
    source = tmp_path / f"in.{fmt.lower()}"
    image.save(source, format=fmt)
    target = tmp_path / f"out{suffix}"
    result = run("apply", str(source), "-k", "identity", "-o", str(target), "-q")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(read(target), expected)


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_anywhere_shows_the_traceback_and_as_a_value_does_not(camera, where):
    arguments = ["apply", str(camera), "-k", "nonesuch"]
    shown = run(*(["--debug", *arguments] if where == "before" else [*arguments, "--debug"]))
    assert shown.exit_code == 2
    assert "Traceback (most recent call last)" in shown.stderr
    assert shown.stderr.strip().splitlines()[-1].startswith("convcli: error: unknown kernel")
    value = run("apply", str(camera), "-k", "box", "-p", "--debug")
    assert value.exit_code == 2
    assert value.stderr.count("\n") == 1
    assert value.stderr.startswith("convcli: error: --padding must be")


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("convcli apply x.png --pad-mode r", ["reflect", "replicate"]),
        ("convcli apply x.png --range a", ["abs"]),
        ("convcli apply x.png --colormap ma", ["magma"]),
        ("convcli apply x.png --format t", ["tif", "tga"]),
        ("convcli apply x.png --method s", ["separable"]),
        ("convcli apply x.png -p f", ["full"]),
        ("convcli apply x.png -k sobel-", ["sobel-x", "sobel-y"]),
        ("convcli explain -k gau", ["gaussian:"]),
        ("convcli kernels show lap", ["laplacian", "laplacian-8", "laplacian:"]),
        ("convcli kernels show mine", ["mine-blur"]),  # from CONVCLI_KERNEL_PATH
        ("convcli kernels list --tag b", ["basic", "blob", "blur"]),
    ],
)
def test_bash_completion_offers_choices_and_kernel_names(tmp_path, words, offered):
    (tmp_path / "mine.toml").write_text("[mine-blur]\nmatrix = [[1, 1], [1, 1]]\n")
    environment = os.environ | {
        "_CONVCLI_COMPLETE": "complete_bash",  # what the script --install-completion writes sets
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
        "CONVCLI_KERNEL_PATH": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-m", "convcli"], env=environment, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == offered


def test_a_message_names_parameters_and_the_command_line_words_them_as_options():
    import pickle

    from convcli.cli.text import option
    from convcli.errors import Message, ParameterError, UsageError

    inner = Message("{output} {given!r} and {sheet}", given="{stem}")
    error = UsageError(Message("{label}: {why} ({kernels}, {pad_mode}, {template})",
                               label="a{b}.png", why=inner))  # fmt: skip
    again = pickle.loads(pickle.dumps(error))  # as a worker's error reaches the parent
    assert str(again) == "a{b}.png: output '{stem}' and sheet (kernels, pad_mode, template)"
    assert again.worded(option) == "a{b}.png: -o '{stem}' and --montage (-k, --pad-mode, --name)"
    refused = ParameterError("stride {x} must be >= 1", parameter="stride", hint="say 1")
    assert refused.about("a.png").worded(option) == "a.png: --stride {x} must be >= 1; say 1"


def test_an_output_suffix_and_format_that_disagree_are_refused(camera, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # ImageMagick's PNG:out.tif writes a PNG named .tif; convcli refuses to mislabel a file.
    result = run("apply", str(camera), "-k", "box", "-o", str(out / "out.tif"), "--format", "png")
    assert result.exit_code == 2
    assert result.stderr == (
        f"convcli: error: -o {out / 'out.tif'} ends in .tif but --format asks for png: "
        "leave out one, or make them agree\n"
    )
    assert list(out.iterdir()) == []
    for name, fmt, written in (("a.jpeg", "jpg", "JPEG"), ("a.dat", "png", "PNG")):
        result = run(
            "apply", str(camera), "-k", "box", "-o", str(out / name), "--format", fmt, "-q"
        )
        assert result.exit_code == 0, result.stderr
        with Image.open(out / name) as image:
            assert image.format == written
