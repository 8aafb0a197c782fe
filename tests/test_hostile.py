"""Hostile and odd inputs, end to end: each ends in a right result or one line and the right code.

Every file is made here (no binary fixtures). Each case goes through the
real command line and the contract of ``contract.py`` (no traceback, no
temporary file, nothing written on exit 2, every output decodes).
"""

from __future__ import annotations

import errno
import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import convcli.io.atomic
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from helpers import encode, run
from helpers.contract import USAGE, png_chunks, png_from_chunks, run_and_check

RNG = np.random.default_rng(11)
RGB = RNG.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)


def png_header_only(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG that announces a size and holds (almost) no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return png_from_chunks([(b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(64))), (b"IEND", b"")])


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The header of a .npy file that may promise more than follows it."""
    stream = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue()


def bilevel_bomb(side: int = 20_000) -> bytes:
    """A real 1-bit PNG of side x side black pixels: 50 KB for 400 megapixels."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    packer, row = zlib.compressobj(9), bytes(1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return png_from_chunks([(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b"")])


def animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((5, 6), v, np.uint8)).convert("P") for v in (30, 90, 150)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def exif_rotated_jpeg() -> bytes:
    image = Image.fromarray(RGB)
    exif = image.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    return encode(image, "JPEG", exif=exif, quality=100)


def palette_with_transparency() -> bytes:
    palette = Image.fromarray(RGB).quantize(colors=6)
    return encode(palette, "PNG", transparency=0)


def opened(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.copy()


# name, content, extra options, expected exit code, check of (stdout records, output path)
Check = Callable[[dict, Path], None]
CASES: list[tuple[str, Callable[[], bytes], list[str], int, str | Check]] = [
    ("zero.png", lambda: b"", [], 1, "an empty file"),
    ("text.png", lambda: b"this is not a picture\n", [], 1, "not an image convcli can read"),
    ("eps.png", lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n", [], 1,
     "not an image convcli can read"),
    ("psd.png", lambda: b"8BPS\x00\x01" + bytes(40), [], 1, "a PSD in bitmap mode: convcli reads grey and RGB"),
    ("cut.png", lambda: encode(Image.fromarray(RGB), "PNG")[:-40], [], 1, "cannot read image"),
    # Found by fuzzing: each once escaped as an internal error or as warning text on stderr.
    ("signature.jpg", lambda: b"\xff\xd8\xff", [], 1, "not an image convcli can read"),
    ("bad-exif.tif", lambda: b"II*\x00\x00\x00\x00\x01", [], 1, "not an image convcli can read"),
    ("empty-iccp.png", lambda: png_from_chunks([*png_chunks(encode(Image.fromarray(RGB), "PNG"))[:-1],
                                                (b"iCCP", b""), (b"IEND", b"")]),
     [], 1, "cannot read image: corrupt (IndexError)"),
    ("cut.jpg", lambda: encode(Image.fromarray(RGB), "JPEG")[:300], [], 1, "cannot read image"),
    ("huge-header.png", lambda: png_header_only(100_000, 100_000), [], 1,
     "100000x100000 (width x height) is 10000000000 pixels, over the limit of 89478485"),
    ("bomb.png", bilevel_bomb, [], 1, "20000x20000 (width x height) is 400000000 pixels, over the limit"),
    # Just under the default limit (9459 x 9459 = 89,472,681 pixels): a real one runs
    # (about 1 s and 400 MB here); a header-only one passes the size check, then fails as truncated.
    ("near-limit.png", lambda: bilevel_bomb(9459), [], 0,
     lambda rec, out: rec["output_shape"] == [9459, 9459] or pytest.fail(str(rec))),
    ("near-limit-header.png", lambda: png_header_only(9459, 9459, depth=1, colour=0), [], 1,
     "cannot read image: image file is truncated"),
    ("one.png", lambda: encode(Image.fromarray(RGB[:1, :1]), "PNG"), [], 0,
     lambda rec, out: np.testing.assert_array_equal(np.asarray(opened(out)), RGB[:1, :1])),
    ("deep.png", lambda: encode(Image.fromarray(RGB[..., 0].astype(np.uint16) * 257), "PNG"),
     [], 0, lambda rec, out: opened(out).mode.startswith("I")),
    ("palette.png", palette_with_transparency, [], 0,
     lambda rec, out: opened(out).mode == "RGBA" or pytest.fail(opened(out).mode)),
    ("cmyk.jpg", lambda: encode(Image.fromarray(RGB).convert("CMYK"), "JPEG"), [], 0,
     lambda rec, out: opened(out).mode == "RGB" or pytest.fail(opened(out).mode)),
    ("anim.gif", animated_gif, [], 0,
     lambda rec, out: np.asarray(opened(out)).max() <= 31 or pytest.fail("not the first frame")),
    ("turned.jpg", exif_rotated_jpeg, [], 0,
     lambda rec, out: opened(out).size == (12, 10) or pytest.fail(str(opened(out).size))),
    ("grey-alpha.png", lambda: encode(Image.fromarray(RGB[..., :2].copy(), "LA"), "PNG"), [], 0,
     lambda rec, out: opened(out).mode == "LA" or pytest.fail(opened(out).mode)),
    ("float.tif", lambda: encode(Image.fromarray(RNG.random((7, 9)).astype(np.float32)), "TIFF"),
     ["--range", "raw"], 0, lambda rec, out: opened(out).mode == "F" or pytest.fail(opened(out).mode)),
    ("objects.npy", lambda: npy_header("|O", (3,)) + bytes(24), [], 1,
     "real numbers, got shape (3,) of object"),
    ("huge.npy", lambda: npy_header("<f8", (10**12,)), [], 1,
     "1000000000000 values is over the limit"),
    ("short.npy", lambda: npy_header("<f8", (10,)) + bytes(16), [], 1,
     "needs 80 bytes, the file has 16"),
    ("an été -photo.png", lambda: encode(Image.fromarray(RGB), "PNG"), [], 0,
     lambda rec, out: rec["input"].endswith("an été -photo.png") or pytest.fail(rec["input"])),
    ("-dash.png", lambda: encode(Image.fromarray(RGB), "PNG"), [], 0,
     lambda rec, out: out.exists() or pytest.fail("no output")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "options", "code", "expect"), CASES,
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_every_odd_input_ends_in_a_result_or_one_clear_line(
    tmp_path, name, make, options, code, expect
):
    source = tmp_path / name
    source.write_bytes(make())
    output = tmp_path / f"out{source.suffix if source.suffix != '.jpg' else '.png'}"
    args = [
        "apply",
        "-k",
        "box",
        "-o",
        str(output),
        "--json",
        "-j",
        "1",
        *options,
        "--",
        str(source),
    ]
    result = run_and_check(args, tmp_path)
    assert result.exit_code == code, result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    if code == 0:
        assert record["status"] == "ok"
        assert callable(expect)
        expect(record, output)
    else:
        assert isinstance(expect, str)
        assert record["status"] == "error"
        assert not output.exists()
        assert expect in record["error"], record["error"]
        (error,) = [line for line in result.stderr.splitlines() if "error:" in line]
        assert expect in error


def test_the_pixel_limit_is_inclusive(tmp_path):
    source = tmp_path / "a.png"
    source.write_bytes(encode(Image.fromarray(RGB), "PNG"))  # 12 x 10 = 120 pixels
    ok = run_and_check(["apply", str(source), "-k", "box", "-o", str(tmp_path / "b.png"),
                        "--max-pixels", "120"], tmp_path)  # fmt: skip
    refused = run_and_check(["apply", str(source), "-k", "box", "-o", str(tmp_path / "c.png"),
                             "--max-pixels", "119"], tmp_path)  # fmt: skip
    assert (ok.exit_code, refused.exit_code) == (0, 1)
    assert (
        "10x12 (width x height) is 120 pixels, over the limit of 119 (raise it with --max-pixels)"
        in refused.stderr
    )


def test_pillow_keeps_truncated_images_as_errors():
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS


# --- what padding, dilation and kernel size may allocate ----------------------------


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(encode(Image.fromarray(RGB), "PNG"))
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-p", "1000000"], r"the output would be 2000010x2000008 \(rows x columns\) = 4,000,036,000,080 points "
                            r"\(padding 1000000,1000000,1000000,1000000\), over the limit of 89,478,485; "
                            r"use less padding, or raise --max-pixels$"),
        (["-d", "100000", "-p", "full"], r"the output would be 200012x200010 \(rows x columns\) = "),
        (["-p", "0,0,40000000,40000000", "-s", "1,100000000"],
         r"the padded input would hold [\d,]+ values to read \(padding 0,0,40000000,40000000, "
         r"stride 1,100000000\), over the limit of 715,827,880 \(8 x --max-pixels\); "
         r"use less padding, or raise --max-pixels$"),
        (["-p", "40", "--max-pixels", "1000"], r"the output would be 90x88 \(rows x columns\) = 7,920 points"),
    ],
)  # fmt: skip
def test_padding_and_dilation_that_would_allocate_too_much_are_refused(photo, options, message):
    result = run_and_check(["apply", str(photo), "-k", "box", *options], photo.parent)
    assert result.exit_code == USAGE
    assert len(result.stderr.splitlines()) == 1
    assert __import__("re").search(message, result.stderr), result.stderr


def test_a_huge_padding_with_a_huge_stride_runs_and_reads_only_what_it_needs(photo):
    # Output rows are 10**6 padded rows apart: each reads three rows of the padded image.
    out = photo.parent / "strided.npy"
    args = ["apply", str(photo), "-k", "box", "-p", "1000000", "-s", "1000000",
            "--pad-mode", "wrap", "--gray", "-o", str(out), "--range", "raw"]  # fmt: skip
    assert run_and_check(args, photo.parent).exit_code == 0
    grey = RGB @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luminance, as --gray
    padded_rows = np.pad(np.arange(12), 1_000_000, mode="wrap")  # numpy's own index mapping
    padded_cols = np.pad(np.arange(10), 1_000_000, mode="wrap")
    expected = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            rows = padded_rows[i * 1_000_000 : i * 1_000_000 + 3]
            cols = padded_cols[j * 1_000_000 : j * 1_000_000 + 3]
            expected[i, j] = grey[np.ix_(rows, cols)].mean()
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-5)  # raw keeps 0-255 units


def test_a_1001_wide_kernel_on_a_small_image_runs(photo):
    result = run_and_check(["apply", str(photo), "-k", "box:1001", "-o", str(photo.parent / "o.png")],
                           photo.parent)  # fmt: skip
    assert result.exit_code == 0


# --- kernel files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"defines no kernel"),
        ("[a]\nmatrix = [[1]]\n[a]\nmatrix = [[2]]\n", r"invalid TOML: Cannot declare \('a',\) twice \(at line 3, column 3\)"),
        ("[a]\nmatrix = [[1" + "0" * 5000 + "]]\n", r"invalid TOML: a number has more than 4300 digits$"),
        ("[a]\nmatrix = [[1" + "0" * 400 + "]]\n", r"is an integer too large for a weight"),
        ("[a]\nmatrix = " + "[" * 50_000 + "]" * 50_000 + "\n", r"invalid TOML: nested too deeply$"),
        ("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n", r"invalid TOML: nested too deeply$"),
        ("[a]\nmatrix = [[1, 2]\nbias = 1\n", r"invalid TOML: .*\(at line 3, column 1\)$"),
        ("[a]\nmatrix = [[[[1]]]]\n", r"more than 3 levels of nesting"),
    ],
)  # fmt: skip
def test_malformed_kernel_files_exit_2_naming_the_file(photo, text, message):
    kernel_file = photo.parent / "bad.toml"
    kernel_file.write_text(text)
    result = run_and_check(["apply", str(photo), "-k", str(kernel_file)], photo.parent)
    assert result.exit_code == USAGE
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"convcli: error: {kernel_file}")
    assert __import__("re").search(message, line), line


def test_a_kernel_file_over_the_size_limit_is_not_parsed(photo, monkeypatch):
    import convcli.catalog.lookup

    monkeypatch.setattr(convcli.catalog.lookup, "MAX_FILE_BYTES", 100)
    kernel_file = photo.parent / "long.toml"
    kernel_file.write_text("[a]\nmatrix = [" + "1, " * 60 + "1]\n")
    result = run_and_check(["apply", str(photo), "-k", str(kernel_file)], photo.parent)
    assert result.exit_code == USAGE
    assert (
        f"{kernel_file}: {kernel_file.stat().st_size} bytes is over the 100 a kernel file may have"
        in result.stderr
    )


def test_a_user_kernel_shadowing_a_builtin_wins_and_says_so(photo, monkeypatch):
    folder = photo.parent / "mine"
    folder.mkdir()
    (folder / "k.toml").write_text('[sobel-x]\ndescription = "mine"\nmatrix = [[0, 1]]\n')
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", str(folder))
    result = run_and_check(
        ["apply", str(photo), "-k", "sobel-x", "--dry-run", "--json"], photo.parent
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["kernel_shape"] == [1, 2]
    assert (
        f"kernel 'sobel-x' is the one in {folder / 'k.toml'} (CONVCLI_KERNEL_PATH comes "
        "before the built-in kernels)" in result.stderr
    )
    listed = run_and_check(["kernels", "list", "--json"], photo.parent)
    (entry,) = [e for e in json.loads(listed.stdout) if e["name"] == "sobel-x"]
    assert entry["source"] == f"{folder / 'k.toml'} (shadows the built-in)"


# --- every option's bad values --------------------------------------------------------

PAD_MODES = "zero, reflect, symmetric, replicate, wrap, constant, edge, circular"
BAD_OPTIONS = [
    (["-p", "sme"], r"--padding must be valid, same, full, N, N,M or T,B,L,R \(integers\), got 'sme'"),
    (["-p", "1,2,3"], r"--padding"),
    (["-p", "-1"], r"--padding must be >= 0, got '-1'"),
    (["--pad-mode", "mirror"], rf"--pad-mode must be one of {PAD_MODES}, got 'mirror'"),
    (["--pad-value", "nan"], r"--pad-value must be finite in float32"),
    (["--pad-value", "1e400"], r"--pad-value must be finite in float32"),
    (["--pad-value", "ten"], r"Invalid value for '--pad-value': 'ten' is not a valid float"),
    (["-s", "0"], r"--stride must be >= 1, got '0'"),
    (["-s", "1,2,3"], r"--stride"),
    (["-s", "x"], r"--stride"),
    (["-d", "0"], r"--dilation must be >= 1, got '0'"),
    (["-d", "99999999999999999999"], r"--dilation must be at most 2147483647, got '99999999999999999999'"),
    (["-p", "1,99999999999999999999"], r"--padding must be at most 2147483647"),
    (["--range", "loud"], r"--range must be one of clip, abs, rescale, offset, raw, got 'loud'"),
    (["--method", "fast"], r"--method must be one of auto, direct, separable, fft, matrix, got 'fast'"),
    (["--format", "xcf"], r"unknown output format 'xcf'; convcli writes avif, bmp, exr, gif, heic, heif, j2k, jp2, jpeg, jpg, jxl, npy, pfm, pgm, png, pnm, ppm, qoi, tga, tif, tiff, webp"),
    (["--max-pixels", "0"], r"Invalid value for '--max-pixels': 0 is not in the range 1<=x<=1099511627776\. \(see"),
    (["--max-pixels", "many"], r"Invalid value for '--max-pixels': 'many' is not a valid int"),
    (["--compress-level", "10"], r"Invalid value for '--compress-level': 10 is not in the range 0<=x<=9\. \(see"),
    (["-j", "0"], r"Invalid value for '-j' / '--jobs': 0 is not in the range 1<=x<=1024\. \(see"),
    (["--report", "r.txt"], r"--report must end in .json or .csv"),
    (["-k", "nope"], r"unknown kernel 'nope'"),
    (["-k", "gaussian:sigma=-1"], r"sigma must be a number > 0"),
    (["-k", "box:0"], r"box"),
    (["-k", "disk:r=1e9"], r"disk"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS]
)
def test_every_bad_option_value_exits_2_with_one_line(photo, options, message):
    kernel = [] if "-k" in options else ["-k", "box"]
    result = run_and_check(["apply", str(photo), *kernel, *options], photo.parent)
    assert result.exit_code == USAGE
    (line,) = result.stderr.splitlines()
    assert __import__("re").search(message, line), line


# float32, the engine's type, holds at most about 3.4e38: a fill value past it is refused.
@pytest.mark.parametrize("value", ["1e39", "-1e39"])
@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_a_dry_run_refuses_what_the_run_refuses_before_writing(photo, value, stdin):
    source, given = ("-", photo.read_bytes()) if stdin else (str(photo), None)
    args = ["apply", source, "-k", "box", "--pad-mode", "constant", "--pad-value", value,
            "-o", str(photo.parent / "o.png")]  # fmt: skip
    dry = run_and_check([*args, "--dry-run"], photo.parent, stdin=given)
    real = run_and_check(args, photo.parent, stdin=given)
    said = "" if stdin else f"{photo}: "
    expected = f"convcli: error: {said}--pad-value must be finite in float32, got {float(value)}\n"
    assert (dry.exit_code, dry.stderr) == (real.exit_code, real.stderr) == (USAGE, expected)
    assert [path.name for path in photo.parent.iterdir()] == ["photo.png"]  # nothing written


def test_an_unknown_tag_lists_the_tags():
    result = run_and_check(["kernels", "list", "--tag", "nothing"], Path.cwd())
    assert result.exit_code == USAGE
    assert __import__("re").search(
        r"--tag must be one of .*blur.*edge.*, got 'nothing'$", result.stderr.strip()
    )


# --- output safety ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "message"),
    [(OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
     (PermissionError(errno.EACCES, "Permission denied"), "Permission denied")],
)  # fmt: skip
def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(
    photo, monkeypatch, failure, message
):
    target = photo.parent / "existing.png"
    target.write_bytes(b"the previous output")

    def failing_replace(source: str, destination: str) -> None:
        raise failure  # the disk filled, or the folder refused the file, at the last step

    monkeypatch.setattr(convcli.io.atomic.os, "replace", failing_replace)
    result = run_and_check(["apply", str(photo), "-k", "box", "-o", str(target)], photo.parent)
    assert result.exit_code == 1
    assert message in result.stderr
    assert target.read_bytes() == b"the previous output"
    assert sorted(p.name for p in photo.parent.iterdir()) == ["existing.png", "photo.png"]


def test_a_refused_write_is_worded_alike_wherever_it_happens():
    """The system's words after "cannot write:", else the error's own text (never "None")."""
    from convcli.errors import ExitCode, UsageError, cannot_write

    full = cannot_write("out.png", OSError(errno.ENOSPC, "No space left on device"))
    assert str(full) == "out.png: cannot write: No space left on device"
    assert full.exit_code == ExitCode.FAILED  # an input's output: that input fails
    gone = cannot_write("a.html", OSError("the share went away"), UsageError)
    assert str(gone) == "a.html: cannot write: the share went away"
    assert gone.exit_code == ExitCode.USAGE  # a file an option names


def test_a_write_that_fails_midway_leaves_nothing(photo, monkeypatch):
    import convcli.io.png
    import convcli.io.writing

    def full_disk(stream, *args, **kwargs):
        stream.write(b"\x89PNG half an image")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convcli.io.writing, "write_png", full_disk)
    target = photo.parent / "new.png"
    result = run_and_check(["apply", str(photo), "-k", "box", "-o", str(target)], photo.parent)
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.png"]
    assert convcli.io.png  # the real writer module is untouched


def test_an_output_folder_that_is_a_file_is_one_clear_error(photo):
    blocker = photo.parent / "blocker"
    blocker.write_text("a file where a folder should be")
    result = run_and_check(
        ["apply", str(photo), "-k", "box", "-o", str(blocker / "out.png")], photo.parent
    )
    assert result.exit_code in (1, USAGE)
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".gif"])
def test_alpha_written_to_a_format_without_it_is_flattened_onto_white(photo, suffix):
    clear = photo.parent / "clear.png"
    rgba = np.dstack([RGB, np.zeros(RGB.shape[:2], np.uint8)])  # fully transparent
    Image.fromarray(rgba, "RGBA").save(clear)
    out = photo.parent / f"flat{suffix}"
    result = run_and_check(["apply", str(clear), "-k", "identity", "-o", str(out)], photo.parent)
    assert result.exit_code == 0
    assert (np.asarray(opened(out).convert("RGB")).astype(int) >= 250).all()


@pytest.mark.parametrize(
    ("make", "suffix", "mode"),
    [(lambda: Image.fromarray(RGB[..., 0].astype(np.uint16) * 257), ".jpg", "L"),
     (lambda: Image.fromarray(RGB[..., 0].astype(np.uint16) * 257), ".gif", "P"),
     (lambda: Image.fromarray(RNG.random((7, 9)).astype(np.float32)), ".png", "L"),
     (lambda: Image.fromarray(RNG.random((7, 9)).astype(np.float32)), ".webp", "RGB")],
)  # fmt: skip
def test_samples_a_format_cannot_hold_are_mapped_to_its_range(tmp_path, make, suffix, mode):
    source = tmp_path / "deep.tif"
    make().save(source)
    out = tmp_path / f"out{suffix}"
    result = run_and_check(["apply", str(source), "-k", "identity", "-o", str(out)], tmp_path)
    assert result.exit_code == 0
    assert opened(out).mode == mode


def test_a_tiff_whose_planar_configuration_is_invalid_fails_alone(tmp_path):
    # Found by the full-depth fuzz target: PlanarConfiguration 0 makes tifffile lay the
    # samples first, (3, 12, 10); that is this file's problem (exit 1), not a usage error.
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ones((12, 10, 3), np.float32), photometric="rgb")
    content = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(content))) as tiff:
        tag = tiff.pages[0].tags["PlanarConfiguration"]
        content[tag.valueoffset : tag.valueoffset + 2] = b"\x00\x00"
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(content))
    good = tmp_path / "good.png"
    Image.new("L", (8, 8)).save(good)
    result = run("apply", str(bad), str(good), "-k", "box", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("convcli: error:")]
    assert errors == [f"convcli: error: {bad}: its pixels are laid out as (3, 12, 10), "
                      "which convcli cannot filter"]  # fmt: skip
    assert not any(line.startswith("<tifffile") for line in result.stderr.splitlines())
    assert (tmp_path / "out" / "good_box.png").exists()


# Hostile values (issue 24, item 11): numbers past the float's range, NaN and infinity, and
# addresses and tiles that reached a traceback. Run as a user runs them (a process of its own),
# so that a NumPy warning would show on standard error as the user would see it.


def convcli_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``convcli ARGS`` as its own process; return the exit code, stdout and stderr."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "convcli", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def strict_json(text: str) -> object:
    """Parse RFC 8259 JSON: ``NaN``, ``Infinity`` and ``-Infinity`` are refused."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


NEAR_MAX = "[[1e308,1e308,1e308],[1e308,-1e308,1e308]]"


@pytest.fixture
def non_finite(tmp_path) -> Path:
    """A 5x5 .npy holding NaN, infinity and minus infinity among ordinary values."""
    values = np.arange(25.0).reshape(5, 5)
    values[0, 0], values[2, 2], values[4, 1] = np.inf, np.nan, -np.inf
    path = tmp_path / "odd.npy"
    np.save(path, values)
    return path


def test_explain_near_the_largest_float_writes_json_with_null_and_no_warning(tmp_path):
    code, out, err = convcli_process("explain", "-k", "[[1,1],[1,1]]", "--input", NEAR_MAX,
                                     "-p", "valid", "--json", cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    record = strict_json(out)
    # 1e308 * 4 is past the largest float (about 1.8e308): infinite, written null; the
    # window with -1e308 sums to 2e308, past it too; the last window 1e308 + 1e308 - 1e308 ...
    assert record["steps"][0]["window"] == [[1e308, 1e308], [1e308, -1e308]]
    assert record["steps"][0]["sum"] is None
    assert record["output"] == [[None, None]]


def test_explain_on_nan_and_infinity_writes_json_with_null_and_no_warning(tmp_path, non_finite):
    code, out, err = convcli_process("explain", "-k", "laplacian", "--input", str(non_finite),
                                     "-p", "valid", "--json", cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    record = strict_json(out)
    values = np.load(non_finite)
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    for row in range(3):  # the definition, zero taps skipped (NaN and infinity at them ignored)
        for col in range(3):
            window = values[row : row + 3, col : col + 3]
            taps = laplacian != 0
            with np.errstate(invalid="ignore"):
                expected = float((window[taps] * laplacian[taps]).sum())
            got = record["output"][row][col]
            assert got == (expected if np.isfinite(expected) else None), (row, col)
    assert record["steps"][0]["window"][0][0] is None  # inf, shown as null


def test_explain_pictures_of_nan_and_infinity_say_nothing_on_stderr(tmp_path, non_finite):
    code, _out, err = convcli_process("explain", "-k", "[[1,0],[1,1]]", "--input", str(non_finite),
                                     "--html", "page.html", "--animate", "steps.gif",
                                     cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    page = (tmp_path / "page.html").read_text()
    data = page.split('type="application/json"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    strict_json(data)  # the page's data is JSON too
    with Image.open(tmp_path / "steps.gif") as animation:
        assert animation.n_frames > 1


def test_a_1d_animation_of_nan_is_refused_in_one_line_with_nothing_written(tmp_path):
    np.save(tmp_path / "signal.npy", np.array([1.0, np.nan, 3.0, np.inf, 5.0]))
    code, _out, err = convcli_process("explain", "-k", "[1,0,1]", "--input", "signal.npy",
                                     "--animate", "steps.gif", cwd=tmp_path)  # fmt: skip
    assert code == USAGE
    assert err.startswith("convcli: error: --animate draws a 1-D input as curves")
    assert err.count("\n") == 1
    assert not (tmp_path / "steps.gif").exists()


def test_kernels_show_past_the_largest_float_writes_null_and_draws_without_warning(tmp_path):
    code, out, err = convcli_process("kernels", "show", "[[1e308,1e308]]", "--json",
                                     "--picture", "k.png", cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    record = strict_json(out)
    assert record["matrix"] == [[1e308, 1e308]]
    assert record["sum"] is None  # 2e308: infinite
    code, _, err = convcli_process("kernels", "show", "[[1e308,-1e308]]", "--picture", "k2.png",
                                   cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    cells = np.asarray(Image.open(tmp_path / "k2.png").convert("RGB")).reshape(-1, 3).tolist()
    # coolwarm's two ends, deep red (+1e308) and deep blue (-1e308), are both drawn
    assert any(r > 150 and b < 80 for r, g, b in cells)
    assert any(b > 150 and r < 80 for r, g, b in cells)


def test_a_montage_over_values_near_the_largest_float_says_nothing_on_stderr(tmp_path):
    values = np.full((40, 50), 1e308)
    values[::3] = -1e308
    np.save(tmp_path / "big.npy", values)
    code, out, err = convcli_process("apply", "big.npy", "-k", "sobel-x", "-k", "box:3", "--bank",
                                     "-o", "out/", "--format", "png", "--montage", "sheet.png",
                                     "--json", "-q", cwd=tmp_path)  # fmt: skip
    assert (code, err) == (0, "")
    assert [strict_json(line)["status"] for line in out.splitlines()] == ["ok", "ok"]
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("L"))
    assert sheet.min() == 0  # the input's tile: its rows of -1e308 black ...
    assert (sheet == 255).any()  # ... and of 1e308 white, rescaled without overflow


def test_report_json_never_holds_nan_or_infinity():
    from convcli.report import to_json

    text = to_json({"a": [float("nan"), float("inf"), -float("inf"), 1.0, (2.5, float("nan"))]})
    assert strict_json(text) == {"a": [None, None, None, 1.0, [2.5, None]]}


@pytest.mark.parametrize(
    ("address", "config", "message"),
    [
        ("tls://127.0.0.1:1", {}, "tls:// needs Dask's TLS settings (the certificate authority, "
         "this client's certificate and key: distributed.comm.tls in Dask's configuration); "
         "none are set"),
        ("wss://127.0.0.1:1", {}, "wss:// needs Dask's TLS settings"),
        ("ucx://127.0.0.1:1", {}, "convcli connects over tcp, tls, ws, wss "
         "(scheme://host:port), or starts local[:N]"),
        ("inproc://x", {}, "convcli connects over tcp, tls, ws, wss"),
        ("tcp://127.0.0.1:1", {"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"},
         "Dask's configuration requires encryption: use tls:// or wss://"),
        ("tls://127.0.0.1:1", {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": "missing.pem",
                               "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": "missing.pem"},
         "Dask's TLS settings: [Errno 2] No such file or directory"),
    ],
)  # fmt: skip
def test_a_scheduler_address_dask_cannot_use_is_one_line_and_exit_2(
    tmp_path, photo, address, config, message
):
    pytest.importorskip("distributed", reason="the distributed extra runs --scheduler")
    code, _out, err = convcli_process("apply", str(photo), "-k", "sobel", "-o", "out/",
                                     "--scheduler", address, cwd=tmp_path, env=config)  # fmt: skip
    assert code == USAGE
    assert err == f"convcli: error: --scheduler {address}: {message}" + err.split(message, 1)[1]
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_tls_scheduler_with_dask_tls_settings_runs_the_batch(tmp_path, photo):
    distributed = pytest.importorskip("distributed", reason="the distributed extra")
    pytest.importorskip("cryptography", reason="Dask makes temporary certificates with it")
    security = distributed.Security.temporary()
    settings = {}
    for name, pem in (("CA_FILE", security.tls_ca_file), ("CLIENT__CERT", security.tls_client_cert),
                      ("CLIENT__KEY", security.tls_client_key)):  # fmt: skip
        (tmp_path / f"{name}.pem").write_text(pem)
        settings[f"DASK_DISTRIBUTED__COMM__TLS__{name}"] = str(tmp_path / f"{name}.pem")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  security=security, host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        assert cluster.scheduler_address.startswith("tls://")
        code, _out, err = convcli_process("apply", str(photo), "-k", "sobel", "-o", "out/", "-q",
                                         "--scheduler", cluster.scheduler_address,
                                         cwd=tmp_path, env=settings)  # fmt: skip
    assert (code, err) == (0, "")
    assert (tmp_path / "out" / "photo_sobel.png").exists()


def test_a_tile_larger_than_the_array_is_clipped_to_it(tmp_path):
    pytest.importorskip("dask", reason="the distributed extra runs --tile")
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    values = np.random.default_rng(24).random((70, 53)).astype(np.float32)
    np.save(tmp_path / "small.npy", values)
    result = run("apply", str(tmp_path / "small.npy"), "-k", "sobel-x", "--tile", "65536", "-o",
                 str(tmp_path / "out.npy"), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    expected = scipy_ndimage.correlate(values.astype(np.float64), sobel_x, mode="mirror")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-5)
