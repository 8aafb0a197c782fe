"""``.npy`` files read and written a region at a time, by whoever holds their path.

A memory map pickles its whole data; these pickle as a path, so a task on
another process or machine opens the file itself and touches only its region.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


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
