"""A decoded picture (a PIL image of any mode, or a numpy array) -> 8-bit gray, in bounded memory.

The conversion is pixel by pixel (once a wide-range picture's own range is known), so it runs over bands of
rows: the extra memory is a few copies of one band, not of the picture (a 50 MP RGBA picture converted whole
took ~1 GB, its copies in float32 more). Pictures up to a band's size go in one piece, as before.

- PIL images: palette and colour-key transparency become alpha; alpha is composited onto white (a drawing on
  a transparent canvas reads as ink on paper); other modes go through RGB to Pillow's own luma ("L").
  16-bit, 32-bit and float modes go the array way.
- Arrays: (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA of bool, unsigned or signed ints or floats;
  bool and uint8 by their type, uint16 by 65535, other ints by their largest value, floats in [0, 1] (or
  0..255 when larger values occur).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image

from digitreader.errors import ImageError
from digitreader.files import one_line

__all__ = ["BAND_PIXELS", "array_to_gray", "check_array", "pil_to_gray"]

BAND_PIXELS = 2_000_000  # pixels converted at a time (bigger pictures go in bands of rows)

# ITU-R 601-2 luma, the weights Pillow's convert("L") uses, so arrays and files give the same gray.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ARRAY_KINDS = "biuf"  # bool, signed and unsigned ints, floats: what pixels can be


def _bands(height: int, width: int) -> Iterator[slice]:
    rows = max(1, BAND_PIXELS // max(1, width))
    for top in range(0, height, rows):
        yield slice(top, min(height, top + rows))


# ------------------------------------------------------------------------------------------- PIL images


def pil_to_gray(im: Image.Image, label: str) -> np.ndarray:
    """The (H, W) uint8 gray of a loaded PIL image in its stored orientation (one band of rows at a time).

    Raises `ImageError` for a mode Pillow cannot convert; other errors are the caller's to name.
    """
    if im.mode in _WIDE_MODES:
        return _wide_to_gray(im, label)
    convert = _band_converter(im.mode, "transparency" in im.info)
    out = np.empty((im.height, im.width), np.uint8)
    try:
        for rows, band in _pil_bands(im):
            out[rows] = convert(band)
    except ValueError as exc:  # Pillow: "conversion from X to Y not supported"
        raise ImageError(f"{label}: unsupported image mode {im.mode} ({one_line(exc)})") from None
    return out


def _pil_bands(im: Image.Image) -> Iterator[tuple[slice, Image.Image]]:
    for rows in _bands(im.height, im.width):
        whole = rows.stop - rows.start == im.height
        yield rows, im if whole else im.crop((0, rows.start, im.width, rows.stop))


def _band_converter(mode: str, keyed: bool) -> Callable[[Image.Image], np.ndarray]:
    """How each band becomes gray: Pillow's own conversions, chosen once from the mode."""
    if mode == "La":  # premultiplied: onto white is L + (255 - A) (Pillow converts La to nothing else)
        return lambda band: _premultiplied_la(np.asarray(band))
    if mode in ("P", "PA", "RGBa", "RGBA", "LA") or (mode in ("L", "RGB") and keyed):
        # Palette or colour-key transparency becomes a real alpha channel; RGBa is premultiplied: undone.
        return lambda band: _onto_white(band.convert("RGBA"))
    if mode in ("L", "RGB"):
        return lambda band: np.asarray(band.convert("L"), dtype=np.uint8)
    return lambda band: np.asarray(band.convert("RGB").convert("L"), dtype=np.uint8)  # CMYK, 1, YCbCr, ...


def _onto_white(rgba: Image.Image) -> np.ndarray:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB").convert("L"), dtype=np.uint8)


def _premultiplied_la(values: np.ndarray) -> np.ndarray:
    luma, alpha = values[..., 0].astype(np.int16), values[..., 3 if values.shape[-1] == 4 else 1]
    return np.clip(luma + 255 - alpha.astype(np.int16), 0, 255).astype(np.uint8)


def _wide_to_gray(im: Image.Image, label: str) -> np.ndarray:
    """16-bit, 32-bit int and float modes: their range first (one pass over bands), then the conversion.

    Each band is copied out of Pillow on its own (`np.asarray` of a whole image copies it, twice over)."""
    scale = _range_of((np.asarray(band) for _, band in _pil_bands(im)), label)
    out = np.empty((im.height, im.width), np.uint8)
    for rows, band in _pil_bands(im):
        out[rows] = _to_uint8(np.asarray(band), scale)
    return out


# ----------------------------------------------------------------------------------------------- arrays


def check_array(arr: np.ndarray, label: str) -> tuple[int, int]:
    """(height, width) of an array that can be a picture; `ImageError` (before any conversion) if not."""
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise ImageError(f"{label}: unsupported array dtype {arr.dtype} (expected bool, integers or floats)")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{label}: unsupported array shape {arr.shape} (expected HxW, HxWx3 or HxWx4)")
    if arr.size == 0:
        raise ImageError(f"{label}: empty array, not an image")
    return int(arr.shape[0]), int(arr.shape[1])


def array_to_gray(arr: np.ndarray, label: str) -> np.ndarray:
    """A numpy picture (checked by `check_array`) -> (H, W) uint8 gray, alpha composited onto white."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2 and arr.dtype == np.uint8:
        # Already gray bytes (the server decodes before it reads): a copy, never the caller's own array.
        return arr.copy()
    height, width = arr.shape[:2]
    scale = _range_of((arr[rows] for rows in _bands(height, width)), label)
    out = np.empty((height, width), np.uint8)
    for rows in _bands(height, width):
        out[rows] = _to_uint8(arr[rows], scale)
    return out


def _range_of(bands: Iterator[np.ndarray], label: str) -> float:
    """What full scale is for these pixels: by the dtype (bool, uint8, uint16) or by the values."""
    lowest, top, finite = 0, 0.0, True
    dtype = None
    for band in bands:
        dtype = band.dtype
        if dtype.kind == "f":
            values = band.astype(np.float32)
            finite = finite and bool(np.isfinite(values).all())
            top = max(top, float(values.max()))
        elif dtype.kind in "iu" and dtype not in (np.uint8, np.uint16):
            lowest, top = min(lowest, int(band.min())), max(top, int(band.max()))
    if dtype is None or dtype == np.bool_:
        return 1.0
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if dtype.kind == "f":
        if not finite:
            raise ImageError(f"{label}: NaN or infinite pixel values")
        return 1.0 if top <= 1.0 else 255.0  # floats in [0, 1] are the usual convention; larger: 0..255
    # Pillow's "I" mode (int32) holds 16-bit PNGs in some versions: judge the range by the values.
    if lowest < 0:
        raise ImageError(f"{label}: negative pixel values in an integer image")
    return 255.0 if top <= 255 else 65535.0 if top <= 65535 else float(top)


def _to_uint8(band: np.ndarray, scale: float) -> np.ndarray:
    """One band of pixels -> uint8 gray, by the picture's full scale (`_range_of`)."""
    if band.dtype.kind == "f":
        values = band.astype(np.float32)
        values = np.clip(values if scale == 1.0 else values / 255.0, 0.0, 1.0)
    else:
        values = (band.astype(np.float32) / np.float32(scale)).astype(np.float32)
    if values.ndim == 3:
        if values.shape[2] == 4:
            alpha = values[:, :, 3:4]
            values = values[:, :, :3] * alpha + (1.0 - alpha)  # onto white
        values = values @ _LUMA
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
