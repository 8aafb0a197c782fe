"""The command line: a thin layer over the library, and the only user of Typer and rich.

``app`` holds the program and its error boundary; ``apply``, ``explain``
and ``kernels`` are the commands; ``options`` declares and parses what the
user types; ``render`` and ``feedback`` are what the user sees.
"""

import gc
import os

# convcli's own threads and processes share the cores; BLAS (the matrix method's
# products) gets one thread in each, unless the user chose otherwise. Set before NumPy
# loads OpenBLAS, and only when convcli is the program: the library leaves it to its caller.
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Typer's import makes many objects, all kept, and no garbage cycles: the collector rests
# meanwhile and leaves them out of its reach after (gc.freeze), 4 ms of every start;
# main() then keeps it off until a run begins.
gc.disable()
from convcli.cli.app import app, main  # noqa: E402

gc.freeze()
gc.enable()

__all__ = ["app", "main"]
