"""``convcli.apply``: what ``convcli apply`` does to one input, from Python.

Built on the run's own steps (:mod:`convcli.run`): the settings checked as
the command line's are, the outputs named and checked by its planning, each
input filtered by the pipeline's :func:`~convcli.run.pipeline.render` and
written by its :func:`~convcli.run.pipeline.write_rendered`, atomically.
"""

from __future__ import annotations

import io
import json
import os
import typing
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from convcli.catalog.sets import bank_members
from convcli.choices import FileFormat
from convcli.errors import InputError, ParameterError
from convcli.io.formats import output_format
from convcli.io.picture import Picture, array_white
from convcli.io.pillow import DEFAULT_MAX_PIXELS
from convcli.io.reading import iter_frames, read_image
from convcli.io.storage import is_remote, is_url, location, write_object
from convcli.io.streams import STDIN_BYTES_PER_PIXEL
from convcli.library.images import Frame, Image, Source, opened
from convcli.library.settings import (
    Kernels,
    check_between,
    checked_settings,
    kernel_notes,
    known_settings,
)
from convcli.limits import MAX_PIXELS_LIMIT
from convcli.run.job import job_source
from convcli.run.model import RunOptions, Settings, one_kernel
from convcli.run.pipeline import Pictures, Rendered, render, write_rendered
from convcli.run.planning import plan_run

if TYPE_CHECKING:
    from convcli.io.formats import OutputFormat
    from convcli.io.storage import Location

Input: TypeAlias = "Source | Image | npt.ArrayLike"
Output: TypeAlias = "str | os.PathLike[str] | None"
Result: TypeAlias = "tuple[Image, dict[str, Any]]"


@overload
def apply(
    input: Input, kernels: Kernels, *, bank: Literal[False] = ..., output: Output = ...,
    max_pixels: int = ..., **settings: Any,
) -> Result: ...  # fmt: skip
@overload
def apply(
    input: Input, kernels: Kernels, *, bank: Literal[True], output: Output = ...,
    max_pixels: int = ..., **settings: Any,
) -> list[Result]: ...  # fmt: skip
def apply(
    input: Input,
    kernels: Kernels,
    *,
    bank: bool = False,
    output: Output = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    **settings: Any,
) -> Result | list[Result]:
    """Filter an image, an array or a file as ``convcli apply`` does; return result and record.

    Parameters
    ----------
    input : str, path, bytes, binary file, Image or array
        A file's name or path, a URL, a file's content or a binary file
        object (read as :func:`convcli.read` reads them); an :class:`Image`
        (filtered as an image; one without a ``format`` as a TIFF would be);
        or an array, filtered as a ``.npy`` file is (README, "Arrays").
    kernels : str, Kernel, or a list of them
        Kernel specs as :func:`convcli.kernel` takes them, or kernels: one
        pipeline, applied in order; with ``bank=True`` each on its own.
    bank : bool, optional
        Apply each kernel to the input on its own (``--bank``): a list of
        results, one per kernel, in order.
    output : str or path, optional
        Also write the result: a file, or a folder (ending in ``/``, or one
        that exists) in which it is named as ``convcli apply -o`` names it;
        atomically. By default nothing is written.
    max_pixels : int, optional
        Refuse a larger input (``--max-pixels``).
    **settings
        ``padding`` (``"same"``, ``"valid"``, ``"full"``, N, (N, M) or (T, B,
        L, R)), ``pad_mode``, ``pad_value``, ``stride``, ``dilation`` (N or a
        tuple), ``flip``, ``gray``, ``range``, ``colormap``, ``method``,
        ``frame``, ``format`` (of the result: ``png``, ``tif``, ``npy``...; by
        default ``output``'s suffix, else the input's own), ``quality``,
        ``compress_level``, ``strip``, ``bias`` (a spec, numbers, or a list
        of them: the n-th for the n-th layer kernel): the options of
        ``convcli apply`` of the same names (README, "apply").

    Returns
    -------
    (Image, dict), or a list of them with ``bank=True``
        The result, as it is (or would be) written: its samples in the
        output format's type and range, every frame, its metadata; and its
        report record, the object ``convcli apply --json`` prints (``output``
        None when nothing is written). The image's ``notes`` hold what the
        command line notes of the run and the input (a format written as
        another, a kernel of ``CONVCLI_KERNEL_PATH`` that replaces a built-in one).

    Raises
    ------
    KernelError, ParameterError, UsageError
        A kernel or a setting is invalid, or does not fit the input.
    InputError
        The input cannot be read, or the output written.

    Examples
    --------
    >>> import numpy as np
    >>> import convcli
    >>> step = np.repeat([[0, 0, 0, 200, 200, 200]], 3, axis=0).astype(np.uint8)
    >>> step = convcli.Image.from_array(step)
    >>> edges, record = convcli.apply(step, "sobel-x", pad_mode="replicate")
    >>> edges.samples
    array([[  0,   0, 255, 255,   0,   0],
           [  0,   0, 255, 255,   0,   0],
           [  0,   0, 255, 255,   0,   0]], dtype=uint8)
    >>> record["range"], record["output_shape"], record["clipped"]
    ('abs', [3, 6], 0.333333)
    >>> [(image.samples.shape, record["kernel"]) for image, record in
    ...  convcli.apply(step, ["box:3", "sobel-y"], bank=True, padding="valid")]
    [((1, 4), 'box:size=3'), ((1, 4), 'sobel-y')]
    """
    known_settings("apply", settings)
    chosen = checked_settings(kernels, **settings)
    if bank:  # each member of a set (kirsch, sobel@) is a kernel of the bank
        chosen = replace(chosen, kernels=bank_members(chosen.kernels))
    check_between("max_pixels", max_pixels, (1, MAX_PIXELS_LIMIT))
    every = range(len(chosen.kernels)) if bank else [None]
    if bank and len(chosen.kernels) < 2:
        raise ParameterError("bank applies several kernels each on its own: give two or more",
                             parameter="bank")  # fmt: skip
    if output is not None and os.fspath(output) == "-":
        raise ParameterError("output must be a file or a folder: apply returns the result itself",
                             parameter="output")  # fmt: skip
    notes = kernel_notes(chosen.convolutions)
    if output is not None and isinstance(input, str | os.PathLike):
        results = _written(os.fsdecode(input), os.fsdecode(output), chosen, bank, max_pixels, notes)
    else:
        pictures, label = _pictures(input, chosen, max_pixels)
        target = None if output is None else _target(os.fsdecode(output))
        fmt = _format(chosen, target)
        results = [
            _result(pictures(), one_kernel(chosen, index), label, fmt, target, max_pixels, notes)
            for index in every
        ]
    return results if bank else results[0]


def _written(
    name: str, output: str, chosen: Settings, bank: bool, max_pixels: int, notes: list[str]
) -> list[Result]:
    """Filter a file and write its outputs where ``convcli apply NAME -o OUTPUT`` writes them.

    What planning says (a format written as another) is in each result's notes.
    """
    planned = plan_run([name], output, chosen, max_pixels=max_pixels, bank=bank)
    notes = notes + planned.notes
    options = RunOptions(max_pixels=max_pixels)
    results = []
    for job in planned.jobs:
        if job.failure is not None:
            raise InputError(job.failure)
        each = job.settings_for(chosen)  # a bank's job: its one kernel
        pictures = _read(job_source(job, options), each, job.label, max_pixels)
        results.append(
            _result(pictures, each, job.label, job.format, job.target, max_pixels, notes, job.maps)
        )
    return results


def _result(
    pictures: Pictures,
    chosen: Settings,
    label: str,
    fmt: OutputFormat | None,
    target: Location | None,
    max_pixels: int,
    notes: list[str],
    maps: tuple[Location, ...] = (),
) -> Result:
    """Filter one input with ``chosen``; write it to ``target`` if there is one.

    ``maps``: a bank's layer kernel writes feature map i to ``maps[i]`` instead.

    The image's notes are ``notes`` (the run's), then what was said of this input.
    """
    shown = None if target is None else str(maps[0] if maps else target)
    done = render(pictures, chosen, label=label, output_label=shown, fmt=fmt, max_pixels=max_pixels)
    assert done.frames is not None
    frames = [Frame(*frame) for frame in done.frames]
    done = replace(done, frames=iter(frames))
    if target is not None:
        _write(target, done, chosen, shown or "", maps)
    report = done.finished()
    return _image(frames, done, notes), json.loads(report.to_json())


def _write(
    target: Location, done: Rendered, chosen: Settings, label: str, maps: tuple[Location, ...] = ()
) -> None:
    """Write as a job writes: a file atomically, an object in a store with one request."""
    if not is_remote(target) or maps:  # a bank's layer: each map's file or object
        write_rendered(typing.cast("Path", target), done, chosen, label, maps=maps)
        return
    buffer = io.BytesIO()
    write_rendered(buffer, done, chosen, label)
    write_object(target, buffer.getvalue(), label)


def _image(frames: list[Frame], done: Rendered, notes: list[str]) -> Image:
    """Return the result as an :class:`Image`, in the output format's sample type."""
    meta = done.metadata
    return Image(
        frames=tuple(frames), white=array_white(np.dtype(done.planned.depth)),
        format=str(done.planned.format.name), icc=meta.icc, exif=meta.exif, dpi=meta.dpi,
        software=meta.software, description=meta.description, loop=done.loop,
        notes=(*map(str, notes), *done.report.notes),
        encoding=replace(meta, icc=None, exif=None, dpi=None, software=None, description=None),
    )  # fmt: skip


def _pictures(
    input: Input,
    chosen: Settings,
    max_pixels: int,
) -> tuple[Callable[[], Pictures], str]:
    """Return how to get the input's pictures afresh (once per kernel of a bank), and its name."""
    if isinstance(input, Image):
        return (lambda: _from_image(input, chosen.frame or 0)), "<image>"
    if isinstance(input, str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
        input, "read"
    ):
        content, label = opened(input, STDIN_BYTES_PER_PIXEL * max_pixels)  # type: ignore[arg-type]
    else:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(input), allow_pickle=False)  # read as a .npy file is
        content, label = buffer.getvalue(), "<array>"
    return (lambda: _read(content, chosen, label, max_pixels)), label


def _read(source: Path | bytes, chosen: Settings, label: str, max_pixels: int) -> Pictures:
    first = read_image(source, label, max_pixels, chosen.frame or 0)
    return Pictures(first, lambda like: iter_frames(source, like, label, max_pixels))


def _from_image(image: Image, frame: int) -> Pictures:
    """Return an image's frames as the pipeline takes them, from ``frame`` on."""
    if frame >= len(image.frames):
        raise ParameterError(f"frame must be below {len(image.frames)}, the image's frames, "
                             f"got {frame}", parameter="frame")  # fmt: skip
    kind = FileFormat(image.format) if image.format else FileFormat.TIF
    metadata = replace(image.metadata, software=None, description=None)

    def picture(index: int) -> Picture:
        samples, alpha, duration = image.frames[index]
        return Picture(samples, alpha, image.white, kind, metadata=metadata,
                       frames=len(image.frames), duration=duration, loop=image.loop)  # fmt: skip

    rest = (picture(index) for index in range(frame + 1, len(image.frames)))
    return Pictures(picture(frame), lambda like: rest)


def _target(output: str) -> Location:
    """Return the one file an input without a name is written to."""
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        raise ParameterError(
            f"output must name a file for an input that has no name of its own, got {output!r}",
            parameter="output",
        )
    return location(output) if is_url(output) else Path(output)


def _format(chosen: Settings, target: Location | None) -> OutputFormat | None:
    """Choose the result's format: ``format``'s, else the output's suffix's; None: the input's."""
    if chosen.format is not None:
        return output_format(chosen.format)
    suffix = getattr(target, "suffix", "")
    return output_format(suffix) if suffix else None
