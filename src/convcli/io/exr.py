"""OpenEXR, read and written through the ``OpenEXR`` package, the ``exr`` extra.

The first part's R, G, B (and A) channels, or Y (and A), half or float, are
read as 32-bit float (1.0 is white; values above 1 are kept under
``--range raw``). EXR's colour is premultiplied by its alpha: it is divided
by alpha on reading (where alpha is not 0), as convcli carries colour and
alpha apart, and multiplied again on writing. Outputs are 32-bit float with
ZIP compression, so a half input's values are all kept.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli import extras
from convcli.io.layout import Layout
from convcli.io.metadata import Metadata
from convcli.io.printed import printed

_NAMED = (("R", "G", "B", "A"), ("R", "G", "B"), ("Y", "A"), ("Y",))  # the channel sets read


def exr_layout(stream: BinaryIO) -> Layout:
    """Read the first part's header: its data window and channels."""
    header = _file(stream, header_only=True).header()
    (left, top), (right, bottom) = ((int(x), int(y)) for x, y in header["dataWindow"])
    names = _channels(header)
    return Layout(right - left + 1, bottom - top + 1, len(names), names[-1] == "A", 1.0)


def exr_decode(stream: BinaryIO, layout: Layout, frame: int = 0) -> npt.NDArray[np.generic]:
    """Decode the channels as float32, colour divided by alpha (EXR's is premultiplied)."""
    stream.seek(0)
    exr = _file(stream)
    found = {name: channel.pixels for name, channel in exr.channels().items()}
    planes = [np.asarray(found[name], dtype=np.float32) for name in _channels(exr.header())]
    array = np.stack(planes, axis=-1) if len(planes) > 1 else planes[0]
    if array.shape[:2] != (layout.height, layout.width):
        raise ValueError("corrupt: its channels are not the size of its data window")
    if layout.alpha:
        alpha = array[..., -1:]
        np.divide(array[..., :-1], alpha, out=array[..., :-1], where=alpha != 0)
    return array


def write_exr(
    stream: BinaryIO,
    array: npt.NDArray[np.generic],
    with_alpha: bool,
    _metadata: Metadata,
    _: int | None,
) -> None:
    """Write 32-bit float channels, ZIP-compressed, colour premultiplied by alpha."""
    openexr = extras.need(*extras.EXR)
    values: npt.NDArray[np.float32] = np.asarray(array, dtype=np.float32)
    planes = values[..., None] if values.ndim == 2 else values
    names = _NAMED[(planes.shape[2] < 3) * 2 + (not with_alpha)]
    if with_alpha:
        planes = np.concatenate([planes[..., :-1] * planes[..., -1:], planes[..., -1:]], axis=-1)
    channels = {name: np.ascontiguousarray(planes[..., i]) for i, name in enumerate(names)}
    header = {"compression": openexr.ZIP_COMPRESSION, "type": openexr.scanlineimage}
    openexr.File(header, channels).write(stream)


def _file(stream: BinaryIO, header_only: bool = False) -> Any:
    openexr = extras.need(*extras.EXR)
    with printed("<python_buffer>: ") as heard:  # (its name for the stream)
        try:
            exr = openexr.File(stream, separate_channels=True, header_only=header_only)
        except (RuntimeError, ValueError) as error:
            exr = error
    if heard or isinstance(exr, Exception):  # the binding prints, and drops the part
        raise ValueError(f"corrupt: {heard[0] if heard else exr}")
    return exr


def _channels(header: dict[str, Any]) -> tuple[str, ...]:
    names = {channel.name for channel in header["channels"]}
    subsampled = any(c.xSampling != 1 or c.ySampling != 1 for c in header["channels"])
    chosen = next((named for named in _NAMED if set(named) <= names), None)
    if chosen is None or subsampled:
        listed = ", ".join(sorted(names)[:8])
        raise ValueError(f"channels {listed}: convcli reads R, G, B (and A) or Y (and A), whole")
    return chosen
