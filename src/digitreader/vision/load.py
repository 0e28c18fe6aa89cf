"""Any image input -> a grayscale uint8 array (the one door every image comes through).

`load_image` accepts a path, the bytes of a file, a PIL image or a numpy array, and returns an `(H, W)`
uint8 array in the image's own orientation and polarity (ink is not inverted here: preprocess does that).

Steps, in order:
1. open lazily, as one of `FORMATS` only, and read only the header; refuse images over `max_pixels`, or
   whose decoded pixels would pass `max_decoded_bytes`, before decoding (bombs);
2. decode the first frame (GIF, TIFF pages, ...); truncated or broken data is refused;
3. convert any mode (1, L, P, RGB, CMYK, LA, I;16, I, F, ...) to 8-bit luma, transparency onto white, in
   bands of rows (`vision.gray`), so memory stays near the decoded picture's own size;
4. apply the EXIF orientation (phone photos) to the gray result.

Arrays are checked (dtype, shape, pixels) before any conversion. Whatever a decoder raises on hostile data
(Pillow's plugins raise OSError, ValueError, RuntimeError, NotImplementedError, struct errors, ...) comes out
as one `ImageError` line naming the source and the reason.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from digitreader import budget
from digitreader.errors import DigitreaderError, ImageError, ImageTooLargeError, NotAnImageError
from digitreader.files import one_line
from digitreader.names import printable
from digitreader.vision.gray import array_to_gray, check_array, pil_to_gray

__all__ = [
    "DEFAULT_MAX_DECODED_BYTES",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "MIN_SIDE",
    "ImageSource",
    "load_image",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 50_000_000  # 50 MP: above any phone photo, far below what would exhaust memory
# Bytes the decoded picture may take in Pillow (4 per pixel for RGB, RGBA, CMYK, 32-bit and float modes;
# 2 for 16-bit; 1 for gray and palette): a 50 MP colour photo, and no more.
DEFAULT_MAX_DECODED_BYTES = 4 * DEFAULT_MAX_PIXELS
MIN_SIDE = 4  # pixels; anything smaller cannot hold a legible digit
# The formats files are opened as (Pillow's names; JPEG includes the MPO variant of many phones, PPM
# covers PGM and PBM). Any other is refused unread: every extra decoder is more code facing hostile bytes.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | np.ndarray

_TURNS = {  # EXIF orientation -> the turn that shows the picture upright (as `ImageOps.exif_transpose`)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def load_image(
    source: Any,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> np.ndarray:
    """Return `source` as a C-contiguous grayscale `uint8` array of shape `(H, W)`.

    `source` is a path (str or `os.PathLike`), the bytes of an image file (one of `FORMATS`), a PIL image,
    or a numpy array (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA of dtype bool, uint8, uint16, other
    ints or float (floats in [0, 1] are scaled to 255). `name` labels the source in error messages
    (default: the path, or a description of the object). Raises `ImageTooLargeError` over `max_pixels` (or
    a decoded size over `max_decoded_bytes`), `ImageError` for anything else that cannot be read; each
    message is one line naming the source and the reason.
    """
    if isinstance(source, np.ndarray):
        label = name or f"<array {source.shape} {source.dtype}>"
        height, width = check_array(source, label)
        _check_size(width, height, max_pixels, label)  # before any conversion: it works in bands
        gray = array_to_gray(source, label)
    elif isinstance(source, Image.Image):
        label = name or f"<PIL image {source.mode} {source.width}x{source.height}>"
        gray = _from_pil(source, label, max_pixels, max_decoded_bytes)
    elif isinstance(source, bytes | bytearray | memoryview):
        label = name or f"<{len(source)} bytes>"
        if len(source) == 0:
            raise NotAnImageError(f"{label}: empty data, not an image")
        gray = _decode(io.BytesIO(bytes(source)), label, max_pixels, max_decoded_bytes)
    elif isinstance(source, str | os.PathLike):
        label = name or printable(str(source))
        try:
            path = Path(os.fspath(source)).expanduser()
            _check_path(path, label)
            with open(path, "rb") as f:
                gray = _decode(f, label, max_pixels, max_decoded_bytes)
        except OSError as exc:  # permission denied, name too long and the like (decoding's are ImageError)
            raise ImageError(f"{label}: cannot open ({one_line(exc.strerror or exc)})") from None
        except ValueError as exc:  # a NUL byte in the name
            raise ImageError(f"{label}: not a usable file name ({one_line(exc)})") from None
    else:
        raise ImageError(
            f"{name or type(source).__name__}: not an image source "
            "(expected a path, bytes, a PIL image or a numpy array)"
        )
    _check_size(gray.shape[1], gray.shape[0], max_pixels, label)
    return np.ascontiguousarray(gray)


def _check_path(path: Path, label: str) -> None:
    if not path.exists():
        raise ImageError(f"{label}: no such file")
    if path.is_dir():
        raise ImageError(f"{label}: is a directory, not an image file")
    if not path.is_file():  # a FIFO would block the read forever, a device would never end
        raise ImageError(f"{label}: not a regular file")
    if path.stat().st_size == 0:
        raise NotAnImageError(f"{label}: empty file, not an image")


def _check_size(width: int, height: int, max_pixels: int, label: str) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{label}: image too large ({width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,})"
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(
            f"{label}: image too small ({width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} pixels needed)"
        )


def _check_bytes(width: int, height: int, per_pixel: int, max_bytes: int, label: str) -> None:
    size = width * height * per_pixel
    if size > max_bytes:
        raise ImageTooLargeError(
            f"{label}: image too large ({width}x{height} at {per_pixel} bytes per pixel = {size:,} bytes "
            f"decoded; the limit is {max_bytes:,})"
        )


def _pixel_bytes(mode: str) -> int:
    """Bytes per pixel Pillow keeps for a mode (multi-band modes take 4, whatever their bands)."""
    try:
        return max(1, Image.new(mode, (1, 1)).im.pixelsize)
    except Exception:  # a mode Pillow cannot even make is not one we read; its conversion will say so
        return 4


def _decode(stream: Any, label: str, max_pixels: int, max_bytes: int) -> np.ndarray:
    """Open the header, check the size, then decode: the order that keeps bombs out."""
    try:
        im = Image.open(stream, formats=FORMATS)
    except Image.DecompressionBombError:
        # Pillow's own guard (2 x MAX_IMAGE_PIXELS) fired while reading the header: same answer as ours.
        raise ImageTooLargeError(
            f"{label}: image too large (refused before decoding; the limit is {max_pixels:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{label}: not an image (unknown or unsupported format)") from None
    except Exception as exc:  # a plugin failing on a header it half recognised
        log.debug("%s: header refused", label, exc_info=True)
        raise NotAnImageError(f"{label}: not a readable image ({one_line(exc)})") from None
    with im:
        return _from_pil(im, label, max_pixels, max_bytes)


def _from_pil(im: Image.Image, label: str, max_pixels: int, max_bytes: int) -> np.ndarray:
    """Check the size a (possibly lazy) PIL image declares, decode it, and turn it into upright gray."""
    _check_size(im.width, im.height, max_pixels, label)
    _check_bytes(im.width, im.height, _pixel_bytes(im.mode), max_bytes, label)
    try:
        im.load()  # decodes the first frame only
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{label}: image too large (the limit is {max_pixels:,} pixels)") from None
    except Exception as exc:
        log.debug("%s: decoding failed", label, exc_info=True)
        raise ImageError(f"{label}: damaged or truncated image ({one_line(exc)})") from None
    try:
        gray = pil_to_gray(im, label)
    except DigitreaderError:
        raise
    except Exception as exc:  # a plugin whose pixels fail on the way out (a lazily decoded tile, ...)
        log.debug("%s: conversion failed", label, exc_info=True)
        raise ImageError(f"{label}: damaged image ({one_line(exc)})") from None
    if _animated(im):
        budget.note("an animated picture: its first frame was read")
    return _upright(gray, im, label)


def _animated(im: Image.Image) -> bool:
    """Whether the picture has more frames (Pillow looks one frame ahead, not through them all)."""
    try:
        return bool(getattr(im, "is_animated", False))
    except Exception:  # a damaged second frame: the first was read, that is what counts here
        return False


def _upright(gray: np.ndarray, im: Image.Image, label: str) -> np.ndarray:
    """`gray` turned as the image's EXIF orientation says (turning the 1-byte gray, not the decoded RGB)."""
    try:
        turn = _TURNS.get(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception as exc:  # a malformed EXIF block must not stop a readable image: keep it as stored
        log.debug("%s: EXIF orientation ignored (%s)", label, exc)
        return gray
    if turn is None:
        return gray
    return np.asarray(Image.fromarray(gray).transpose(turn))
