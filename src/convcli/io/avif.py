"""AVIF's boxes: a sequence's frames, durations and plays, a picture's turns, and timing written.

What libavif leaves to convcli, read from and written into the ISO boxes
(:mod:`convcli.io.isobmff`): each frame's duration and the loop count of a
sequence, and the primary item's rotation and mirroring.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator

from convcli.io import isobmff


def timed(data: bytes, durations: list[int], plays: int) -> bytes:
    """Write each picture's duration (ms) and the plays into libavif's sequence.

    The movie's timescale becomes 1000; the time-to-sample table (stts)
    lists the durations, which lengthens the movie box (moov) before the
    pictures (mdat): the offsets into them (stco, and the still image's iloc)
    move by as much. As libavif writes it, the track's duration is the plays
    times the frames' (unknown: forever), and its edit list repeats unless
    it plays once.
    """
    total = sum(durations)
    track = 0xFFFF_FFFF_FFFF_FFFF if plays == 0 else total * plays
    edits = {
        b"mvhd": lambda body: _set(body, [(">I", 20, 1000), (">Q", 24, track)]),
        b"tkhd": lambda body: _set(body, [(">Q", 28, track)]),
        b"elst": lambda body: _set(body, [(">I", 0, 1 << 24 | (plays != 1)), (">Q", 8, total)]),
        b"mdhd": lambda body: _set(body, [(">I", 20, 1000), (">Q", 24, total)]),
        b"stts": lambda _: bytes(4) + _runs(durations),
    }
    moved = len(isobmff.rebuilt(data, 0, len(data), edits, 0)) - len(data)
    return isobmff.rebuilt(data, 0, len(data), edits, moved)


def _set(body: bytes, fields: list[tuple[str, int, int]]) -> bytes:
    """Write values into a version 1 full box's body: (struct format, offset, value)."""
    if body[0] != 1:
        raise ValueError(f"a version {body[0]} box, where libavif writes version 1")
    changed = bytearray(body)
    for layout, offset, value in fields:
        struct.pack_into(layout, changed, offset, value)
    return bytes(changed)


def _runs(durations: list[int]) -> bytes:
    """Make a time-to-sample table: runs of equal durations, each (count, duration)."""
    runs: list[list[int]] = []
    for duration in durations:
        if runs and runs[-1][1] == duration:
            runs[-1][0] += 1
        else:
            runs.append([1, duration])
    return struct.pack(f">I{2 * len(runs)}I", len(runs), *(n for run in runs for n in run))


def frames(head: bytes) -> tuple[int, tuple[int, ...], int | None]:
    """Count an AVIF sequence's pictures, read their durations and its plays, from its tracks.

    The track of the most samples (its sample sizes' table, stsz) is the
    colour's (an alpha track has as many); its durations are its time-to-sample
    table's (stts) deltas over its media header's (mdhd) timescale. Not a
    sequence: one picture.
    """
    tracks = [(_track(head, body, stop), body, stop) for body, stop in _tracks(head)]
    if not tracks:
        if b"avis" in b"".join(isobmff.find(head, [b"ftyp"])):  # a sequence: its moov comes later
            warnings.warn(
                "an AVIF sequence without its sample table in its first MiB: "
                "its first picture is read, the others are not",
                stacklevel=4,
            )
        return 1, (), None
    (count, durations), start, stop = max(tracks, key=lambda track: track[0][0])
    return max(1, count), durations, _plays(head, start, stop)


def _plays(data: bytes, start: int, end: int) -> int | None:
    """Read how many times a track plays, as libavif does (0: forever; None: not said).

    Its edit list (elst) repeats when its flags say so: then the track's
    duration (tkhd) over the edit's is the plays, an unknown duration forever.
    """
    edits, headers = (
        isobmff.find(data, [b"edts", b"elst"], start, end),
        isobmff.find(data, [b"tkhd"], start, end),
    )
    if not edits or not headers or len(edits[0]) < 16:
        return None
    if not edits[0][3] & 1:  # not repeated
        return 1
    wide = headers[0][0] == 1  # version 1: 64-bit times
    (track,) = struct.unpack_from(">Q" if wide else ">I", headers[0], 28 if wide else 20)
    (edit,) = struct.unpack_from(">Q" if edits[0][0] == 1 else ">I", edits[0], 8)
    if track == (1 << (64 if wide else 32)) - 1:
        return 0
    return -(-track // edit) if edit else None


def _tracks(data: bytes) -> Iterator[tuple[int, int]]:
    """Find the tracks (trak boxes) of the movie (moov): where each one's body starts and ends."""
    for kind, body, stop, _ in isobmff.boxes(data):
        if kind == b"moov":
            yield from ((start, end) for box, start, end, _ in isobmff.boxes(data, body, stop)
                        if box == b"trak")  # fmt: skip


def _track(data: bytes, start: int, end: int) -> tuple[int, tuple[int, ...]]:
    """Read one track's sample count (stsz) and durations in milliseconds (stts over mdhd)."""
    table = [b"mdia", b"minf", b"stbl"]
    sizes = isobmff.find(data, [*table, b"stsz"], start, end)
    if not sizes:
        return 0, ()
    (count,) = struct.unpack_from(">I", sizes[0], 8)  # after version, flags and sample size
    headers = isobmff.find(data, [b"mdia", b"mdhd"], start, end)
    times = isobmff.find(data, [*table, b"stts"], start, end)
    if not headers or not times:
        return count, ()
    (timescale,) = struct.unpack_from(">I", headers[0], 20 if headers[0][0] == 1 else 12)
    (entries,) = struct.unpack_from(">I", times[0], 4)
    deltas: list[int] = []
    for entry in range(min(entries, count)):
        samples, delta = struct.unpack_from(">II", times[0], 8 + 8 * entry)
        deltas += [delta] * min(samples, count - len(deltas))
    if not timescale or len(deltas) != count:
        return count, ()
    return count, tuple(round(delta * 1000 / timescale) for delta in deltas)


def turns(head: bytes) -> tuple[tuple[bytes, int], ...]:
    """Return the primary item's irot and imir properties (angle, axis), in their ipma order."""
    items = isobmff.find(head, [b"meta", b"pitm"])
    associations = isobmff.find(head, [b"meta", b"iprp", b"ipma"])
    properties = isobmff.find(head, [b"meta", b"iprp", b"ipco"])
    if not items or not associations or not properties:
        return ()
    (primary,) = struct.unpack_from(">I" if items[0][0] else ">H", items[0], 4)
    boxes = [(kind, properties[0][body]) for kind, body, _, _ in isobmff.boxes(properties[0])]
    chosen = [boxes[index - 1] for index in _associated(associations[0], primary)
              if index <= len(boxes)]  # fmt: skip
    return tuple(
        (kind, value & (3 if kind == b"irot" else 1))
        for kind, value in chosen
        if kind in (b"irot", b"imir")
    )


def _associated(ipma: bytes, item: int) -> list[int]:
    """Return the properties (1-based, into ipco) an ipma associates with ``item``."""
    version, wide = ipma[0], ipma[3] & 1  # wide: 15-bit property indices
    (count,) = struct.unpack_from(">I", ipma, 4)
    position = 8
    for _ in range(min(count, isobmff.MAX_BOXES)):
        (found,) = struct.unpack_from(">I" if version else ">H", ipma, position)
        position += 4 if version else 2
        size = 2 if wide else 1
        indices = [
            struct.unpack_from(">H" if wide else ">B", ipma, position + 1 + size * n)[0]
            & (0x7FFF if wide else 0x7F)
            for n in range(ipma[position])
        ]
        if found == item:
            return [index for index in indices if index]
        position += 1 + size * len(indices)
    return []
