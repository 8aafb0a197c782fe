"""Finding things in a picture convcli drew: a tile, a label in the bundled font."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw

from convcli.pictures.draw import font
from convcli.pictures.montage import INK


def find(sheet: np.ndarray, tile: np.ndarray, tolerance: int = 0) -> list[tuple[int, int]]:
    """Every place where ``tile`` lies in ``sheet``, each sample within ``tolerance``."""
    h, w = tile.shape[:2]
    sheet, tile = sheet.astype(np.int16), tile.astype(np.int16)
    found = []
    for y in range(sheet.shape[0] - h + 1):
        rows = sliding_window_view(sheet[y], (w, 3))[:, 0]  # every window of the first row
        near = np.abs(rows - tile[0]).max(axis=(1, 2)) <= tolerance
        for x in np.flatnonzero(near):
            if np.abs(sheet[y : y + h, x : x + w] - tile).max() <= tolerance:
                found.append((y, int(x)))
    return found


def label(text: str, size: int = 13) -> np.ndarray:
    """The text as a sheet writes it: the bundled font at ``size`` pixels, on white."""
    face = font(size)
    _, _, right, bottom = face.getbbox(text)
    image = Image.new("RGB", (right + 2, bottom + 2), (255, 255, 255))
    ImageDraw.Draw(image).text((0, 0), text, fill=INK, font=face)
    drawn = np.asarray(image)
    ink = np.argwhere((drawn < 255).any(axis=2))
    (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
    return drawn[y0 : y1 + 1, x0 : x1 + 1]
