"""libjxl, the JPEG XL reference library, driven through ctypes: the tests' independent JPEG XL.

imagecodecs' encoder writes every frame of an animation at 100 ms and no
colour profile; these tests need frames of chosen durations, layers that are
not shown, cropped frames, loop counts and an ICC profile, and the
reference's own reading of them. The library is the one imagecodecs bundles
(``imagecodecs.libs/libjxl-*.so``); the tests that need it are skipped where
it is not a separate library (``LIBJXL`` is None).
"""

from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass, field

import imagecodecs
import numpy as np


def _library() -> ctypes.CDLL | None:
    import imagecodecs._jpegxl  # loads libjxl first, so its own dependencies resolve

    folder = os.path.join(
        os.path.dirname(os.path.dirname(imagecodecs.__file__)), "imagecodecs.libs"
    )
    found = sorted(glob.glob(os.path.join(folder, "libjxl-*.so*")))
    return ctypes.CDLL(found[0]) if found else None


LIBJXL = _library()
_P = ctypes.c_void_p
_BASIC = 26  # JxlBasicInfo's 4-byte fields before its padding
_TPS_NUMERATOR, _TPS_DENOMINATOR, _LOOPS = 20, 21, 22


@dataclass
class Layer:
    """One frame given to the encoder: its pixels (H, W, C uint8) and its header's fields."""

    pixels: np.ndarray
    duration: int = 1
    crop: tuple[int, int] | None = None  # its origin (x0, y0), when it covers a part
    blend: bool = False  # alpha-blended onto the frame before it, else replacing it
    save_as_reference: int = 0


@dataclass
class Read:
    """What libjxl's decoder says of a file, decoding no pixel."""

    durations: list[int] = field(default_factory=list)  # in ticks, of each frame it gives
    ticks: tuple[int, int] = (0, 1)  # a second's: numerator, denominator
    loops: int = 0
    icc: bytes = b""


def encode(
    layers: list[Layer], *, size: tuple[int, int], ticks: tuple[int, int] = (1000, 1),
    loops: int = 0, icc: bytes | None = None, container: bool = False, animated: bool = True,
) -> bytes:  # fmt: skip
    """Encode an animation of ``layers`` (one, a still) on a canvas of ``size`` (width, height), losslessly."""
    assert LIBJXL is not None
    lib = LIBJXL
    lib.JxlEncoderCreate.restype = _P
    lib.JxlEncoderFrameSettingsCreate.restype = _P
    encoder = _P(lib.JxlEncoderCreate(None))
    try:
        channels = layers[0].pixels.shape[2]
        info = (ctypes.c_uint32 * (_BASIC + 25))()
        lib.JxlEncoderInitBasicInfo(info)
        info[1], info[2], info[3] = size[0], size[1], 8
        info[9] = 1  # uses_original_profile: lossless
        info[11] = int(animated)  # have_animation
        info[13] = 3 if channels >= 3 else 1
        info[14], info[15] = (1, 8) if channels in (2, 4) else (0, 0)  # alpha: 8 bits
        info[_TPS_NUMERATOR], info[_TPS_DENOMINATOR], info[_LOOPS] = *ticks, loops
        _ok(lib.JxlEncoderSetBasicInfo(encoder, info), "SetBasicInfo")
        if icc is None:
            colour = (ctypes.c_uint8 * 256)()
            lib.JxlColorEncodingSetToSRGB(colour, int(channels < 3))
            _ok(lib.JxlEncoderSetColorEncoding(encoder, colour), "SetColorEncoding")
        else:
            _ok(lib.JxlEncoderSetICCProfile(encoder, icc, ctypes.c_size_t(len(icc))), "ICC")
        _ok(lib.JxlEncoderUseContainer(encoder, int(container)), "UseContainer")
        settings = _P(lib.JxlEncoderFrameSettingsCreate(encoder, None))
        _ok(lib.JxlEncoderSetFrameLossless(settings, 1), "SetFrameLossless")
        for layer in layers:
            header = (ctypes.c_int32 * 14)()
            lib.JxlEncoderInitFrameHeader(header)
            header[0] = layer.duration
            if layer.crop is not None:
                header[4], header[5], header[6] = 1, *layer.crop
                header[7], header[8] = layer.pixels.shape[1], layer.pixels.shape[0]
            if layer.blend:
                header[9], header[10], header[11] = 2, 0, 0  # kBlend onto reference 0, alpha 0
            header[13] = layer.save_as_reference
            _ok(lib.JxlEncoderSetFrameHeader(settings, header), "SetFrameHeader")
            pixels = np.ascontiguousarray(layer.pixels, dtype=np.uint8)
            form = (ctypes.c_uint32 * 6)(channels, 2, 0, 0, 0, 0)  # uint8, native, no align
            _ok(lib.JxlEncoderAddImageFrame(settings, form, pixels.ctypes.data_as(_P),
                                            ctypes.c_size_t(pixels.nbytes)), "AddImageFrame")  # fmt: skip
        lib.JxlEncoderCloseInput(encoder)
        return _output(lib, encoder)
    finally:
        lib.JxlEncoderDestroy(encoder)


def _output(lib: ctypes.CDLL, encoder: _P) -> bytes:
    chunks = []
    while True:
        buffer = (ctypes.c_uint8 * (1 << 16))()
        start = ctypes.cast(buffer, _P)
        cursor, room = _P(start.value), ctypes.c_size_t(len(buffer))
        status = lib.JxlEncoderProcessOutput(encoder, ctypes.byref(cursor), ctypes.byref(room))
        chunks.append(bytes(buffer)[: len(buffer) - room.value])
        if status == 0:
            return b"".join(chunks)
        _ok(0 if status == 2 else status, "ProcessOutput")


def read(data: bytes) -> Read:
    """Read a file's frames (their durations), ticks, loops and ICC profile, as libjxl gives them."""
    assert LIBJXL is not None
    lib = LIBJXL
    lib.JxlDecoderCreate.restype = _P
    decoder = _P(lib.JxlDecoderCreate(None))
    found = Read()
    try:
        _ok(lib.JxlDecoderSubscribeEvents(decoder, 0x40 | 0x100 | 0x400), "Subscribe")
        _ok(lib.JxlDecoderSetInput(decoder, data, ctypes.c_size_t(len(data))), "SetInput")
        lib.JxlDecoderCloseInput(decoder)
        while (status := lib.JxlDecoderProcessInput(decoder)) != 0:
            if status == 0x40:
                info = (ctypes.c_uint32 * (_BASIC + 25))()
                _ok(lib.JxlDecoderGetBasicInfo(decoder, info), "GetBasicInfo")
                found.ticks = (info[_TPS_NUMERATOR], info[_TPS_DENOMINATOR])
                found.loops = info[_LOOPS]
            elif status == 0x100:
                size = ctypes.c_size_t()
                if lib.JxlDecoderGetICCProfileSize(decoder, 0, ctypes.byref(size)) == 0:
                    icc = (ctypes.c_uint8 * size.value)()
                    lib.JxlDecoderGetColorAsICCProfile(decoder, 0, icc, size)
                    found.icc = bytes(icc)
            elif status == 0x400:
                header = (ctypes.c_uint32 * 14)()
                _ok(lib.JxlDecoderGetFrameHeader(decoder, header), "GetFrameHeader")
                found.durations.append(header[0])
            else:
                raise RuntimeError(f"libjxl's decoder: status {status:#x}")
    finally:
        lib.JxlDecoderDestroy(decoder)
    return found


def _ok(status: int, call: str) -> None:
    if status != 0:
        raise RuntimeError(f"libjxl: {call} returned {status}")


assert imagecodecs.JPEGXL.available
