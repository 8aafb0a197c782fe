"""The FFT method: correlation as a product of spectra, for large dense kernels."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from convcli.engine._direct import correlate_direct
from convcli.engine._geometry import Geometry


def fast_length(n: int) -> int:
    """Return the smallest length >= ``n`` whose only prime factors are 2, 3, 5 and 7.

    Examples
    --------
    >>> fast_length(1021), fast_length(4127)
    (1024, 4200)
    """
    length = max(n, 1)
    while True:  # such lengths are dense: a few steps at most for image sizes
        rest = length
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return length
        length += 1


def correlate_fft(
    padded: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    geometry: Geometry,
    out: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.floating]:
    """Cross-correlate an already padded input through its spectrum.

    With transform lengths at least the padded size, the kept outputs never
    wrap around. Spectra are computed in float64 whatever the result type:
    that costs no measurable time, and it is more exact than the float32
    direct method (benchmarks/README.md). Input with NaN or infinity falls back
    to the direct method, because one NaN would spread over the whole
    spectrum.

    Examples
    --------
    >>> from convcli.engine import resolve_geometry
    >>> x = np.arange(16.0).reshape(4, 4)
    >>> g = resolve_geometry(x.shape, (3, 3), padding=0)
    >>> correlate_fft(x, np.ones((3, 3)), g).round(6)
    array([[45., 54.],
           [81., 90.]])
    """
    if padded.dtype.kind == "f" and not np.isfinite(padded).all():
        return correlate_direct(padded, kernel, geometry, out)
    ndim = geometry.spatial_ndim
    axes = tuple(range(ndim))
    lengths = tuple(fast_length(n) for n in padded.shape[:ndim])
    spectrum = np.fft.rfftn(padded.astype(np.float64, copy=False), s=lengths, axes=axes)
    spectrum *= _kernel_spectrum(kernel, geometry.dilation, lengths, padded.ndim - ndim)
    full = np.fft.irfftn(spectrum, s=lengths, axes=axes)
    kept = tuple(
        slice(0, (m - 1) * s + 1, s)
        for m, s in zip(geometry.output_shape[:ndim], geometry.stride, strict=True)
    )
    if out is None:
        return full[kept].astype(padded.dtype)
    out[...] = full[kept]
    return out


def _kernel_spectrum(
    kernel: npt.NDArray[np.floating],
    dilation: tuple[int, ...],
    lengths: tuple[int, ...],
    channel_axes: int,
) -> npt.NDArray[np.complex128]:
    weights = np.asarray(kernel, dtype=np.float64)
    spectrum = _spectrum(weights.shape, weights.tobytes(), dilation, lengths)
    return spectrum.reshape(spectrum.shape + (1,) * channel_axes)


@functools.lru_cache(maxsize=16)
def _spectrum(
    shape: tuple[int, ...], data: bytes, dilation: tuple[int, ...], lengths: tuple[int, ...]
) -> npt.NDArray[np.complex128]:
    # Correlation multiplies by the conjugate spectrum of the (dilated) kernel.
    weights = np.frombuffer(data, dtype=np.float64).reshape(shape)
    dilated = np.zeros([d * (k - 1) + 1 for k, d in zip(shape, dilation, strict=True)])
    dilated[tuple(slice(None, None, d) for d in dilation)] = weights
    return np.conj(np.fft.rfftn(dilated, s=lengths, axes=tuple(range(len(lengths)))))
