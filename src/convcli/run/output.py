"""What an output carries and how it reaches its file: metadata, provenance, notes, writing.

The input's metadata goes on where the output format holds it, with
convcli's provenance (what made the file, with which settings) added; what
the format cannot hold is told once per run; the file is written atomically,
or a stream only once its bytes are all there.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli._version import __version__
from convcli.catalog.kernel import Kernel, Step
from convcli.choices import Depth, Range
from convcli.errors import Message, cannot_write
from convcli.io.atomic import replaced_atomically, write_atomically
from convcli.io.formats import OutputFormat
from convcli.io.metadata import HOLDS, Metadata, fit_metadata
from convcli.io.picture import Picture
from convcli.io.storage import is_remote, write_object
from convcli.io.streams import deliver
from convcli.io.writing import Frame, write_frames, write_image
from convcli.report import Report
from convcli.text import to_json

if TYPE_CHECKING:
    from upath import UPath

    from convcli.io.storage import Location
    from convcli.run.model import InputPlan, Settings


def tell_losses(report: Report, picture: Picture, planned: InputPlan, settings: Settings) -> None:
    """Note, once per run, what the output format could not keep of the input."""
    if settings.frame is None and picture.frames > 1 and not planned.format.frames:
        report.once_notes.append(
            Message("{kind} holds one frame: wrote the first of each animation or stack; "
                    "{frame} N writes another", kind=planned.format.name)
        )  # fmt: skip
    if cut_to_8_bits(picture, planned.depth, settings):
        kind = depth_name(picture.white)
        report.once_notes.append(
            f"{planned.format.name} holds 8 bits per sample: {kind} inputs were mapped to 8"
        )
    if picture.alpha is not None and planned.format.maps:
        report.once_notes.append("feature maps have no alpha: that of their inputs was left out")
    elif picture.alpha is not None and not planned.format.alpha:  # pixels, whatever --strip
        lost = "left out" if planned.format.is_array else "composited onto white"
        report.once_notes.append(
            f"{planned.format.name} outputs cannot hold the alpha of their inputs: {lost}"
        )
    held = "colour profile" in HOLDS[planned.format.name]  # else said with what is dropped
    if planned.format.maps and picture.metadata.icc and held and not settings.strip:
        report.once_notes.append(
            "feature maps are values, not colours: the colour profiles of their inputs were "
            "left out"
        )
    dropped = [] if settings.strip else _dropped(picture.metadata, planned.format)
    if dropped:
        listed = ", ".join(dropped[:-1]) + " and " * (len(dropped) > 1) + dropped[-1]
        report.once_notes.append(
            f"{planned.format.name} outputs cannot hold the {listed} of their inputs: left out"
        )


def cut_to_8_bits(picture: Picture, depth: Depth, settings: Settings) -> bool:
    """Whether a deeper picture is written at 8 bits for want of room (not for a colour map)."""
    deeper = picture.header.is_image and picture.white != 255
    return deeper and depth == Depth.UINT8 and not settings.colormap


def depth_name(white: float) -> str:
    """Name the depth of samples whose white is ``white``: 8-bit, 16-bit or float."""
    return {255.0: "8-bit", 65535.0: "16-bit"}.get(white, "float")


def output_metadata(
    report: Report, picture: Picture, settings: Settings, planned: InputPlan
) -> Metadata:
    """Return what an output carries: its input's metadata (unless stripped) and provenance.

    A stride makes each pixel cover more of the scene, so the resolution in
    pixels per inch is divided by it. What would break the output (a profile
    of another colour space, too large, or broken; a resolution its place
    cannot hold) is left out, and a note on the input says so.
    """
    carried = picture.metadata
    made = Metadata(
        software=f"convcli {__version__}",
        description=provenance(settings, planned.range),
        jpeg_tables=carried.jpeg_tables,
        bits=carried.bits,  # how the pixels are written, not metadata to strip
        bigtiff=carried.bigtiff,
    )
    if settings.strip:
        return made
    dpi = carried.dpi
    if dpi is not None and planned.stages[0].geometry.spatial_ndim == 2:
        down, across = strides(planned)
        dpi = (dpi[0] / across, dpi[1] / down)
    icc = None if planned.format.maps else carried.icc  # a map's values are not colours
    kept = replace(carried, icc=icc, dpi=dpi, software=made.software, description=made.description)
    fitted, notes = fit_metadata(kept, planned.format.name, _colour(picture, settings))
    report.notes.extend(f"{report.input}: {note}" for note in notes)
    return fitted


def _colour(picture: Picture, settings: Settings) -> str:
    """Name the output's colour space as a colour profile does: GRAY, RGB or CMYK."""
    if picture.header.is_cmyk:  # kept as inks (else made RGB before this)
        return "CMYK"
    colour = picture.pixels.ndim == 3 and not settings.gray
    return "RGB" if colour or settings.colormap else "GRAY"


def strides(planned: InputPlan) -> tuple[int, int]:
    """Return the whole pipeline's stride down the rows and across the columns of an image."""
    down, across = (math.prod(s.geometry.stride[axis] for s in planned.stages) for axis in (0, 1))
    return down, across


def provenance(settings: Settings, mapped: Range) -> str:
    """Describe, as JSON, what convcli did to make an output: enough to do it again.

    Examples
    --------
    >>> from convcli.catalog.lookup import load_kernel
    >>> from convcli.run.model import Settings
    >>> provenance(Settings(kernels=(load_kernel("sobel-x"),)), Range.ABS)
    '{"kernels":["sobel-x"],"padding":"same","pad_mode":"reflect","pad_value":0.0,"stride":[1],"dilation":[1],"flip":false,"gray":false,"range":"abs","colormap":null,"frame":null}'
    """
    kernels: list[object] = [
        k.name if isinstance(k, Step) or k.source.startswith("built-in") else f"{k.name}@{k.digest}"
        for k in settings.kernels
    ]
    for index, kernel in enumerate(settings.kernels):
        if isinstance(kernel, Kernel) and kernel.source == "inline" and kernel.matrix is not None:
            # as typed: redo it with it
            kernels[index] = kernel.matrix.tolist()
    return to_json(
        {"kernels": kernels, "padding": settings.padding, "pad_mode": settings.pad_mode,
         "pad_value": settings.pad_value, "stride": settings.stride,
         "dilation": settings.dilation, "flip": settings.flip, "gray": settings.gray,
         "range": mapped, "colormap": settings.colormap, "frame": settings.frame},
        separators=(",", ":"), ensure_ascii=True,
    )  # fmt: skip


def _dropped(carried: Metadata, fmt: OutputFormat) -> list[str]:
    return [name for name in carried.carried if name not in HOLDS[fmt.name]]


def write_output(
    target: Path | BinaryIO,
    values: npt.NDArray[np.generic],
    alpha: npt.NDArray[np.generic] | None,
    fmt: OutputFormat,
    settings: Settings,
    metadata: Metadata,
    label: str,
    threads: int | None = None,
) -> None:
    """Write one picture to its file (atomically) or stream (PNG: in ``threads``)."""
    alpha = None if fmt.maps else alpha  # a feature map has no transparency

    def encode(stream: BinaryIO) -> None:
        write_image(
            stream, _squeezed(values, fmt), alpha, fmt, metadata,
            compress_level=settings.compress_level, quality=settings.quality,
            threads=threads,
        )  # fmt: skip

    _deliver(target, encode, label)


def write_output_frames(
    target: Path | BinaryIO,
    frames: Iterator[Frame],
    fmt: OutputFormat,
    settings: Settings,
    metadata: Metadata,
    loop: int | None,
    label: str,
) -> None:
    """Write every frame, as an animation or a stack, to its file or stream."""

    def encode(stream: BinaryIO) -> None:
        squeezed = ((_squeezed(values, fmt), alpha, duration) for values, alpha, duration in frames)
        write_frames(stream, squeezed, fmt, metadata, loop=loop, quality=settings.quality)

    _deliver(target, encode, label)


def write_map_files(
    targets: Sequence[Location],
    maps: npt.NDArray[np.generic],
    fmt: OutputFormat,
    settings: Settings,
    metadata: Metadata,
    threads: int | None = None,
) -> None:
    """Write feature map i of ``maps`` (H, W, C) to ``targets[i]``: every file, or none.

    Files are written to temporary files beside them and renamed into place
    once all are whole: a failure (a full disk) leaves none half written, and
    replaces none. Objects in a store are written with one request each, and
    those written are removed if a later one fails.
    """
    stack = maps if maps.ndim == 3 else maps[..., np.newaxis]
    assert len(targets) == stack.shape[2], "one file per map"

    def encode(stream: BinaryIO, index: int) -> None:
        write_image(
            stream, stack[..., index], None, fmt, metadata,
            compress_level=settings.compress_level, quality=settings.quality, threads=threads,
        )  # fmt: skip

    files = [target for target in targets if isinstance(target, Path)]  # all, or none: a store
    if files:
        _write_files(files, encode)
    else:
        _write_objects([target for target in targets if is_remote(target)], encode)


def _write_files(targets: Sequence[Path], encode: Callable[[BinaryIO, int], None]) -> None:
    """Write file i with ``encode(stream, i)``: all to temporary files, then all renamed."""
    target = targets[0]
    try:
        with contextlib.ExitStack() as renames:  # left whole: renamed; a write failed: removed
            for index, target in enumerate(targets):
                temporary = renames.enter_context(replaced_atomically(target))
                with open(temporary, "wb") as stream:
                    encode(stream, index)
    except OSError as error:
        raise cannot_write(error.filename2 or target, error) from None


def _write_objects(targets: Sequence[UPath], encode: Callable[[BinaryIO, int], None]) -> None:
    """Write object i with ``encode(stream, i)``, one request each; on a failure, remove them."""
    written: list[UPath] = []
    try:
        for index, target in enumerate(targets):
            buffer = io.BytesIO()
            try:
                encode(buffer, index)
            except OSError as error:
                raise cannot_write(target, error) from None
            write_object(target, buffer.getvalue(), str(target))
            written.append(target)
    except BaseException:
        for done in written:
            with contextlib.suppress(Exception):  # the store's own errors: the first one is said
                done.fs.rm(done.path)
        raise


def _squeezed(values: npt.NDArray[np.generic], fmt: OutputFormat) -> npt.NDArray[np.generic]:
    return values[..., 0] if values.ndim == 3 and values.shape[2] == 1 and fmt.pillow else values


def _deliver(target: Path | BinaryIO, encode: Callable[[BinaryIO], None], label: str) -> None:
    """Write a file atomically, or a stream only once all its bytes are there."""
    if not isinstance(target, Path):
        buffer = io.BytesIO()
        encode(buffer)
        deliver(target, buffer.getvalue(), label)
        return
    try:
        write_atomically(target, encode)
    except OSError as error:
        raise cannot_write(label, error) from None
