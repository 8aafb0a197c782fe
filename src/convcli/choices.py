"""The names a user chooses from, each defined once.

Every layer takes its choices from here: the engine its border modes and
methods, the range mapping its modes, the image writer its formats, and the
command line its validation and ``--help`` text; beside them, the names a
user reads: the sample depths of an output and the statuses of a record.
Pure Python, so that ``convcli --help`` lists them without loading NumPy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from convcli.errors import ParameterError


class PadMode(StrEnum):
    """What lies beyond the edge of the input (see the engine's border table)."""

    ZERO = "zero"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"
    REPLICATE = "replicate"
    WRAP = "wrap"


# NumPy's and PyTorch's names for the same modes.
PAD_MODE_ALIASES = {"constant": PadMode.ZERO, "edge": PadMode.REPLICATE, "circular": PadMode.WRAP}
# Other tools' names, suggested but not accepted: SciPy's "reflect" is convcli's symmetric,
# so a name that means one mode in one tool and another elsewhere is never guessed.
OTHER_TOOLS = {
    "mirror": ("SciPy's 'mirror'", PadMode.REFLECT),
    "grid-mirror": ("SciPy's 'grid-mirror'", PadMode.SYMMETRIC),
    "nearest": ("SciPy's 'nearest'", PadMode.REPLICATE),
    "grid-wrap": ("SciPy's 'grid-wrap'", PadMode.WRAP),
    "grid-constant": ("SciPy's 'grid-constant'", PadMode.ZERO),
    "zeros": ("PyTorch's 'zeros'", PadMode.ZERO),
    "border_constant": ("OpenCV's BORDER_CONSTANT", PadMode.ZERO),
    "border_replicate": ("OpenCV's BORDER_REPLICATE", PadMode.REPLICATE),
    "border_reflect": ("OpenCV's BORDER_REFLECT", PadMode.SYMMETRIC),
    "border_reflect_101": ("OpenCV's BORDER_REFLECT_101", PadMode.REFLECT),
    "border_reflect101": ("OpenCV's BORDER_REFLECT101", PadMode.REFLECT),
    "border_default": ("OpenCV's BORDER_DEFAULT", PadMode.REFLECT),
    "border_wrap": ("OpenCV's BORDER_WRAP", PadMode.WRAP),
}


class PaddingWord(StrEnum):
    """The padding that has a name rather than numbers."""

    VALID = "valid"
    SAME = "same"
    FULL = "full"


class Method(StrEnum):
    """The engine's algorithms; ``auto`` picks one by the cost model."""

    AUTO = "auto"
    DIRECT = "direct"
    SEPARABLE = "separable"
    FFT = "fft"
    MATRIX = "matrix"


# No choice: a report's method where the engine's exact integer path ran, with the sums'
# type (``integer-int16``).
INTEGER_METHOD = "integer"


class Channels(StrEnum):
    """What a kernel does with an input's channels: filters each, or sums over them (a layer)."""

    EACH = "each"
    SUM = "sum"


class Activation(StrEnum):
    """The activations of a layer's pipeline (``-k relu``): value by value, as PyTorch's."""

    RELU = "relu"
    LEAKY_RELU = "leaky-relu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    ABS = "abs"


class Pool(StrEnum):
    """The pools of a layer's pipeline (``-k maxpool:2``): each map's windows reduced to one."""

    MAX = "maxpool"
    AVG = "avgpool"


class StageKind(StrEnum):
    """What a stage of a pipeline is, as the shape table names it."""

    KERNEL = "kernel"  # each channel filtered on its own
    LAYER = "layer"  # every channel summed, a map per filter
    POOL = "pool"  # each map's windows reduced to one value
    ACTIVATION = "activation"  # value by value


class Range(StrEnum):
    """How a filter response becomes the numbers an output holds."""

    CLIP = "clip"
    ABS = "abs"
    RESCALE = "rescale"
    OFFSET = "offset"
    RAW = "raw"


class Status(StrEnum):
    """What became of one input: the ``status`` of its record."""

    OK = "ok"
    PLANNED = "planned"  # a dry run: worked out from the input, nothing written
    ERROR = "error"
    SKIPPED = "skipped"


class Depth(StrEnum):
    """The sample types an output is written in (NumPy's names)."""

    UINT8 = "uint8"
    UINT16 = "uint16"
    FLOAT32 = "float32"


class Colormap(StrEnum):
    """The false-colour heat maps of ``--colormap``."""

    VIRIDIS = "viridis"
    MAGMA = "magma"
    INFERNO = "inferno"
    COOLWARM = "coolwarm"
    GRAY = "gray"


class MontageScale(StrEnum):
    """How the heat maps of an ``apply --montage`` sheet are scaled: all on one, or each its own."""

    SHARED = "shared"
    EACH = "each"


def crop_forms(ndim: int) -> str:
    """Say what ``explain --crop`` takes for an input of ``ndim`` axes."""
    return "START,LENGTH" if ndim == 1 else "ROW,COL,HEIGHT,WIDTH"


# The fields of an output name's template (--name), and the default one.
DEFAULT_TEMPLATE = "{stem}_{tag}{suffix}"
FIELDS = {
    "stem": "the input's name without its suffix",
    "tag": "the kernels and the settings that differ from the defaults",
    "kernel": "the kernels alone",
    "settings": "the settings alone (empty when all are the defaults)",
    "suffix": "the output's suffix, with its dot",
    "parent": "the name of the input's folder",
}


class FileFormat(StrEnum):
    """The formats convcli reads and writes, by their usual file suffix."""

    PNG = "png"
    JPG = "jpg"
    TIF = "tif"
    WEBP = "webp"
    BMP = "bmp"
    GIF = "gif"
    NPY = "npy"
    ZARR = "zarr"  # a store (a folder of chunks), read and written in tiles
    # Read and written with imagecodecs (io/codecs.py)
    AVIF = "avif"
    JXL = "jxl"
    JP2 = "jp2"
    J2K = "j2k"  # a bare JPEG 2000 codestream, without the JP2 boxes
    QOI = "qoi"
    # Decoded by convcli itself or an extra (io/netpbm.py, fits.py, psd.py, heif.py, exr.py, raw.py)
    PPM = "ppm"  # binary PGM and PPM, 8 or 16 bits
    PFM = "pfm"  # float
    TGA = "tga"
    HEIC = "heic"  # with the heic extra
    EXR = "exr"  # with the exr extra
    ICO = "ico"  # read only, as are the three below
    PSD = "psd"
    FITS = "fits"
    DNG = "dng"  # camera raw, with the raw extra


FORMAT_ALIASES = {"jpeg": FileFormat.JPG, "tiff": FileFormat.TIF}
FORMAT_ALIASES |= {"pgm": FileFormat.PPM, "pnm": FileFormat.PPM, "heif": FileFormat.HEIC}
FORMAT_ALIASES |= {"fit": FileFormat.FITS, "fts": FileFormat.FITS}
FORMAT_ALIASES |= dict.fromkeys(
    ("cr2", "cr3", "nef", "nrw", "arw", "orf", "rw2", "raf", "pef", "srw"), FileFormat.DNG
)
FORMAT_ALIASES |= dict.fromkeys(("crw", "mrw", "x3f"), FileFormat.DNG)  # not TIFF inside
# Read, never written: their outputs are PNG or TIFF unless said (io/formats.py, WRITTEN_AS).
READ_ONLY = frozenset({FileFormat.ICO, FileFormat.PSD, FileFormat.FITS, FileFormat.DNG})

Choice = TypeVar("Choice", bound=StrEnum)


def choose(
    kind: type[Choice], value: object, parameter: str, aliases: Mapping[str, Choice] | None = None
) -> Choice:
    """Return the member of ``kind`` that ``value`` (or one of its ``aliases``) names.

    Raises
    ------
    ParameterError
        Naming ``parameter`` and every valid choice.

    Examples
    --------
    >>> choose(PadMode, "edge", "pad_mode", PAD_MODE_ALIASES)
    <PadMode.REPLICATE: 'replicate'>
    >>> choose(Method, "fast", "method")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: method must be one of auto, direct, ..., got 'fast'
    """
    aliases = aliases or {}
    name = aliases.get(value, value) if isinstance(value, str) else value
    return kind(check_choice(parameter, name, [*kind, *aliases]))


def check_choice(parameter: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise say which are valid.

    Examples
    --------
    >>> check_choice("--tag", "blur", ["blur", "edge"])
    'blur'
    """
    options = list(choices)
    if isinstance(value, str) and value in options:
        return value
    raise ParameterError(
        f"{parameter} must be one of {', '.join(options)}, got {value!r}",
        parameter=parameter,
        hint=suggestion(value, options),
    )


def suggestion(value: object, options: list[str]) -> str:
    """Suggest the choice a mistyped or foreign name most likely meant, or nothing.

    Examples
    --------
    >>> suggestion("mirror", list(PadMode))
    "SciPy's 'mirror' is convcli's reflect"
    >>> suggestion("rescal", list(Range))
    'did you mean rescale?'
    """
    if not isinstance(value, str):
        return ""
    key = value.strip().lower().removeprefix("cv2.")
    if key in OTHER_TOOLS and OTHER_TOOLS[key][1] in options:
        tool, meant = OTHER_TOOLS[key]
        return f"{tool} is convcli's {meant}"
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6) or [
        option for option in options if key.startswith(option) or option.startswith(key)
    ]
    return f"did you mean {close[0]}?" if close else ""
