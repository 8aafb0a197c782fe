"""Start-up: what `convcli apply` on a small PNG imports (no timings: those are benchmarks').

A 1x1 PNG, quiet (`-q`), is read by Pillow and written by convcli's own writer: the other
formats' modules, their libraries, the terminal's rich and NumPy's masked arrays
(which ``np.unique`` imports) are not needed; nor are the kernel families (``sobel-x`` is
a kernel of a file), the one-input ``convcli.apply`` and ``convcli.Image``. The garbage collector rests while the
program starts and is back on when the run begins. The program ends the process itself,
after the exit handlers, without the interpreter's teardown, unless a thread still runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image

NOT_NEEDED = (
    "imagecodecs", "tifffile", "rich", "concurrent.futures", "numpy.ma", "csv",
    "convcli.io.codecs", "convcli.io.jxl", "convcli.io.avif", "convcli.io.heif",
    "convcli.io.exr", "convcli.io.raw", "convcli.io.fits", "convcli.io.psd", "convcli.io.netpbm",
    "convcli.catalog.families", "convcli.library.apply", "convcli.library.images",
)  # fmt: skip


def test_apply_on_a_small_png_imports_no_other_formats_modules(tmp_path):
    source, out = tmp_path / "tiny.png", tmp_path / "out.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(source)
    code = (
        "import atexit, sys; from convcli.cli import main\n"
        f"atexit.register(lambda: print(sorted(m for m in {NOT_NEEDED!r} if m in sys.modules)))\n"
        f"sys.argv = ['convcli', 'apply', {str(source)!r}, '-k', 'sobel-x', '-o', {str(out)!r}, '-q']\n"
        "main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    with Image.open(out) as written:
        assert written.size == (1, 1)


def test_a_format_module_is_imported_when_its_file_is_read(tmp_path):
    source = tmp_path / "tiny.ppm"
    Image.new("RGB", (2, 1), (10, 20, 30)).save(source)
    code = (
        "import sys; from convcli.io.reading import read_image; from pathlib import Path\n"
        "before = 'convcli.io.netpbm' in sys.modules\n"
        f"picture = read_image(Path({str(source)!r}))\n"
        "print(before, 'convcli.io.netpbm' in sys.modules, picture.pixels.tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().split(maxsplit=2) == [
        "False",
        "True",
        "[[[10, 20, 30], [10, 20, 30]]]",
    ]


def test_the_collector_is_off_while_starting_and_on_for_the_run(tmp_path):
    source, out = tmp_path / "tiny.png", tmp_path / "out.png"
    Image.new("L", (2, 2), 7).save(source)
    code = (
        "import gc, sys; from convcli.cli import main; from convcli.library import batch\n"
        "seen = []; run = batch.Batch.run\n"
        "def watched(self, *a): seen.append((gc.isenabled(), gc.get_freeze_count() > 0)); "
        "return run(self, *a)\n"
        "batch.Batch.run = watched\n"
        "planned = batch.plan_run\n"
        "def planning(*a, **k): seen.append(gc.isenabled()); return planned(*a, **k)\n"
        "batch.plan_run = planning\n"
        f"sys.argv = ['convcli', 'apply', {str(source)!r}, '-k', 'box:3', '-o', {str(out)!r}, '-q']\n"
        "import atexit; atexit.register(lambda: print(seen))\n"
        "main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[False, (True, True)]"
    with Image.open(out) as written:
        assert written.tobytes() == bytes([7] * 4)  # a box of 7s (reflected borders) is 7


def test_the_program_ends_after_its_exit_handlers_with_its_exit_code(tmp_path):
    # main() ends the process itself (less the interpreter's teardown): what an exit
    # handler prints is flushed, and the exit code is the program's.
    code = (
        "import atexit, sys; from convcli.cli import main\n"
        "atexit.register(lambda: print('exit handler'))\n"
        "sys.argv = ['convcli', 'apply', 'missing.png', '-k', 'box:3']\n"
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (1, "exit handler\n")
    [line] = done.stderr.splitlines()  # one line on stderr, and the missing file named
    assert line.startswith("convcli: error: missing.png")


def test_with_another_thread_running_the_interpreter_ends_the_program_as_usual(tmp_path):
    code = (
        "import sys, threading, time; from convcli.cli import main\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()\n"
        "sys.argv = ['convcli', 'kernels', 'show', 'box:3', '--json']\n"
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "thread done"  # the thread was waited for


def test_each_command_shows_the_same_help_alone_as_beside_the_others(tmp_path):
    # main() builds only the command it is given; `app` is the program with every command.
    ways = {"alone": "main()", "beside": "app(prog_name='convcli')"}
    env = {**os.environ, "COLUMNS": "80"}
    for command in (["apply"], ["explain"], ["kernels"], ["kernels", "show"]):
        shown = {}
        for way, call in ways.items():
            code = f"from convcli.cli import app, main; {call}"
            argv = [sys.executable, "-c", code, *command, "--help"]
            done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
            shown[way] = done.stdout
        assert shown["alone"] == shown["beside"]
        assert shown["alone"].startswith(f"Usage: convcli {' '.join(command)} [OPTIONS]")
