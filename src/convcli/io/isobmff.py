"""The box syntax of the ISO base media file format, which AVIF, JPEG 2000 and JPEG XL share.

Boxes are walked and found by their types, made, and rebuilt with some of
them edited: a movie box (moov) that grows moves the pictures after it, so
the offsets into them (stco, co64, iloc) move by as much.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

MAX_BOXES = 4096


def boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int, int]]:
    """Walk ISO base media boxes: (type, body start, body end, header length), within bounds."""
    end = len(data) if end is None else end
    position = start
    for _ in range(MAX_BOXES):
        if position + 8 > end:
            return
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:  # to the end
            size = end - position
        if size < header:
            raise ValueError(f"corrupt: a {kind!r} box of {size} bytes")
        yield bytes(kind), position + header, min(position + size, end), header
        position += size


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> list[bytes]:
    """Return the bodies of the boxes at ``path`` (``meta`` is a full box: 4 bytes first)."""
    found = []
    for kind, body, stop, _ in boxes(data, start, end):
        if kind != path[0]:
            continue
        if len(path) == 1:
            found.append(data[body:stop])
        else:
            found += find(data, path[1:], body + 4 * (kind == b"meta"), stop)
    return found


def box(kind: bytes, body: bytes) -> bytes:
    """Make a box of ``kind`` around ``body``."""
    return struct.pack(">I4s", 8 + len(body), kind) + body


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"meta"}


def rebuilt(
    data: bytes, start: int, end: int, edits: dict[bytes, Callable[[bytes], bytes]], moved: int
) -> bytes:
    """Rebuild the boxes from ``start`` to ``end`` with ``edits``, offsets into mdat ``moved``."""
    out = []
    for kind, body, stop, header in boxes(data, start, end):
        inside = data[body:stop]
        if kind in _CONTAINERS:
            full = 4 if kind == b"meta" else 0  # a full box: version and flags first
            inside = inside[:full] + rebuilt(data, body + full, stop, edits, moved)
        elif kind in edits:
            inside = edits[kind](inside)
        elif kind in (b"stco", b"co64"):
            inside = _moved_chunks(inside, kind, moved)
        elif kind == b"iloc":
            inside = _moved_items(inside, moved)
        else:  # as it was (the pictures, mdat, among them: of any size)
            out.append(data[body - header : stop])
            continue
        out.append(box(kind, inside))
    return b"".join(out)


def _moved_chunks(body: bytes, kind: bytes, moved: int) -> bytes:
    """Move a chunk offset table's offsets (stco: 32 bits, co64: 64)."""
    (count,) = struct.unpack_from(">I", body, 4)
    layout = f">{count}{'I' if kind == b'stco' else 'Q'}"
    offsets = [offset + moved for offset in struct.unpack_from(layout, body, 8)]
    return body[:8] + struct.pack(layout, *offsets)


def _moved_items(body: bytes, moved: int) -> bytes:
    """Move an item location box's (iloc) offsets into the file (construction method 0)."""
    changed = bytearray(body)
    version, sizes = body[0], body[4] << 8 | body[5]
    offset_size, length_size = sizes >> 12, sizes >> 8 & 15
    base_size, index_size = sizes >> 4 & 15, (sizes & 15) if version else 0
    wide = 4 if version == 2 else 2
    position, count = 6 + wide, int.from_bytes(body[6 : 6 + wide], "big")

    def move(at: int, size: int) -> None:
        if size:
            value = int.from_bytes(changed[at : at + size], "big") + moved
            changed[at : at + size] = value.to_bytes(size, "big")

    for _ in range(count):
        position += wide  # the item's ID
        method = 0
        if version:
            method = int.from_bytes(body[position : position + 2], "big") & 15
            position += 2
        position += 2  # the data reference index
        if method == 0:
            move(position, base_size)
        position += base_size
        extents = int.from_bytes(body[position : position + 2], "big")
        position += 2
        for _ in range(extents):
            position += index_size
            if method == 0 and not base_size:
                move(position, offset_size)
            position += offset_size + length_size
    return bytes(changed)
