"""A plain PNG decoded in bands of rows, so that filtering can start before the decode ends.

    python benchmarks/png_bands.py /tmp/big.png [--repeats 9] [--bands 64,128,256] [--check]

A prototype and its measurement (issue 25), not convcli's code. Today the
4096x4096 RGB PNG is decoded whole by imagecodecs (libpng, inflating through
the system's zlib) on one core, then filtered and encoded on two: vips,
which streams, is ahead. Here the IDAT stream is inflated by zlib-ng
(``zlib_ng.decompressobj``, fed 64 KiB at a time) and each band of filtered
rows becomes a small PNG of its own, whose IDAT holds those rows as zlib
stored blocks, for libpng (``imagecodecs.png_decode``) to unfilter into the
band's rows of the whole image. A band after the first starts with the
previous band's last decoded row, written with filter type 0 (None): the
band's first row (Up, Average or Paeth) then has the right prior row, and
that row is written again with the values it holds.

Prints, from interleaved repeats (medians): the whole-image decoders; for
each band height, the time to the first band and the CPU time of the whole
banded decode; then a simulated program: the image decoded (whole, or in
bands in one thread) while one or two threads filter each band as it is
ready (a horizontal Sobel in int16, clipped to 8 bits, then deflated at
zlib-ng level 1: ``--passes`` times the sums to weigh it like convcli's
filter and encoder; ``--call-rows`` rows a NumPy call, few to take the GIL
back as often as convcli's filter does). ``--check`` first compares every band's rows with
``imagecodecs.png_decode``'s and with the pixels written, for each filter
type, grey, grey and alpha, RGB, RGBA, 8 and 16 bits, odd widths, heights
not a multiple of the band, IDAT chunks of random sizes, and both inflaters.

Run on 2026-12-07 (Intel Xeon, 2 cores, 9 rounds kept while the machine was
otherwise idle), on the 4096x4096 RGB PNG (8.4 MB, rows Paeth but the first):
png_decode 188 ms; bands of 64 rows: the first ready after 4 ms, all after
160 ms of CPU (128: 6 and 160; 256: 11 and 164; 512: 21 and 170). The libpng
unfilter of stored blocks is most of it: libpng checks their CRC and Adler-32
with the system's zlib 1.2.13 (30 ms each for 50 MB; zlib-ng's take 4).
Simulated program, filter of 180-300 ms CPU on two threads: 313-386 ms
whole, then filtered; 224-275 ms in bands. In convcli itself (a scratch
patch, not here: the engine's bands waiting for their rows), the program
went from 0.56 to 0.49 s, vips 0.44 s: the decode thread, beside the
filter's threads, took 250 ms for its 175 ms of CPU.
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import statistics
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import imagecodecs
import numpy as np
import numpy.typing as npt
from machine import cpu, cpu_name
from zlib_ng import zlib_ng

SIGNATURE = b"\x89PNG\r\n\x1a\n"
END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
SAMPLES = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey and alpha, RGBA (IHDR colour types)
STORED = 65535  # the most a zlib stored block holds
FEED = 1 << 18  # compressed bytes given to the inflater at a time

Image = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]
Inflater = Callable[[list[memoryview], list[int]], Iterator[list[memoryview]]]


class Header(NamedTuple):
    """What IHDR says of a plain PNG."""

    width: int
    height: int
    depth: int
    colour: int
    samples: int

    @property
    def row_bytes(self) -> int:
        """Bytes of one filtered row: its filter type, then its samples."""
        return 1 + self.width * self.samples * self.depth // 8


def parse(data: bytes) -> tuple[Header, list[memoryview]]:
    """Return a plain PNG's header and its IDAT payloads; ValueError for any other PNG."""
    width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if data[:8] != SIGNATURE or depth not in (8, 16) or colour not in SAMPLES or interlace:
        raise ValueError("not a plain PNG")
    view, position, idat = memoryview(data), 8, []
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            payload = view[position + 4 : position + 8 + length]  # what the CRC covers
            (crc,) = struct.unpack_from(">I", data, position + 8 + length)
            if zlib_ng.crc32(payload) != crc:
                raise ValueError("IDAT: CRC error")
            idat.append(payload[4:])
        elif idat:
            break
        position += 12 + length
    return Header(width, height, depth, colour, SAMPLES[colour]), idat


def streamed(idat: list[memoryview], sizes: list[int]) -> Iterator[list[memoryview]]:
    """Yield, for each of ``sizes``, the next that many inflated bytes (zlib-ng, streaming)."""
    inflater = zlib_ng.decompressobj()
    feeds = (chunk[i : i + FEED] for chunk in idat for i in range(0, len(chunk), FEED))
    wanted = iter(sizes)
    need, parts, have = next(wanted), [], 0
    for feed in feeds:
        out = memoryview(inflater.decompress(feed))
        while out:
            take = min(len(out), need - have)
            parts.append(out[:take])
            have, out = have + take, out[take:]
            if have == need:
                yield parts
                following = next(wanted, None)
                if following is None:
                    return
                need, parts, have = following, [], 0
    raise ValueError("not enough image data")


def whole(idat: list[memoryview], sizes: list[int]) -> Iterator[list[memoryview]]:
    """Yield :func:`streamed`'s parts, from one inflate of the whole stream (libdeflate)."""
    inflated = memoryview(imagecodecs.deflate_decode(b"".join(idat), out=sum(sizes)))
    for start, size in zip(itertools.accumulate(sizes, initial=0), sizes, strict=False):
        yield [inflated[start : start + size]]


def apart(idat: list[memoryview], sizes: list[int]) -> Iterator[list[memoryview]]:
    """Yield :func:`streamed`'s parts, inflated in a thread of its own (at most 4 bands ahead)."""
    parts: queue.Queue[list[memoryview] | BaseException] = queue.Queue(maxsize=4)

    def inflate() -> None:
        try:
            for part in streamed(idat, sizes):
                parts.put(part)
        except BaseException as error:  # passed on, raised where the parts are taken
            parts.put(error)

    thread = threading.Thread(target=inflate, daemon=True)
    thread.start()
    for _ in sizes:
        part = parts.get()
        if isinstance(part, BaseException):
            raise part
        yield part
    thread.join()


def stored_png(header: Header, rows: int, parts: list[bytes | memoryview]) -> bytearray:
    """Return a PNG of ``rows`` rows whose IDAT holds ``parts`` (filtered rows), stored.

    Few calls that take the GIL back: one join, one CRC, an Adler-32 a part
    (this runs in a thread beside Python code that rarely lets go of the GIL).
    """
    pieces = [part[i : i + STORED] for part in parts for i in range(0, len(part), STORED)]
    stream: list[bytes | memoryview] = [b"\x78\x01"]  # zlib: deflate, 32 KiB window, no dictionary
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        stream += [struct.pack("<BHH", last, len(piece), len(piece) ^ 0xFFFF), piece]
    adler = 1
    for part in parts:
        adler = zlib_ng.adler32(part, adler)
    size = 6 + sum(len(piece) + 5 for piece in pieces)
    ihdr = b"IHDR" + struct.pack(">IIBB3x", header.width, rows, header.depth, header.colour)
    head = [SIGNATURE, struct.pack(">I", 13), ihdr, struct.pack(">I", zlib_ng.crc32(ihdr))]
    idat = [struct.pack(">I", size), b"IDAT", *stream, struct.pack(">I", adler), bytes(4)]
    png = bytearray().join([*head, *idat, END])
    at = len(png) - len(END) - 4  # the IDAT's CRC, over its type and data
    png[at : at + 4] = struct.pack(">I", zlib_ng.crc32(memoryview(png)[at - size - 4 : at]))
    return png


def seed_row(row: Image, depth: int) -> bytes:
    """Return a decoded row as a filtered row of type 0 (None): PNG's samples are big-endian."""
    return b"\x00" + (row.astype(">u2").tobytes() if depth == 16 else row.tobytes())


def decode_bands(
    data: bytes, band: int, inflate: Inflater = streamed
) -> Iterator[tuple[Image, int, int]]:
    """Yield (image, start, stop) as rows start..stop of the whole image are decoded."""
    header, idat = parse(data)
    h, w = header.height, header.width
    shape = (h, w, header.samples) if header.samples > 1 else (h, w)
    image: Image = np.empty(shape, np.uint16 if header.depth == 16 else np.uint8)
    starts = range(0, h, band)
    sizes = [header.row_bytes * (min(start + band, h) - start) for start in starts]
    for start, parts in zip(starts, inflate(idat, sizes), strict=True):
        stop = min(start + band, h)
        first = max(start - 1, 0)
        seed = [seed_row(image[first], header.depth)] if start else []
        band_png = stored_png(header, stop - first, seed + parts)
        imagecodecs.png_decode(band_png, out=image[first:stop])
        yield image, start, stop


def decoded(data: bytes, band: int, inflate: Inflater = streamed) -> Image:
    """Return the whole image, decoded in bands."""
    *_, (image, _, _) = decode_bands(data, band, inflate)
    return image


# The checks: a PNG writer of its own, each row filtered as asked, against libpng's decode.


def filtered_rows(image: Image, kinds: list[int]) -> bytes:
    """Return the IDAT's inflated bytes for ``image``, row i filtered by kinds[i % len(kinds)]."""
    h = image.shape[0]
    big_endian = image.astype(">u2") if image.dtype == np.uint16 else image
    raw = big_endian.view(np.uint8).reshape(h, -1).astype(np.int32)
    step = image.itemsize * (image.shape[2] if image.ndim == 3 else 1)  # bytes a pixel
    up = np.vstack([np.zeros_like(raw[:1]), raw[:-1]])
    left = np.hstack([np.zeros_like(raw[:, :step]), raw[:, :-step]])
    up_left = np.hstack([np.zeros_like(up[:, :step]), up[:, :-step]])
    guess = left + up - up_left
    off_left, off_up, off_up_left = abs(guess - left), abs(guess - up), abs(guess - up_left)
    near_up = np.where(off_up <= off_up_left, up, up_left)
    paeth = np.where((off_left <= off_up) & (off_left <= off_up_left), left, near_up)
    kind = np.resize(np.asarray(kinds, np.uint8), h)[:, None]
    predicted = np.choose(kind, [np.zeros_like(raw), left, up, (left + up) // 2, paeth])
    return np.hstack([kind, ((raw - predicted) % 256).astype(np.uint8)]).tobytes()


def png(image: Image, kinds: list[int], idat_size: int) -> bytes:
    """Return a PNG of ``image``, rows filtered by ``kinds``, IDAT in ``idat_size`` chunks."""
    samples = image.shape[2] if image.ndim == 3 else 1
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[samples]

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    ihdr = struct.pack(">IIBB3x", image.shape[1], image.shape[0], 8 * image.itemsize, colour)
    stream = zlib.compress(filtered_rows(image, kinds), 6)
    idat = (chunk(b"IDAT", stream[i : i + idat_size]) for i in range(0, len(stream), idat_size))
    return SIGNATURE + chunk(b"IHDR", ihdr) + b"".join(idat) + END


def check(big: bytes) -> int:
    """Compare the banded decode with libpng's and with the pixels written; return the cases."""
    rng = np.random.default_rng(25)
    filters = [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1, 1]]
    sizes = [(1, 1), (2, 3), (37, 13), (300, 257), (129, 1001)]
    cases = 0
    for dtype, (h, w), samples, band in itertools.product(
        [np.uint8, np.uint16], sizes, [1, 2, 3, 4], [1, 7, 64, 256]
    ):
        shape = (h, w) if samples == 1 else (h, w, samples)
        top = np.iinfo(dtype).max + 1
        noise = rng.integers(0, top, shape).astype(dtype)
        ramps = np.cumsum(rng.integers(-3, 4, shape), 0) + np.cumsum(rng.integers(-3, 4, shape), 1)
        for pixels, kinds in itertools.product([noise, (ramps % top).astype(dtype)], filters):
            data = png(pixels, kinds, int(rng.integers(1, 5000)))
            reference = imagecodecs.png_decode(data)
            assert np.array_equal(reference, pixels), "the checks' own writer is wrong"
            for inflate in (streamed, whole):
                got = decoded(data, band, inflate)
                assert got.dtype == reference.dtype, (dtype, shape, band, kinds)
                assert np.array_equal(got, reference), (dtype, shape, band, kinds, inflate)
                cases += 1
    reference = imagecodecs.png_decode(big)
    for band in (64, 100, 128, 1000):
        assert np.array_equal(decoded(big, band), reference)
        cases += 1
    return cases


# The timings.


def busy() -> float:
    """CPU seconds every process on the machine has used so far (Linux: /proc/stat)."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def interleaved(
    ways: dict[str, Callable[[], dict[str, float]]], repeats: int
) -> dict[str, dict[str, float]]:
    """Median of each mark each way returns, and of its CPU and wall seconds, run interleaved.

    The machine is shared: a round during which other processes used more
    than 5% of the cores is run again (``2 * repeats`` times at most, then kept).
    """
    marks: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
    kept = dropped = 0
    while kept < repeats:
        others, ours, wall = busy(), cpu(), time.perf_counter()
        got = {}
        for name, way in ways.items():
            started, begun = cpu(), time.perf_counter()
            got[name] = way() | {"cpu": cpu() - started, "wall": time.perf_counter() - begun}
        foreign = busy() - others - (cpu() - ours)
        busy_round = foreign > 0.05 * (os.cpu_count() or 1) * (time.perf_counter() - wall)
        if busy_round and dropped < 2 * repeats:
            dropped += 1
            time.sleep(1)
            continue
        kept += 1
        for name, result in got.items():
            marks[name].append(result)
    print(f"({kept} rounds, {dropped} more run again: other processes were busy then)")
    return {
        name: {mark: statistics.median(run[mark] for run in runs) for mark in runs[0]}
        for name, runs in marks.items()
    }


def decoders(data: bytes, bands: list[int]) -> dict[str, Callable[[], dict[str, float]]]:
    """Return the whole-image decoders, the inflaters alone and the banded decode by band."""
    header, idat = parse(data)
    stream, size = b"".join(idat), header.row_bytes * header.height

    def nothing(run: Callable[[], object]) -> Callable[[], dict[str, float]]:
        def marks() -> dict[str, float]:
            run()
            return {}

        return marks

    def first_band(band: int) -> dict[str, float]:
        started = time.perf_counter()
        next(decode_bands(data, band))
        return {"first": time.perf_counter() - started}

    ways = {
        "imagecodecs.png_decode (libpng)": nothing(lambda: imagecodecs.png_decode(data)),
        "imagecodecs.spng_decode (libspng)": nothing(lambda: imagecodecs.spng_decode(data)),
        "inflate only: libdeflate": nothing(lambda: imagecodecs.deflate_decode(stream, out=size)),
        "inflate only: zlib_ng, streamed": nothing(lambda: list(streamed(idat, [size]))),
    }
    for band in bands:
        ways[f"bands of {band}: first band only"] = lambda band=band: first_band(band)
        ways[f"bands of {band}: all"] = nothing(lambda band=band: decoded(data, band))
    ways[f"bands of {bands[0]}, libdeflate: all"] = nothing(lambda: decoded(data, bands[0], whole))
    return ways


def sobel(
    image: Image, out: npt.NDArray[np.uint8], start: int, stop: int, passes: int, call_rows: int
) -> int:
    """Filter rows start..stop (horizontal Sobel, zero border, clipped) and deflate them.

    Returns the deflated size. ``passes``: the sums this many times, to weigh
    it; ``call_rows``: rows a NumPy call works on (few: many short calls, each
    taking the GIL back, as convcli's filter on its 256 KiB bands).
    """
    for low in range(start, stop, call_rows):
        high = min(low + call_rows, stop)
        top, bottom = max(low - 1, 0), min(high + 1, image.shape[0])
        padded = np.zeros((high - low + 2, image.shape[1] + 2, *image.shape[2:]), np.int16)
        padded[top - low + 1 : bottom - low + 1, 1:-1] = image[top:bottom]
        for _ in range(passes):
            across = padded[:, 2:] - padded[:, :-2]
            sums = across[:-2] + 2 * across[1:-1] + across[2:]
            out[low:high] = np.clip(sums, 0, 255)
    return len(zlib_ng.compress(out[start:stop], 1))


def programs(
    data: bytes, band: int, passes: int, call_rows: int, expected: npt.NDArray[np.uint8]
) -> dict[str, Callable[[], dict[str, float]]]:
    """Return the image decoded whole then filtered, or filtered band by band as it decodes."""
    h = parse(data)[0].height

    def decoded_whole(threads: int) -> dict[str, float]:
        started = time.perf_counter()
        image = imagecodecs.png_decode(data)
        ready = time.perf_counter() - started
        out = np.empty(image.shape, np.uint8)
        with ThreadPoolExecutor(threads) as pool:
            bands = range(0, h, band)
            rows = [(s, min(s + band, h), passes, call_rows) for s in bands]
            list(pool.map(lambda r: sobel(image, out, *r), rows))
        assert np.array_equal(out, expected)
        return {"first": ready, "decoded": ready}

    def in_bands(threads: int, inflate: Inflater) -> dict[str, float]:
        started = time.perf_counter()
        marks, done = {}, []
        with ThreadPoolExecutor(threads) as pool:
            for image, start, stop in decode_bands(data, band, inflate):
                if not start:
                    marks["first"] = time.perf_counter() - started
                    out = np.empty(image.shape, np.uint8)
                # Each output row needs the input row below it: the band's last waits for the next.
                rows = (max(start - 1, 0), stop if stop == h else stop - 1)
                done.append(pool.submit(sobel, image, out, *rows, passes, call_rows))
            marks["decoded"] = time.perf_counter() - started
            for future in done:
                future.result()
        assert np.array_equal(out, expected)
        return marks

    ways = {}
    for threads in (1, 2):
        ways[f"whole, then {threads} filtering thread(s)"] = lambda t=threads: decoded_whole(t)
        ways[f"bands, {threads} filtering thread(s)"] = lambda t=threads: in_bands(t, streamed)
        ways[f"bands, inflating apart, {threads} filtering"] = lambda t=threads: in_bands(t, apart)
    return ways


def table(title: str, results: dict[str, dict[str, float]]) -> None:
    """Print each way's marks in milliseconds."""
    marks = sorted({mark for result in results.values() for mark in result}, key=ORDER.index)
    print(f"\n{title}\n{'':44s}" + "".join(f"{mark:>9s}" for mark in marks))
    for name, result in results.items():
        cells = (f"{1e3 * result[m]:9.0f}" if m in result else f"{'':9s}" for m in marks)
        print(f"{name:44s}" + "".join(cells))


ORDER = ["first", "decoded", "wall", "cpu"]


def main() -> None:
    """Check, then time the decoders and the simulated programs."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("png", type=Path, help="a plain PNG: 4096x4096 RGB in issue 25")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--bands", default="64,128,256,512", help="band heights, rows")
    parser.add_argument("--passes", default="1,3", help="the simulated filter's weights")
    parser.add_argument("--call-rows", default="0,4", help="rows a filter's call takes (0: all)")
    parser.add_argument("--check", action="store_true", help="compare the rows first")
    args = parser.parse_args()
    data = args.png.read_bytes()
    bands = [int(b) for b in args.bands.split(",")]
    print(f"{cpu_name()}; {args.png.name}: {len(data) / 1e6:.1f} MB; {imagecodecs.version()[:40]}")
    if args.check:
        print(f"checked: {check(data)} decodes, each band's rows equal to libpng's")
    results = interleaved(decoders(data, bands), args.repeats)
    table("decoders, ms (first: the first band ready)", results)
    image = imagecodecs.png_decode(data)
    h, band = image.shape[0], bands[0]
    weights = itertools.product(
        (int(p) for p in args.passes.split(",")), (int(c) for c in args.call_rows.split(","))
    )
    for passes, call_rows in weights:
        per_call = call_rows or band
        expected = np.zeros(image.shape, np.uint8)
        costs = []
        for _ in range(3):
            started = cpu()
            for start in range(0, h, band):
                sobel(image, expected, start, min(start + band, h), passes, per_call)
            costs.append(cpu() - started)
        weight = statistics.median(costs)
        results = interleaved(programs(data, band, passes, per_call, expected), args.repeats)
        title = f"simulated program, bands of {band}, filter of {1e3 * weight:.0f} ms CPU"
        table(f"{title} in calls of {per_call} rows, ms", results)


if __name__ == "__main__":
    main()
