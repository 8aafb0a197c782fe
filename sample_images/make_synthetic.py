"""Draw the synthetic sample images: shapes for matched filters, stripes for edges.

Run from anywhere: ``python sample_images/make_synthetic.py``. The output is
deterministic, so the committed PNGs can be checked against a fresh run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def shapes(size: int = 256) -> np.ndarray:
    """White circles, crosses and squares on black: what disk, cross and box kernels find."""
    rows, cols = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size), dtype=np.uint8)
    for r, c in [(48, 48), (128, 200), (208, 96)]:  # circles of radius 14
        image[(rows - r) ** 2 + (cols - c) ** 2 <= 14**2] = 255
    for r, c in [(48, 128), (200, 200)]:  # crosses: arms 30 long, 6 wide
        image[r - 15 : r + 16, c - 3 : c + 4] = 255
        image[r - 3 : r + 4, c - 15 : c + 16] = 255
    for r, c in [(48, 208), (128, 48), (200, 32)]:  # squares of side 24
        image[r - 12 : r + 12, c - 12 : c + 12] = 255
    return image


def circle(radius: int = 14) -> np.ndarray:
    """Draw the template for matched filtering: one circle of shapes.png, with a black margin."""
    side = 2 * radius + 3
    rows, cols = np.mgrid[0:side, 0:side] - side // 2
    return np.where(rows**2 + cols**2 <= radius**2, 255, 0).astype(np.uint8)


def stripes(size: int = 256) -> np.ndarray:
    """Vertical stripes on the left, horizontal on the right: what -x and -y kernels tell apart."""
    cols, rows = np.meshgrid(np.arange(size), np.arange(size))
    vertical = (cols // 16) % 2 == 0
    horizontal = (rows // 16) % 2 == 0
    return np.where(cols < size // 2, vertical, horizontal).astype(np.uint8) * 255


def main() -> None:
    """Write shapes.png, circle.png and stripes.png beside this script."""
    drawings = [("shapes.png", shapes()), ("circle.png", circle()), ("stripes.png", stripes())]
    for name, pixels in drawings:
        Image.fromarray(pixels).save(HERE / name, optimize=True)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
