"""Draw a `Reading` onto its image: a box per digit, its label and confidence (`digits read --show`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitreader.errors import DigitreaderError
from digitreader.files import atomic_file
from digitreader.reading import Reading

CONFIDENT = 0.9  # boxes at or above this confidence are green, below it orange (worth a second look)
_GREEN, _ORANGE = (0, 170, 60), (235, 120, 0)


def annotate(gray: np.ndarray, reading: Reading) -> Image.Image:
    """An RGB copy of `gray` with each digit's box, label and confidence drawn on it."""
    image = Image.fromarray(gray).convert("RGB")
    draw = ImageDraw.Draw(image)
    side = min(image.size)
    width = max(1, round(side / 200))
    for digit in reading.digits:
        x, y, w, h = digit.box
        colour = _GREEN if digit.confidence >= CONFIDENT else _ORANGE
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=colour, width=width)
        font = ImageFont.load_default(size=max(10, min(h // 3, side // 12)))
        label = f"{digit.label} {digit.confidence:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = y - (bottom - top) - 2 * width if y - (bottom - top) - 2 * width >= 0 else y + h + width
        draw.rectangle((x, ty, x + right - left + 2 * width, ty + bottom - top + 2 * width), fill=colour)
        draw.text((x + width - left, ty + width - top), label, fill=(255, 255, 255), font=font)
    return image


def save_annotated(gray: np.ndarray, reading: Reading, out: str | os.PathLike[str]) -> Path:
    """Write the annotated image to `out` atomically (format from its suffix: .png, .jpg, ...)."""
    path = Path(out)
    image = annotate(gray, reading)
    if not path.parent.is_dir():
        raise DigitreaderError(f"{path}: cannot write the annotated image (no folder {path.parent})")
    if Image.registered_extensions().get(path.suffix.lower()) is None:
        raise DigitreaderError(f"{path}: unknown image format {path.suffix!r} (use .png or .jpg)")
    try:
        with atomic_file(path, suffix=path.suffix) as f:
            image.save(f, format=Image.registered_extensions()[path.suffix.lower()])
    except (OSError, ValueError, KeyError) as exc:
        raise DigitreaderError(f"{path}: cannot write the annotated image ({exc})") from None
    return path
