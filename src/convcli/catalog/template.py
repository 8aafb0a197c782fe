"""Matched filters: a kernel cut from a picture of what to find (``-k template:PATH``).

The template is made grey, zero-mean and unit-norm: a flat region, bright or
dark, gives no response, and the response is largest where the image looks
most like the template (the seeds' circle detector).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convcli.catalog.kernel import Kernel, Matrix
from convcli.choices import Range
from convcli.errors import InputError, KernelError, Message
from convcli.io.colour import luminance
from convcli.io.reading import read_image
from convcli.limits import MAX_KERNEL_SIZE


def template_kernel(path_text: str) -> Kernel:
    """Build the matched filter of an image file.

    Raises
    ------
    KernelError
        If the file cannot be read as an image, is larger than the largest
        kernel, or is flat (a flat template matches everything equally).

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "dot.png"
    >>> Image.fromarray(np.array([[0, 0, 0], [0, 255, 0], [0, 0, 0]], np.uint8)).save(path)
    >>> kernel = template_kernel(str(path))
    >>> round(abs(float(kernel.matrix.sum())), 12), round(float((kernel.matrix**2).sum()), 12)
    (0.0, 1.0)
    """
    name = f"template:{Path(path_text).stem}"  # short in reports and output names
    if not path_text:
        raise KernelError("template: give an image file, as in template:circle.png")
    try:
        picture = read_image(
            Path(path_text), path_text, max_pixels=MAX_KERNEL_SIZE * MAX_KERNEL_SIZE
        )
    except InputError as error:
        raise KernelError(Message("template: {why}", why=error.said)) from None
    if not picture.header.is_image:
        raise KernelError(f"template: {path_text} is an array; a template is an image")
    if max(picture.pixels.shape[:2]) > MAX_KERNEL_SIZE:
        raise KernelError(f"template: {path_text} is over {MAX_KERNEL_SIZE} pixels on a side")
    matrix = _normalized(np.asarray(luminance(picture, np.float64), dtype=np.float64))
    if matrix is None:
        raise KernelError(f"template: {path_text} is flat; a matched filter needs a shape")
    return Kernel(
        name,
        matrix.shape,
        lambda: matrix,
        description=f"matched filter of {path_text}: grey, zero-mean, unit norm",
        range=Range.RESCALE,
        tags=("match",),
        source=path_text,
    )


def _normalized(grey: Matrix) -> Matrix | None:
    centred = grey - grey.mean()
    norm = float(np.sqrt((centred**2).sum()))
    return None if norm <= 1e-12 * max(1.0, float(np.abs(grey).max())) else centred / norm
