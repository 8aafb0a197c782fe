"""Which files a run reads: files and folders from the command line, walked safely.

A folder gives every file in it that is an image by content (its first
bytes) or claims to be one by its suffix; anything else (``notes.txt``,
``.DS_Store``) is found but marked to be skipped. A folder walk follows
symbolic links to files, but never visits a folder twice (a link back to a
parent), never leaves the folder it was given, and never enters the output
folder, so outputs are not read back as inputs.

A URL's prefix (``s3://bucket/photos/``) is listed instead; its objects are
told apart by their suffixes alone, as reading each one's first bytes would
take a request per object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.choices import FORMAT_ALIASES, FileFormat
from convcli.io.formats import sniff_format
from convcli.io.storage import is_folder, is_remote, is_zarr_store, location, objects

if TYPE_CHECKING:
    from convcli.io.storage import Location

IMAGE_SUFFIXES = {f".{name}" for name in [*FileFormat, *FORMAT_ALIASES]}


@dataclass(frozen=True)
class Input:
    """One input of a run.

    Attributes
    ----------
    path : Path, UPath or None
        The file, or an object in a store; None for standard input.
    label : str
        How the user sees it named.
    relative : Path
        Where it sits below the folder it was found in (its bare name for a
        file named on the command line): mirrored below an output folder.
    image : bool
        False for a file in a folder that is not an image: it is skipped.
    in_folder : bool
        Found by walking a folder, rather than named on the command line.
    """

    path: Location | None
    label: str
    relative: Path
    image: bool = True
    in_folder: bool = False


def find_inputs(
    arguments: Sequence[str], *, recursive: bool = False, exclude: Location | None = None
) -> list[Input]:
    """Expand the command line's inputs: files as given, folders walked.

    Parameters
    ----------
    arguments : sequence of str
        Files, folders, URLs, and ``-`` for standard input.
    recursive : bool
        Descend into sub-folders.
    exclude : Path or UPath, optional
        A folder never to enter (the output folder).

    Returns
    -------
    list of Input
        In the order given; a folder's files sorted by path.
    """
    excluded = exclude.resolve() if isinstance(exclude, Path) else None
    found: list[Input] = []
    for argument in arguments:
        path = location(argument) if argument != "-" else None
        if path is None:
            found.append(Input(None, "-", Path("stdin")))
        elif is_remote(path) and is_folder(argument):
            for item in objects(path, recursive, exclude):
                relative = Path(item.path).relative_to(path.path)
                found.append(Input(item, str(item), relative, _claims_image(item), True))
        elif isinstance(path, Path) and path.is_dir() and not is_zarr_store(path):
            for file in _walk(path, recursive, excluded):
                relative = file.relative_to(path)
                found.append(Input(file, str(file), relative, _looks_like_image(file), True))
        else:  # a file, or a missing one: reading it will say which
            found.append(Input(path, argument, Path(path.name)))
    return found


def _walk(root: Path, recursive: bool, excluded: Path | None) -> Iterator[Path]:
    top = root.resolve()
    seen: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        real = folder.resolve()
        identity = (real.stat().st_dev, real.stat().st_ino)
        if identity in seen or (excluded is not None and _within(real, excluded)):
            continue
        seen.add(identity)
        subfolders = []
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda entry: entry.name):
                path = Path(entry.path)
                if entry.is_dir() and is_zarr_store(path):  # an array, not a folder
                    yield path
                elif entry.is_dir():  # follows links
                    if recursive and _within(path.resolve(), top):
                        subfolders.append(path)
                elif entry.is_file():
                    yield path
        pending.extend(reversed(subfolders))  # depth first, in name order


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _claims_image(path: Location) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _looks_like_image(path: Path) -> bool:
    if _claims_image(path):
        return True
    try:
        with path.open("rb") as stream:
            return sniff_format(stream.read(16)) is not None
    except OSError:
        return True  # unreadable: let reading it fail with its reason
