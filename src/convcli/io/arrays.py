"""Files read and written a region at a time, by whoever holds their path.

A memory map pickles its whole data and a tifffile store does not pickle;
these pickle as a path, so a task on another process or machine opens the
file itself and touches only its region: ``.npy`` memory-mapped, TIFF
through tifffile's Zarr view (tiled or stripped, decoding only the tiles or
strips a region covers), a Zarr array chunk by chunk. A large TIFF is
written tile by tile, in order; a Zarr array by many writers at once, each
writing whole chunks of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.limits import BIGTIFF_BYTES


class NpyRegions:
    """A ``.npy`` file as an array-like: ``file[region]`` reads it, ``file[region] = x`` writes.

    Parameters
    ----------
    path : Path
        The file. For writing, it must exist with its header (see :meth:`create`).
    shape, dtype
        Its layout, from its header.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> out = NpyRegions.create(path, (4, 6), np.float32)
    >>> out[1:3, 2:4] = np.ones((2, 2))
    >>> NpyRegions(path, (4, 6), np.float32)[:, 2].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    @classmethod
    def create(cls, path: Path, shape: tuple[int, ...], dtype: npt.DTypeLike) -> NpyRegions:
        """Make ``path`` a ``.npy`` of ``shape`` (zeros, sparse where the file system allows)."""
        np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape).flush()
        return cls(path, shape, dtype)

    def __getitem__(self, region: Any) -> npt.NDArray[np.generic]:
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.array(mapped[region])  # a copy: the map closes with this call

    def __setitem__(self, region: Any, values: npt.ArrayLike) -> None:
        mapped = np.load(self.path, mmap_mode="r+", allow_pickle=False)
        mapped[region] = values
        mapped.flush()

    def __reduce__(self) -> tuple[object, ...]:
        return (NpyRegions, (self.path, self.shape, self.dtype.str))


class ZarrRegions:
    """A Zarr array as an array-like: ``a[region]`` reads it, ``a[region] = x`` writes.

    Parameters
    ----------
    store : str
        Its folder's path, or its URL in an object store (``s3://bucket/scan.zarr``).
    shape, dtype
        Its layout, from its metadata.

    Examples
    --------
    >>> import tempfile
    >>> store = f"{tempfile.mkdtemp()}/a.zarr"
    >>> out = ZarrRegions.create(store, (4, 6), np.float32, (2, 3), {"software": "convcli"})
    >>> out[0:2, 3:6] = np.ones((2, 3))
    >>> ZarrRegions(store, (4, 6), np.float32)[1, :].tolist(), ZarrRegions.attributes(store)
    ([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], {'software': 'convcli'})
    """

    def __init__(self, store: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.store, self.shape, self.dtype = store, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    @classmethod
    def create(
        cls,
        store: str,
        shape: tuple[int, ...],
        dtype: npt.DTypeLike,
        chunks: tuple[int, ...],
        attributes: dict[str, Any],
    ) -> ZarrRegions:
        """Make ``store`` a Zarr array of ``shape`` in ``chunks``, with ``attributes``."""
        import zarr

        array = zarr.open_array(store=store, mode="w", shape=shape, chunks=chunks, dtype=dtype)
        array.attrs.update(attributes)
        return cls(store, shape, dtype)

    @staticmethod
    def attributes(store: str) -> dict[str, Any]:
        """Return the array's attributes (its user metadata)."""
        import zarr

        return dict(zarr.open_array(store=store, mode="r").attrs)

    def __getitem__(self, region: Any) -> npt.NDArray[np.generic]:
        import zarr

        return np.asarray(zarr.open_array(store=self.store, mode="r")[region])

    def __setitem__(self, region: Any, values: npt.ArrayLike) -> None:
        import zarr

        zarr.open_array(store=self.store, mode="r+")[region] = values

    def __reduce__(self) -> tuple[object, ...]:
        return (ZarrRegions, (self.store, self.shape, self.dtype.str))


class TiffRegions:
    """The first image of a TIFF as an array-like: ``file[region]`` decodes only that region."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    @staticmethod
    def layout(path: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
        """Return the shape and sample type of the TIFF's first image, as regions are read."""
        import tifffile

        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            return tuple(series.shape), np.dtype(series.dtype)

    @staticmethod
    def carried(path: Path, stride: tuple[int, int]) -> tuple[dict[str, Any], bool]:
        """Return tifffile's options carrying the first image's colour profile and resolution.

        The resolution is divided by the ``stride`` (a pixel then covers more).
        Also returns whether the image has EXIF, which is not carried.
        """
        import tifffile

        with tifffile.TiffFile(path) as tiff:
            tags = tiff.pages.first.tags
            options: dict[str, Any] = {}
            if 34675 in tags:
                options["iccprofile"] = bytes(tags[34675].value)
            unit = tags.get(296)
            if 282 in tags and 283 in tags and unit is not None and unit.value != 1:
                across, down = (_ratio(tags[code].value) for code in (282, 283))
                options["resolution"] = (across / stride[1], down / stride[0])
                options["resolutionunit"] = unit.value
            return options, 34665 in tags

    def __getitem__(self, region: Any) -> npt.NDArray[np.generic]:
        import tifffile
        import zarr

        with tifffile.TiffFile(self.path) as tiff:
            image = zarr.open(tiff.series[0].aszarr(), mode="r")
            return np.asarray(image[region])

    def __reduce__(self) -> tuple[object, ...]:
        return (TiffRegions, (self.path, self.shape, self.dtype.str))


def _ratio(value: Any) -> float:
    numerator, denominator = value
    return float(numerator) / float(denominator or 1)


def write_tiled_tiff(
    path: Path,
    rows: Iterator[npt.NDArray[np.generic]],
    shape: tuple[int, ...],
    dtype: npt.DTypeLike,
    tile: int,
    options: dict[str, Any],
) -> None:
    """Write a TIFF of ``shape`` tile by tile from ``rows``: bands of ``tile`` rows, in order.

    ``tile`` must be a multiple of 16 (TIFF's rule); ``options`` are
    tifffile's (description, software, photometric).
    """
    import tifffile

    def tiles() -> Iterator[npt.NDArray[np.generic]]:
        for band in rows:
            for start in range(0, shape[1], tile):
                piece = band[:, start : start + tile]
                if piece.shape[:2] != (tile, tile):  # the last row and column: padded
                    padding = [(0, tile - piece.shape[0]), (0, tile - piece.shape[1])]
                    piece = np.pad(piece, padding + [(0, 0)] * (piece.ndim - 2))
                yield piece

    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with tifffile.TiffWriter(path, bigtiff=size > BIGTIFF_BYTES) as tiff:
        tiff.write(tiles(), shape=shape, dtype=dtype, tile=(tile, tile), **options)
