"""convcli against ImageMagick itself: its kernel strings give its results (issue 27).

ImageMagick's ``-morphology Convolve`` turns the kernel 180 degrees (convcli's
``--flip``), its virtual pixels are ``edge`` by default (convcli's
``replicate``), and ``convolve:scale=1`` keeps its kernels' own numbers
(``!`` normalises its shapes, which convcli's are: means). Interior pixels,
away from any border, agree within one level of 255.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from helpers import run

CONVERT = shutil.which("convert-im6.q16") or shutil.which("convert")
pytestmark = pytest.mark.skipif(
    CONVERT is None, reason="ImageMagick is missing: apt-get install -y imagemagick"
)
MARGIN = 4  # wider than every kernel's reach below: only interior pixels are compared

CASES = [
    # (ImageMagick's kernel, its -morphology method, convolve:scale)
    ("Gaussian:2x1", "Convolve", "1"),
    ("DoG:3,1,2", "Convolve", "1"),
    ("Blur:3x1.5,90", "Convolve", "1"),
    ("Sobel:45", "Convolve", "1"),
    ("Kirsch:90", "Convolve", "1"),
    ("Laplacian:5", "Convolve", "1"),
    ("Prewitt:135", "Convolve", "1"),
    ("FreiChen:16", "Convolve", "1"),
    ("Compass:45", "Convolve", "1"),
    ("Diamond:2", "Convolve", "!"),
    ("Octagon:2", "Convolve", "!"),
    ("Ring:1,2", "Convolve", "!"),
    ("Plus:2", "Convolve", "!"),
    ("Binomial:2", "Convolve", "!"),
    # An origin off the centre: ImageMagick's Convolve reflects the values but keeps the
    # origin, so these are compared as correlations, which convcli computes unflipped.
    ("Rectangle:3x2+0+0", "Correlate", "!"),
    ("3x3+2+0: 1,0,0 0,2,0 0,0,-1", "Correlate", "1"),
]


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("im")
    rows, cols = np.mgrid[0:32, 0:32]
    noise = np.random.default_rng(5).normal(0, 12, (32, 32))
    grey = 100 + 60 * np.sin(cols / 3) + 40 * np.cos(rows / 4) + noise
    Image.fromarray(grey.clip(0, 255).astype(np.uint8)).save(folder / "in.png")
    return folder / "in.png"


@pytest.mark.parametrize(("spec", "method", "scale"), CASES)
def test_convcli_gives_imagemagicks_result(picture, tmp_path, spec, method, scale):
    theirs, ours = tmp_path / "im.png", tmp_path / "convcli.png"
    subprocess.run([CONVERT, str(picture), "-define", f"convolve:scale={scale}", "-morphology",
                    method, spec, str(theirs)], check=True, timeout=60)  # fmt: skip
    flip = ["--flip"] if method == "Convolve" else []
    result = run("apply", str(picture), "-k", spec, *flip, "--pad-mode", "replicate",
                 "--range", "clip", "-o", str(ours), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(theirs) as a, Image.open(ours) as b:
        expected, got = (np.asarray(x.convert("L"), dtype=int) for x in (a, b))
    inside = (slice(MARGIN, -MARGIN),) * 2
    assert np.abs(expected[inside] - got[inside]).max() <= 1
    assert expected[inside].std() > 1  # a response that says something, not a flat field
