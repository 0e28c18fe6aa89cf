"""A PNG grid of digit images, each labelled with its true label (and the prediction, wrong ones in red).

Used by `digits data show` and by evaluation's error gallery. Pillow only. Digits are drawn as the model
sees them (ink bright on black), enlarged with nearest-neighbour so single pixels stay visible.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitreader.errors import DataError
from digitreader.files import atomic_write_bytes

PAPER = (255, 255, 255)
TEXT = (40, 40, 40)
WRONG = (220, 30, 30)
_PAD = 4  # pixels around each cell
_FONT_SIZE = 11
_TEXT_H = 14  # the label strip under each digit


def _word_gap(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
    # Pillow's built-in font draws a space 2 px wide at this size: "24 misclassified" read as one word.
    return max(float(font.getlength(" ")), 0.4 * _FONT_SIZE)


def _spaced_length(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
    words = text.split(" ")
    return sum(float(font.getlength(w)) for w in words) + _word_gap(font) * (len(words) - 1)


def _draw_spaced(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    fill: tuple[int, int, int],
) -> None:
    """`text` drawn word by word with a visible gap between words."""
    x, y = xy
    for word in text.split(" "):
        draw.text((x, y), word, fill=fill, font=font)
        x += float(font.getlength(word)) + _word_gap(font)


def save_grid(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    path: str | os.PathLike[str],
    predictions: Sequence[int] | np.ndarray | None = None,
    columns: int | None = None,
    title: str | None = None,
    scale: int = 2,
) -> Path:
    """Draw `images` ``(N, H, W)`` (uint8, or float in [0, 1]) in a grid and write it to `path` as PNG.

    Each cell shows the true label under the digit; with `predictions`, a wrong one reads "7 as 1" in red
    and its cell gets a red frame. `columns` defaults to a near-square grid (at most 16 wide). The file is
    written atomically. Returns `path`.
    """
    images = _as_uint8(np.asarray(images))
    labels = np.asarray(labels)
    n = len(images)
    if n == 0:
        raise DataError(f"{path}: no images to draw")
    if len(labels) != n or (predictions is not None and len(predictions) != n):
        raise ValueError(f"{n} images but {len(labels)} labels / predictions of another length")
    columns = max(1, min(columns or min(16, math.ceil(math.sqrt(n))), n))
    rows = math.ceil(n / columns)
    h, w = images.shape[1] * scale, images.shape[2] * scale
    cell_w, cell_h = w + 2 * _PAD, h + _TEXT_H + 2 * _PAD
    top = _TEXT_H + 2 * _PAD if title else 0

    font = ImageFont.load_default(size=_FONT_SIZE)
    width = columns * cell_w
    if title:  # widen a narrow grid so its title is not cut off
        width = max(width, math.ceil(_spaced_length(title, font)) + 2 * _PAD)
    canvas = Image.new("RGB", (width, top + rows * cell_h), PAPER)
    draw = ImageDraw.Draw(canvas)
    if title:
        _draw_spaced(draw, (_PAD, _PAD), title, font, TEXT)
    for i in range(n):
        x = (i % columns) * cell_w + _PAD
        y = top + (i // columns) * cell_h + _PAD
        digit = Image.fromarray(images[i], mode="L").resize((w, h), Image.Resampling.NEAREST)
        canvas.paste(digit.convert("RGB"), (x, y))
        text, colour = str(int(labels[i])), TEXT
        if predictions is not None and int(predictions[i]) != int(labels[i]):
            text, colour = f"{int(labels[i])} as {int(predictions[i])}", WRONG
            draw.rectangle((x - 2, y - 2, x + w + 1, y + h + 1), outline=WRONG, width=2)
        text_w = _spaced_length(text, font)
        _draw_spaced(draw, (x + (w - text_w) / 2, y + h + 1), text, font, colour)

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    out = Path(path)
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise DataError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out


def _as_uint8(images: np.ndarray) -> np.ndarray:
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W), got {images.shape}")
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating) and images.size and float(images.max()) <= 1.0:
        images = images * 255.0
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)
