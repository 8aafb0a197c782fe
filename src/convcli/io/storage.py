"""Where inputs and outputs live: this machine's files, or objects in a store named by URL.

A URL (``s3://bucket/photos/``, ``gs://...``, any protocol fsspec knows)
names objects in a store; universal_pathlib and fsspec, which come with the
``remote`` extra, are imported only when one is given. An object is read
whole, after its size is checked, and written with one request (a
multipart upload above 100 MiB is completed or aborted as one), so an
output appears whole or not at all, as a renamed file does, and leaves no
temporary object behind.

``file://`` URLs are plain files.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeGuard, TypeVar

from convcli import extras
from convcli.errors import InputError, Message, UsageError

if TYPE_CHECKING:
    from upath import UPath

    Location = Path | UPath  # a file here, or an object in a store

T = TypeVar("T")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL rather than a file name.

    Examples
    --------
    >>> is_url("s3://bucket/photos/"), is_url("photos/x.png"), is_url("c:/x.png")
    (True, False, False)
    """
    return _URL.match(text) is not None


def location(text: str) -> Location:
    """Return where ``text`` points: a Path for a file, a UPath for an object in a store."""
    if not is_url(text):
        return Path(text)
    if text.lower().startswith("file://"):
        return Path(text[len("file://") :])
    upath = extras.need("upath", "remote")
    try:
        where: UPath = upath.UPath(text)
        # The protocol's file system, imported now: an unknown one is a usage error.
        where.fs  # noqa: B018
    except (ImportError, ValueError) as error:
        raise UsageError(f"{text}: {error}") from None
    return where


def is_remote(where: object) -> TypeGuard[UPath]:
    """Whether ``where`` is an object in a store (not a file, a stream or bytes)."""
    return where is not None and not isinstance(where, (Path, bytes, str)) and hasattr(where, "fs")


def is_zarr_store(path: Location) -> bool:
    """Whether ``path`` is a Zarr array's folder or prefix (it holds zarr.json or .zarray)."""
    if isinstance(path, Path) and not path.is_dir():
        return False  # a file, the usual case: one look at it, not two
    return any((path / name).is_file() for name in ("zarr.json", ".zarray"))


def is_folder(text: str) -> bool:
    """Whether ``text`` names a folder (not a Zarr array's), or a store's prefix holding objects."""
    where = location(text)
    if is_zarr_store(where):
        return False
    if isinstance(where, Path):
        return where.is_dir()
    return text.endswith("/") or _stored(where, where.is_dir)


def objects(folder: UPath, recursive: bool, exclude: Location | None) -> list[UPath]:
    """List the objects below ``folder``, sorted, none below ``exclude``.

    Keys ending in ``/`` (the empty "folders" some tools make) are not objects.
    """
    root = folder.path.rstrip("/")
    skipped = exclude.path.rstrip("/") + "/" if is_remote(exclude) else None
    keys = _stored(folder, lambda: folder.fs.find(root, maxdepth=None if recursive else 1))
    return [
        folder.joinpath(PurePosixPath(key).relative_to(root).as_posix())
        for key in sorted(keys)
        if not key.endswith("/") and not (skipped and key.startswith(skipped))
    ]


def list_ahead(folder: UPath) -> None:
    """List a prefix once, so that whether each object below it exists needs no request of its own.

    (fsspec keeps the listing; 50 lookups took 0.34 s one by one, 7 ms after it.)
    """

    def listed() -> None:
        folder.fs.invalidate_cache(folder.path)  # an older listing: from before another's writes
        folder.fs.find(folder.path)

    _stored(folder, listed)


@contextlib.contextmanager
def written_or_removed(where: UPath) -> Iterator[None]:
    """Let the block write objects below ``where`` (a store has no rename); on failure, remove."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            where.fs.rm(where.path, recursive=True)
        raise


def read_object(where: UPath, label: str, limit: int) -> bytes:
    """Read an object whole, refusing one over ``limit`` bytes before reading it."""
    where.fs.invalidate_cache(where.path)  # a worker's listing may be older than the object
    size = _stored(where, lambda: where.stat().st_size, label)
    if size > limit:
        raise InputError(Message("{label}: {size} bytes, more than a picture within "
                                 "{max_pixels} takes", label=label, size=size))  # fmt: skip
    return _stored(where, where.read_bytes, label)


def write_object(where: UPath, data: bytes, label: str) -> None:
    """Write an object with one request: it appears whole or not at all."""
    _stored(where, lambda: where.fs.pipe_file(where.path, data), label)


def exists(where: Location) -> bool:
    """Whether a file or an object is there."""
    return _stored(where, where.exists) if is_remote(where) else where.exists()


def modified(where: Location) -> float:
    """When a file or an object was last written (seconds since the epoch; a store's, whole)."""
    return (
        _stored(where, lambda: where.stat().st_mtime) if is_remote(where) else where.stat().st_mtime
    )


def _stored(where: UPath, call: Callable[[], T], label: str | None = None) -> T:
    """Call the store; its failures become an InputError naming ``label`` (else a UsageError).

    The stores' clients raise their own exception types (botocore's, aiohttp's,
    besides OSError), so every Exception is caught here, at the boundary.
    """
    try:
        return call()
    except FileNotFoundError:
        message = f"{label or where}: no such object"
    except Exception as error:  # the store's own types: see the docstring
        message = f"{label or where}: {_reason(error)}"
    raise (InputError(message) if label else UsageError(message))


def _reason(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
