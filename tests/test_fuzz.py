"""Fuzzing through the real entry point: arbitrary and mutated inputs keep the contract.

A fixed number of examples per test keeps CI fast; set CONVCLI_FUZZ_EXAMPLES
for a longer run (and see tests/fuzz_campaign.py for coverage-guided campaigns).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.contract import (
    KERNEL_TOML,
    USAGE,
    apply_to_bytes,
    fresh_folder,
    png_bytes,
    png_chunks,
    png_from_chunks,
    run_and_check,
)

EXAMPLES = int(os.environ.get("CONVCLI_FUZZ_EXAMPLES", "60"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
              b"RIFF\x00\x00\x00\x00WEBP", b"\x93NUMPY", b"",
              b"II+\x00", b"qoif", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51", b"\xff\x0a",
              b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1",
              b"II\x1a\x00\x00\x00HEAPCCDR", b"\x00MRM", b"FOVb"]  # fmt: skip
VALID_PNG = png_bytes()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "run"


def deep_files() -> list[tuple[str, bytes]]:
    """Full-depth inputs (16-bit colour PNG and TIFF, float TIFF, stacks) and imagecodecs' formats."""
    import io

    import imagecodecs
    import numpy as np
    import tifffile

    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    rgba8 = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    files = []
    for name, array, options in (
        ("deep.tif", rgb16, {"photometric": "rgb", "compression": "zlib"}),
        ("float.tif", rng.random((12, 10, 3), dtype=np.float32), {"photometric": "rgb"}),
        ("stack.tif", rgb16[None].repeat(3, axis=0), {"photometric": "rgb"}),
        ("big.tif", rgb16[None].repeat(2, axis=0), {"photometric": "rgb", "bigtiff": True}),
        ("signed.tif", rgb16[..., 0].astype(np.int16), {"compression": "zstd"}),
    ):
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array, **options)
        files.append((name, buffer.getvalue()))
    return [
        *files,
        ("deep.png", imagecodecs.png_encode(rgb16)),
        ("in.avif", imagecodecs.avif_encode(rgb16 >> 6, bitspersample=10)),
        ("seq.avif", imagecodecs.avif_encode(np.stack([rgba8, rgba8 // 2]))),
        ("in.jxl", imagecodecs.jpegxl_encode(rgba8, lossless=True)),
        ("anim.jxl", imagecodecs.jpegxl_encode(np.stack([rgba8, rgba8 // 2]), lossless=True)),
        ("anim.jxl", imagecodecs.jpegxl_encode(np.stack([rgb16] * 3), level=90, usecontainer=True)),
        ("deep.jxl", imagecodecs.jpegxl_encode(rgb16, lossless=True)),
        ("in.jp2", imagecodecs.jpeg2k_encode(rgb16 >> 4, bitspersample=12)),
        ("in.j2k", imagecodecs.jpeg2k_encode(rgba8, codecformat="J2K")),
        ("in.qoi", imagecodecs.qoi_encode(rgba8)),
    ]


DEEP_FILES = deep_files()


@fuzz
@given(st.sampled_from(DEEP_FILES), st.data())
def test_mutated_full_depth_files(folder, named, data):
    name, content = named
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(content) - 1))
        content = content[:at] + data.draw(st.binary(min_size=1, max_size=8)) + content[at + 1 :]
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    result = apply_to_bytes(content, folder, name, [])
    assert result.exit_code in (0, 1)


@fuzz
@given(st.sampled_from([c for n, c in DEEP_FILES if n == "anim.jxl"]), st.data())
def test_a_mutated_jpeg_xl_animations_headers_are_read_or_refused(content, data):
    import io
    import warnings

    from convcli.choices import FileFormat
    from convcli.io.codecs import read_layout

    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, min(len(content), 400) - 1))  # the headers, mostly
        content = content[:at] + data.draw(st.binary(min_size=1, max_size=4)) + content[at + 1 :]
    try:
        with warnings.catch_warnings(record=True):  # a note: frames not counted
            warnings.simplefilter("always")
            found = read_layout(io.BytesIO(content), FileFormat.JXL)
    except ValueError:
        return  # the caller says it in one line
    assert found.frames >= 1
    assert len(found.durations) in (0, found.frames)


@fuzz
@given(st.sampled_from([c for n, c in DEEP_FILES if n == "seq.avif"]), st.data())
def test_a_mutated_avif_sequences_tables_are_read_or_refused(content, data):
    import warnings

    from convcli.choices import FileFormat
    from convcli.io.codecs import layout

    moov = content.index(b"moov")
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(moov, len(content) - 1))  # its tracks' boxes, mostly
        content = content[:at] + data.draw(st.binary(min_size=1, max_size=4)) + content[at + 1 :]
    try:
        with warnings.catch_warnings(record=True):  # a note: a sequence read as one picture
            warnings.simplefilter("always")
            found = layout(content, FileFormat.AVIF)
    except ValueError:
        return  # the caller says it in one line
    assert found.frames >= 1
    assert len(found.durations) in (0, found.frames)
    assert found.plays is None or found.plays >= 0


def test_a_warning_while_counting_later_pages_is_a_note(folder):
    # Found by the test above: a later page's strip-offsets tag points past the end of the
    # file; Pillow warns while counting the pages again for the frames after the first.
    content = dict(DEEP_FILES)["stack.tif"]
    content = content[:2536] + b"\x01" + content[2537:]
    result = apply_to_bytes(content, folder, "stack.tif", [])
    assert result.exit_code == 0
    assert "Tag data larger than file. Skipping tag 279" in result.stderr


@fuzz
@given(st.sampled_from(SIGNATURES), st.binary(max_size=3000), st.sampled_from(["in.png", "in.npy"]))
def test_arbitrary_bytes_behind_any_signature(folder, signature, rest, name):
    result = apply_to_bytes(signature + rest, folder, name, [])
    assert result.exit_code in (0, 1)  # a bad input fails alone; the options were fine


@st.composite
def mutated_pngs(draw: st.DrawFn) -> bytes:
    """A valid PNG with its chunks edited (lengths and CRCs kept right), then maybe cut."""
    chunks = png_chunks(VALID_PNG)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(chunks) - 1))
        kind, body = chunks[index]
        edit = draw(st.sampled_from(["header", "bytes", "cut", "drop", "repeat", "insert"]))
        if edit == "header" and kind == b"IHDR":
            width, height = draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1))
            depth = draw(st.sampled_from([0, 1, 2, 4, 8, 16, 32]))
            colour = draw(st.sampled_from([0, 2, 3, 4, 6, 7]))
            rest = draw(st.binary(min_size=3, max_size=3))
            body = struct.pack(">IIBB", width, height, depth, colour) + rest
        elif edit == "bytes" and body:
            at = draw(st.integers(0, len(body) - 1))
            body = body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at + 1 :]
        elif edit == "cut":
            body = body[: draw(st.integers(0, len(body)))]
        chunks[index] = (kind, body)
        if edit == "drop":
            del chunks[index]
        elif edit == "repeat":
            chunks.insert(index, (kind, body))
        elif edit == "insert":
            new_kind = draw(st.sampled_from([b"PLTE", b"tRNS", b"IDAT", b"zTXt", b"iCCP",
                                             b"eXIf", b"acTL", b"fcTL", b"gAMA", b"sBIT"]))  # fmt: skip
            chunks.insert(index, (new_kind, draw(st.binary(max_size=64))))
        if not chunks:
            break
    data = png_from_chunks(chunks)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@fuzz
@given(
    mutated_pngs(), st.sampled_from([[], ["--gray"], ["--format", "jpg"], ["--range", "rescale"]])
)
def test_mutated_pngs(folder, data, options):
    result = apply_to_bytes(data, folder, "in.png", options)
    assert result.exit_code in (0, 1)


KERNEL_TOKENS = ["[", "]", "[[", "]]", "=", '"', ",", "\n", "{", "}", ".", "-", "nan", "inf",
                 "1e400", "true", "0", "1", "9" * 5000, "matrix", "scale", "components",
                 "combine", "range", "[soft]", "[grad]", "é", "\x00", "#"]  # fmt: skip


@st.composite
def mutated_kernel_files(draw: st.DrawFn) -> str:
    text = KERNEL_TOML
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            inserted = draw(st.one_of(st.sampled_from(KERNEL_TOKENS), st.text(max_size=5)))
            text = text[:at] + inserted + text[at:]
    return text


@fuzz
@given(mutated_kernel_files(), st.sampled_from(["soft", "grad", ""]))
def test_mutated_kernel_files(folder, text, name):
    fresh_folder(folder)
    (folder / "in.png").write_bytes(VALID_PNG)
    kernel_file = folder / "k.toml"
    kernel_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    spec = f"{kernel_file}:{name}" if name else str(kernel_file)
    result = run_and_check(
        ["apply", str(folder / "in.png"), "-k", spec, "-o", str(folder / "o.png"), "-q"], folder
    )
    assert result.exit_code in (0, USAGE)
    if result.exit_code == USAGE:  # one line, naming the file
        assert result.stderr.count("convcli: error:") == 1
        assert str(kernel_file) in result.stderr
    shown = run_and_check(["kernels", "show", spec, "--json"], folder)
    assert shown.exit_code == result.exit_code


CHOICES = {
    "--pad-mode": "zero, reflect, symmetric, replicate, wrap",
    "--range": "clip, abs, rescale, offset, raw",
    "--method": "auto, direct, separable, fft, matrix",
}
OPTIONS = ["-p", "-s", "-d", "--pad-mode", "--pad-value", "--range", "--method", "--format",
           "--max-pixels", "--compress-level", "-j", "-k"]  # fmt: skip


@fuzz
@given(
    st.sampled_from(OPTIONS),
    st.one_of(
        st.text(max_size=12),
        st.from_regex(r"-?[0-9]{1,12}(,-?[0-9]{1,12}){0,4}", fullmatch=True),
        st.sampled_from(["nan", "inf", "-inf", "1e400", "same", "valid", "full", "0", "-1",
                         "1,2,3", "99999999999999999999", "[[1]]", "[]", "reflect", " 1 "]),
    ),
)  # fmt: skip
def test_option_values(folder, option, value):
    fresh_folder(folder)
    (folder / "in.png").write_bytes(VALID_PNG)
    args = ["apply", str(folder / "in.png"), "-o", str(folder / "o.png"), "-q"]
    args += ["-k", "box"] if option != "-k" else []
    result = run_and_check([*args, option, value], folder)
    assert result.exit_code in (0, USAGE) or (option == "--max-pixels" and result.exit_code == 1)
    if result.exit_code == USAGE:
        assert len(result.stderr.splitlines()) == 1
        if option in CHOICES and not re.search(
            r"requires an argument|No such option", result.stderr
        ):
            assert CHOICES[option] in result.stderr


EXPLAIN_OPTIONS = [
    "-p",
    "-s",
    "-d",
    "--pad-mode",
    "--pad-value",
    "--steps",
    "--crop",
    "--input",
    "-k",
]


@fuzz
@given(
    st.lists(st.tuples(st.sampled_from(EXPLAIN_OPTIONS),
                       st.one_of(st.text(max_size=12), st.from_regex(r"-?[0-9]{1,8}(,-?[0-9]{1,8}){0,3}", fullmatch=True),
                                 st.sampled_from(["[[1,2],[3,4]]", "[1,0,-1]", "[]", "[[1],[2,3]]", "nan", "0"]))),
             max_size=3),
    st.booleans(),
)  # fmt: skip
def test_explain_options(folder, pairs, as_json):
    fresh_folder(folder)
    args = ["explain", "-k", "sobel-x", *[part for pair in pairs for part in pair]]
    result = run_and_check([*args, *(["--json"] if as_json else [])], folder)
    assert result.exit_code in (0, USAGE)
    if result.exit_code == USAGE:
        assert len(result.stderr.splitlines()) == 1


def test_a_warning_while_opening_a_bigtiff_again_is_a_note(folder):
    # Found by test_mutated_full_depth_files: a broken tag of a BigTIFF stack; Pillow warns
    # each time it opens the file, and the frames after the first open it again.
    content = dict(DEEP_FILES)["big.tif"]
    result = apply_to_bytes(content[:249] + b"\x02" + content[250:], folder, "big.tif", [])
    assert result.exit_code == 0
    assert "Tag data larger than file. Skipping tag 283" in result.stderr


def test_a_jpeg_xl_named_npy_claiming_a_huge_size_is_refused_by_the_limit(folder):
    # Found by test_arbitrary_bytes_behind_any_signature: an input named .npy is probed with
    # the tiled limit; a JPEG XL cannot be tiled, so its own limit applies, before decoding.
    result = apply_to_bytes(b"\xff\n\x04\x00\x8a\x01", folder, "in.npy", [])
    assert result.exit_code == 1
    assert "122881x81921 (width x height) is 10066534401 pixels, over the limit" in result.stderr


def test_an_avif_whose_header_libavif_refuses_is_one_line(folder):
    # Found by test_mutated_full_depth_files: its item table broken, the sizes still there.
    content = dict(DEEP_FILES)["in.avif"]
    result = apply_to_bytes(content[:90] + b"\x00" + content[91:], folder, "in.avif", [])
    assert result.exit_code == 1
    assert "cannot read image: corrupt: " in result.stderr


def test_a_jpeg_2000_header_with_no_samples_is_one_line(folder):
    # Found by test_mutated_full_depth_files: a byte more in the SIZ segment shifts its
    # component count to 0; planning refused it as an empty shape (exit 2, not 1).
    content = dict(DEEP_FILES)["in.j2k"]
    result = apply_to_bytes(content[:16] + b"\x00\x00" + content[17:], folder, "in.j2k", [])
    assert result.exit_code == 1
    assert "0 samples of 5 bits a pixel, a layout convcli does not read" in result.stderr


def own_decoder_files() -> list[bytes]:
    """Valid PGM, PPM, PFM, FITS, PSD (raw and RLE), TGA and ICO: convcli's own header parsers."""
    import io

    import numpy as np
    from PIL import Image

    from helpers.formats import fits, pfm, pnm, psd

    rng = np.random.default_rng(2)
    grey16, rgb = rng.integers(0, 65536, (9, 7), dtype=np.uint16), rng.integers(0, 256, (9, 7, 3))
    files = [pnm(grey16), pnm(rgb.astype(np.uint8), maxval=200), pfm(rgb.astype(np.float32)),
             fits(grey16.astype(np.int32) - 32768, 16, bzero=32768), fits(rgb.T, -32),
             psd(rgb.T.astype(np.uint8)), psd(rgb.T.astype(np.uint16), rle=True)]  # fmt: skip
    for fmt, options in (("TGA", {}), ("ICO", {"sizes": [(4, 4), (7, 7)]})):
        buffer = io.BytesIO()
        Image.fromarray(rgb.astype(np.uint8)).save(buffer, fmt, **options)
        files.append(buffer.getvalue())
    return files


def mutated(content: bytes, data: st.DataObject) -> bytes:
    """A few bytes replaced, mostly in the header, where parsing is; sometimes cut short."""
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(
            st.integers(0, min(len(content) - 1, data.draw(st.sampled_from([64, 4096]))))
        )
        content = content[:at] + data.draw(st.binary(min_size=1, max_size=8)) + content[at + 1 :]
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    return content


@settings(fuzz, max_examples=4 * EXAMPLES)
@given(st.sampled_from(own_decoder_files()), st.data())
def test_mutated_files_of_convcli_own_decoders(folder, content, data):
    result = apply_to_bytes(mutated(content, data), folder, "in.tif", [])  # written as TIFF
    assert result.exit_code in (0, 1)


@functools.cache
def extra_file(extra: str) -> bytes:
    """A valid file for an extra's decoder, made by its own library: HEIC (two images), EXR, DNG."""
    import numpy as np

    from helpers.formats import dng, exr, heic

    rng = np.random.default_rng(3)
    if extra == "heic":
        return heic(*rng.integers(0, 256, (2, 9, 7, 4), dtype=np.uint8))
    if extra == "exr":
        half = rng.random((9, 7, 4)).astype(np.float16)
        return exr({name: half[..., index] for index, name in enumerate("RGBA")})
    return dng(rng.integers(200, 4000, (8, 12), dtype=np.uint16))


def _with(module: str, extra: str) -> pytest.ParameterSet:
    missing = importlib.util.find_spec(module) is None
    return pytest.param(extra, marks=pytest.mark.skipif(missing, reason=f"no {module}"))


@pytest.mark.parametrize(
    "extra", [_with("pillow_heif", "heic"), _with("OpenEXR", "exr"), _with("rawpy", "dng")]
)
@settings(fuzz, max_examples=2 * EXAMPLES)
@given(data=st.data())
def test_mutated_files_of_the_extras_decoders(folder, extra, data):
    result = apply_to_bytes(mutated(extra_file(extra), data), folder, "in.tif", [])
    assert result.exit_code in (0, 1)


@pytest.mark.skipif(importlib.util.find_spec("OpenEXR") is None, reason="no OpenEXR")
def test_an_exr_whose_chunk_table_is_corrupt_is_one_line_and_nothing_printed(folder, capfd):
    # Found by test_mutated_files_of_the_extras_decoders: OpenEXR's core wrote ten lines on
    # stderr and its binding a warning on stdout, then convcli said "file has 0 parts".
    content = extra_file("exr")
    result = apply_to_bytes(content[:129] + b"\x00" + content[130:], folder, "in.tif", [])
    assert result.exit_code == 1
    assert "corrupt: (EXR_ERR_BAD_CHUNK_LEADER) Invalid chunk size" in result.stderr
    assert capfd.readouterr() == ("", "")


@pytest.mark.skipif(importlib.util.find_spec("pillow_heif") is None, reason="no pillow-heif")
def test_a_heif_image_unlike_the_first_is_one_line_and_no_file(folder):
    # Found by test_mutated_files_of_the_extras_decoders: a byte of a HEIC's second image
    # made it grey beside the first's RGB; the engine's plan for the first refused it,
    # a usage error (exit 2) that named the plan.
    content = extra_file("heic")
    result = apply_to_bytes(content[:229] + b"\x00" + content[230:], folder, "in.tif", [])
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "in.tif: frame 1 has 1 colour channel, unlike the first, 3 colour channels; "
        "--frame 1 takes it alone\n"
    )
    assert not (folder / "out.tif").exists()


def test_a_float_alpha_past_0_to_1_or_nan_is_written_at_its_nearest_end(folder):
    # Found by test_mutated_files_of_the_extras_decoders (an EXR's alpha of 5e4 and NaN): an
    # alpha of 5.0 wrapped to 251 in an 8-bit PNG, and NaN was a RuntimeWarning on stderr.
    import io

    import numpy as np
    import tifffile
    from PIL import Image

    rgba = np.full((4, 5, 4), 0.5, dtype=np.float32)
    rgba[0, :, 3] = [5.0, np.nan, -2.0, np.inf, 0.25]
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, rgba, photometric="rgb", extrasamples=[2])
    result = apply_to_bytes(buffer.getvalue(), folder, "in.tif", ["--format", "png"])
    assert result.exit_code == 0
    with Image.open(folder / "out.png") as image:
        assert (image.format, image.mode) == ("PNG", "RGBA")
        alpha = np.asarray(image)[0, :, 3]
    np.testing.assert_array_equal(alpha, [255, 0, 0, 255, round(0.25 * 255)])
