"""Any image input -> a grayscale uint8 array (the one door every image comes through).

`load_image` accepts a path, the bytes of a file, a PIL image or a numpy array, and returns an `(H, W)`
uint8 array in the image's own orientation and polarity (ink is not inverted here: preprocess does that).

Steps, in order:
1. open lazily and read only the header; refuse images over `max_pixels` before decoding (bombs);
2. decode the first frame (GIF, TIFF pages, ...); truncated or broken data is refused;
3. apply the EXIF orientation (phone photos);
4. composite transparency onto white (a drawing on a transparent canvas reads as ink on paper);
5. convert any mode (1, L, P, RGB, CMYK, LA, I;16, I, F, ...) to 8-bit luma, scaling 16-bit and float ranges.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitreader.errors import ImageError, ImageTooLargeError, NotAnImageError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 50_000_000  # 50 MP: above any phone photo, far below what would exhaust memory
MIN_SIDE = 4  # pixels; anything smaller cannot hold a legible digit

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | np.ndarray

# ITU-R 601-2 luma, the weights Pillow's convert("L") uses, so arrays and files give the same gray.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def load_image(source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Return `source` as a C-contiguous grayscale `uint8` array of shape `(H, W)`.

    `source` is a path (str or `os.PathLike`), the bytes of an image file, a PIL image, or a numpy array
    (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA of dtype bool, uint8, uint16, other ints or float
    (floats in [0, 1] are scaled to 255). `name` labels the source in error messages (default: the path, or a
    description of the object). Raises `ImageTooLargeError` over `max_pixels`, `ImageError` for anything
    else that cannot be read; each message is one line naming the source and the reason.
    """
    if isinstance(source, np.ndarray):
        label = name or f"<array {source.shape} {source.dtype}>"
        gray = _array_to_gray(source, label)
    elif isinstance(source, Image.Image):
        label = name or f"<PIL image {source.mode} {source.width}x{source.height}>"
        _check_size(source.width, source.height, max_pixels, label)
        gray = _pil_to_gray(source, label)
    elif isinstance(source, bytes | bytearray | memoryview):
        label = name or f"<{len(source)} bytes>"
        if len(source) == 0:
            raise NotAnImageError(f"{label}: empty data, not an image")
        gray = _decode(io.BytesIO(bytes(source)), label, max_pixels)
    elif isinstance(source, str | os.PathLike):
        path = Path(os.fspath(source)).expanduser()
        label = name or str(source)
        _check_path(path, label)
        try:
            with open(path, "rb") as f:
                gray = _decode(f, label, max_pixels)
        except OSError as exc:  # permission denied and the like (decode errors are already ImageError)
            raise ImageError(f"{label}: cannot open ({exc.strerror or exc})") from None
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


def _decode(stream: Any, label: str, max_pixels: int) -> np.ndarray:
    """Open the header, check the size, then decode: the order that keeps bombs out."""
    try:
        im = Image.open(stream)
    except Image.DecompressionBombError:
        # Pillow's own guard (2 x MAX_IMAGE_PIXELS) fired while reading the header: same answer as ours.
        raise ImageTooLargeError(
            f"{label}: image too large (refused before decoding; the limit is {max_pixels:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{label}: not an image (unknown or unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError(f"{label}: not a readable image ({_one_line(exc)})") from None
    with im:
        _check_size(im.width, im.height, max_pixels, label)
        try:
            im.load()  # decodes the first frame only
        except Image.DecompressionBombError:
            raise ImageTooLargeError(
                f"{label}: image too large (the limit is {max_pixels:,} pixels)"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(f"{label}: damaged or truncated image ({_one_line(exc)})") from None
        return _pil_to_gray(im, label)


def _pil_to_gray(im: Image.Image, label: str) -> np.ndarray:
    try:
        im = ImageOps.exif_transpose(im) or im
    except Exception as exc:  # a malformed EXIF block must not stop a readable image: keep it as stored
        log.debug("%s: EXIF orientation ignored (%s)", label, exc)
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _array_to_gray(np.asarray(im), label)
    if mode in ("P", "PA") or (mode in ("L", "RGB") and "transparency" in im.info):
        im = im.convert("RGBA")  # palette or colour-key transparency -> a real alpha channel
        mode = im.mode
    if mode in ("RGBa", "La"):  # premultiplied alpha: undo it first
        im = im.convert("RGBA")
        mode = im.mode
    if mode in ("RGBA", "LA"):
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im.convert("RGBA"))
    try:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1, ...
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise ImageError(f"{label}: unsupported image mode {mode} ({_one_line(exc)})") from None


def _array_to_gray(arr: np.ndarray, label: str) -> np.ndarray:
    """A numpy image (gray, RGB or RGBA; any numeric dtype) -> uint8 gray, alpha composited onto white."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"{label}: unsupported array shape {arr.shape} (expected HxW, HxWx3 or HxWx4)")
    if arr.size == 0:
        raise ImageError(f"{label}: empty array, not an image")
    if arr.ndim == 2 and arr.dtype == np.uint8:
        # Already gray bytes (the server decodes before it reads): a copy, never the caller's own array.
        return arr.copy()
    values = _to_unit_range(arr, label)  # float32 in [0, 1]
    if values.ndim == 3:
        if values.shape[2] == 4:
            alpha = values[:, :, 3:4]
            values = values[:, :, :3] * alpha + (1.0 - alpha)  # onto white
        values = values @ _LUMA
    gray = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    return gray  # load_image checks its size


def _to_unit_range(arr: np.ndarray, label: str) -> np.ndarray:
    """Scale by what the dtype (or, for wide ints, the values) says the full range is."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.integer):
        # Pillow's "I" mode (int32) holds 16-bit PNGs in some versions: judge the range by the values.
        top = int(arr.max()) if arr.size else 0
        if int(arr.min()) < 0:
            raise ImageError(f"{label}: negative pixel values in an integer image")
        scale = 255.0 if top <= 255 else 65535.0 if top <= 65535 else float(top)
        return (arr.astype(np.float32) / scale).astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        values = arr.astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise ImageError(f"{label}: NaN or infinite pixel values")
        peak = float(values.max())
        # Floats in [0, 1] are the usual convention; anything larger is taken as 0..255.
        return np.clip(values if peak <= 1.0 else values / 255.0, 0.0, 1.0)
    raise ImageError(f"{label}: unsupported array dtype {arr.dtype}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
