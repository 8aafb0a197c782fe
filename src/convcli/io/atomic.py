"""Atomic file writes: a temporary file (or folder) in the destination folder, then a rename.

Temporary names carry the run's token (:func:`run_token`), so an interrupted run
removes its own temporary files and never another run's, and they are cut
to fit the file system's longest name, so any name that fits can be written.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

# One token per run: worker processes inherit it (through the environment when they
# are spawned rather than forked); a cluster's workers, which serve many runs, are
# given it with each task (running_as).
RUN_VARIABLE = "CONVCLI_RUN"
RUN = os.environ.get(RUN_VARIABLE) or f"{os.getpid():x}{os.urandom(3).hex()}"
os.environ[RUN_VARIABLE] = RUN
_SUFFIX = ".part"
_token = contextvars.ContextVar("convcli_run", default=RUN)


def run_token() -> str:
    """Return the token of the run this code works for."""
    return _token.get()


@contextlib.contextmanager
def running_as(token: str) -> Iterator[None]:
    """Work for the run ``token`` (in this thread) while the block lasts."""
    reset = _token.set(token)
    try:
        yield
    finally:
        _token.reset(reset)


def _file_mode() -> int:
    # A new file gets the permissions any new file would (os.open's 0o666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_name(path: Path) -> str:
    """Return a fresh temporary name for ``path``: ``.NAME.RUN.RANDOM.part``, within NAME_MAX.

    Examples
    --------
    >>> name = temporary_name(Path("/tmp") / ("x" * 300))
    >>> len(os.fsencode(name)) <= os.pathconf("/tmp", "PC_NAME_MAX"), name.endswith(".part")
    (True, True)
    """
    tail = f".{run_token()}.{os.urandom(4).hex()}{_SUFFIX}"
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    room = max(1, longest - 1 - len(tail))
    head = os.fsencode(path.name)[:room].decode("utf-8", "ignore") or "out"
    return f".{head}{tail}"


def own_temporary_files(folder: Path) -> list[Path]:
    """Return the temporary files and folders this run left in ``folder`` (not another run's)."""
    with contextlib.suppress(OSError):
        return list(folder.glob(f".*.{run_token()}.*{_SUFFIX}"))
    return []


def remove(temporary: Path) -> None:
    """Remove a temporary file, or a temporary folder with what it holds."""
    if temporary.is_dir() and not temporary.is_symlink():
        shutil.rmtree(temporary, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file so that it appears whole or not at all.

    ``write`` fills a temporary file beside ``path``; only when it returns is
    the file renamed over ``path``. If anything fails or is interrupted, the
    temporary file is removed and an existing ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_atomically(target, lambda stream: stream.write(b"done"))
    >>> target.read_bytes()
    b'done'
    """
    with replaced_atomically(path) as temporary, open(temporary, "wb") as stream:
        write(stream)


@contextlib.contextmanager
def replaced_atomically(path: Path, *, folder: bool = False) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``path``, renamed over it when the block ends.

    For writers that want a file name rather than a stream (a memory map, a
    TIFF written tile by tile), or with ``folder`` a folder (a Zarr store),
    which is renamed into place only where nothing is (or an empty folder):
    a rename never replaces a folder that holds anything. If the block fails
    or is interrupted, the temporary file or folder is removed and an
    existing ``path`` is left untouched.
    """
    while True:
        temporary = path.parent / temporary_name(path)
        try:
            if folder:
                os.mkdir(temporary)
            else:
                os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _file_mode()))
            break  # reopened by name: writers such as tifffile want a named file
        except FileExistsError:  # a clash of random names: draw again
            continue
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        remove(temporary)
        raise
