"""The PNG writer: exact round trips through Pillow, and a well-formed file."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from convcli.io.png import SIGNATURE, adler32_combine, write_png

RNG = np.random.default_rng(11)


def encode(pixels: np.ndarray, level: int | None = None) -> bytes:
    buffer = io.BytesIO()
    write_png(buffer, pixels, level)
    return buffer.getvalue()


def chunks(data: bytes):
    assert data.startswith(SIGNATURE)
    at = len(SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        yield kind, body
        at += 12 + length


# convcli writes 16 bits only for grey (Pillow holds no 16-bit colour).
LAYOUTS = [
    (np.uint8, shape) for shape in [(1, 1), (5, 7), (3, 4, 1), (6, 5, 2), (9, 3, 3), (4, 8, 4)]
]
LAYOUTS += [(np.uint16, shape) for shape in [(1, 1), (5, 7), (3, 4, 1)]]


@pytest.mark.parametrize(("dtype", "shape"), LAYOUTS, ids=str)
def test_every_layout_round_trips_exactly(dtype, shape):
    pixels = RNG.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    with Image.open(io.BytesIO(encode(pixels))) as image:
        decoded = np.asarray(image)
    np.testing.assert_array_equal(decoded.reshape(pixels.shape), pixels)


@pytest.mark.parametrize("level", [None, 0, 1, 6, 9])
def test_every_level_round_trips_and_the_file_is_well_formed(level):
    pixels = RNG.integers(0, 256, size=(700, 900, 3), dtype=np.uint8)  # several bands
    data = encode(pixels, level)
    kinds = [kind for kind, _ in chunks(data)]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert set(kinds[1:-1]) == {b"IDAT"}
    ihdr = dict(chunks(data))[b"IHDR"]
    assert struct.unpack(">IIBBBBB", ihdr) == (900, 700, 8, 2, 0, 0, 0)
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_sixteen_bit_grey_header_and_values():
    pixels = np.array([[0, 1, 256, 65535]], dtype=np.uint16)
    data = encode(pixels)
    assert struct.unpack(">IIBBBBB", dict(chunks(data))[b"IHDR"]) == (4, 1, 16, 0, 0, 0, 0)
    # Decompress and undo the Up filter by hand: big-endian samples, filter byte 2.
    raw = zlib.decompress(b"".join(body for kind, body in chunks(data) if kind == b"IDAT"))
    assert raw[0] == 2
    assert raw[1:] == pixels.astype(">u2").tobytes()  # first row: Up on a zero row


def test_threads_write_the_same_image_in_one_valid_stream():
    pixels = RNG.integers(0, 256, size=(2000, 1500, 3), dtype=np.uint8)  # 9 MB: two groups
    one, two = io.BytesIO(), io.BytesIO()
    write_png(one, pixels, threads=1)
    write_png(two, pixels, threads=2)
    for data in (one.getvalue(), two.getvalue()):
        stream = b"".join(body for kind, body in chunks(data) if kind == b"IDAT")
        raw = zlib.decompress(stream)  # checks the Adler-32 of the whole stream too
        assert len(raw) == 2000 * (1500 * 3 + 1)
        with Image.open(io.BytesIO(data)) as image:
            np.testing.assert_array_equal(np.asarray(image), pixels)


@pytest.mark.parametrize("deflate", ["zlib-ng", "zlib"])
def test_zlib_ng_and_the_stdlib_fallback_write_streams_zlib_reads(deflate, monkeypatch):
    from convcli.io import png

    if deflate == "zlib":
        monkeypatch.setattr(png, "deflate", zlib)
    else:
        assert png.deflate.__name__ == "zlib_ng.zlib_ng"  # a dependency: it must be there
    pixels = RNG.integers(0, 256, size=(2000, 1500, 3), dtype=np.uint8)
    for level in (None, 6):
        data = encode(pixels, level)
        stream = b"".join(body for kind, body in chunks(data) if kind == b"IDAT")
        assert zlib.decompress(stream)[1 : 1500 * 3 + 1] == pixels[0].tobytes()
        with Image.open(io.BytesIO(data)) as image:
            np.testing.assert_array_equal(np.asarray(image), pixels)


@pytest.mark.parametrize("split", [0, 1, 1000, 65521, 65522, 200000])
def test_adler32_combine_matches_zlib(split):
    data = RNG.integers(0, 256, size=300000, dtype=np.uint8).tobytes()
    first, second = data[:split], data[split:]
    combined = adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(data)


def filter_types(data: bytes, row_bytes: int) -> set[int]:
    """The filter type bytes of every row of a written PNG (rows of ``row_bytes``)."""
    raw = zlib.decompress(b"".join(body for kind, body in chunks(data) if kind == b"IDAT"))
    return set(raw[:: row_bytes + 1])


def edge_map(rows: int, cols: int) -> np.ndarray:
    """Mostly zeros, a few bright pixels on every third row: a clipped edge map's kind."""
    pixels = np.zeros((rows, cols, 3), dtype=np.uint8)
    lit = RNG.random((rows // 3, cols)) < 0.05
    pixels[::3][: rows // 3][lit] = 200
    return pixels


def test_a_band_of_mostly_zeros_is_left_unfiltered():
    # Up turns each bright pixel into two bytes of two values (it, and minus it in the row
    # below): the rows as they are need fewer bits a byte, so they are written as they are.
    pixels = edge_map(300, 400)
    data = encode(pixels)
    assert filter_types(data, 400 * 3) == {0}
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_rows_like_the_row_above_are_filtered_with_up():
    pixels = np.broadcast_to(RNG.integers(1, 256, size=(1, 400, 3), dtype=np.uint8), (300, 400, 3))
    data = encode(np.ascontiguousarray(pixels))
    assert filter_types(data, 400 * 3) == {2}  # all zeros after the first row


def test_each_band_chooses_its_filter_and_threads_do_not_change_the_bytes():
    top = edge_map(1000, 1500)
    bottom = np.broadcast_to(top[:1] + 7, (1000, 1500, 3))
    pixels = np.concatenate([top, bottom])  # 9 MB: two groups of rows
    one, two = io.BytesIO(), io.BytesIO()
    write_png(one, pixels, threads=1)
    write_png(two, pixels, threads=2)
    assert one.getvalue() == two.getvalue()
    assert filter_types(one.getvalue(), 1500 * 3) == {0, 2}
    with Image.open(io.BytesIO(one.getvalue())) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels)
