"""False-colour heat maps: a single-channel response through a 256-entry lookup table.

The tables are interpolated from 33 evenly spaced samples of matplotlib's
maps (viridis, magma and inferno by van der Walt and Smith; coolwarm by
Moreland), which keeps every entry within 5 of 255 levels of the original
without depending on matplotlib. ``gray`` is the identity ramp.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from convcli.choices import Colormap

_SAMPLES = {
    Colormap.VIRIDIS: (
        "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d "
        "2f6b8e 2c728e 297a8e 26828e 23898e 21918c 1f988b 1fa088 22a785 28ae80 32b67a "
        "3fbc73 4ec36b 5ec962 70cf57 84d44b 98d83e addc30 c2df23 d8e219 ece51b fde725"
    ),
    Colormap.MAGMA: (
        "000004 030312 0a0822 130d34 1d1147 29115a 36106b 440f76 51127c 5d177f 6a1c81 "
        "762181 832681 902a81 9c2e7f aa337d b73779 c43c75 d0416f dc4869 e75263 ef5d5e "
        "f56b5c f9795d fc8961 fd9869 fea772 feb67c fec488 fed395 fde2a3 fcf0b2 fcfdbf"
    ),
    Colormap.INFERNO: (
        "000004 040312 0b0724 150b37 210c4a 2f0a5b 3d0965 4a0c6b 57106e 64156e 71196e "
        "7d1e6d 8a226a 972766 a32c61 b0315b bc3754 c73e4c d24644 db503b e45a31 eb6628 "
        "f1731d f68013 f98e09 fb9d07 fcac11 fbbc21 f9cb35 f5db4c f2ea69 f3f68a fcffa4"
    ),
    Colormap.COOLWARM: (
        "3b4cc0 445acc 4e68d8 5875e1 6282ea 6c8ff1 779af7 82a6fb 8db0fe 98b9ff a3c2fe "
        "aec9fc b9d0f9 c3d5f4 ccd9ed d5dbe5 dddcdc e5d8d1 ecd3c5 f1ccb8 f5c4ac f7ba9f "
        "f7b093 f6a586 f4987a f08b6e eb7d62 e46e56 dd5f4b d44e41 ca3b37 be242e b40426"
    ),
    Colormap.GRAY: "000000 ffffff",
}


@functools.cache
def lookup_table(name: Colormap | str) -> npt.NDArray[np.uint8]:
    """Return the 256 x 3 table of a map, darkest (or bluest) first.

    Examples
    --------
    >>> table = lookup_table("viridis")
    >>> table.shape, table[0].tolist(), table[-1].tolist()
    ((256, 3), [68, 1, 84], [253, 231, 37])
    """
    samples = np.frombuffer(bytes.fromhex(_SAMPLES[Colormap(name)]), dtype=np.uint8).reshape(-1, 3)
    where = np.linspace(0, 255, len(samples))
    levels = np.arange(256)
    channels = [np.interp(levels, where, samples[:, c].astype(float)) for c in range(3)]
    table: npt.NDArray[np.uint8] = np.rint(np.stack(channels, axis=1)).astype(np.uint8)
    return table


def colorize(values: npt.NDArray[np.uint8], name: Colormap | str) -> npt.NDArray[np.uint8]:
    """Map 8-bit grey values (0 to 255) to the map's RGB colours: shape (..., 3).

    Examples
    --------
    >>> colorize(np.array([[0, 255]], dtype=np.uint8), "gray").tolist()
    [[[0, 0, 0], [255, 255, 255]]]
    """
    table: npt.NDArray[np.uint8] = lookup_table(name)[values]
    return table
