"""Large photos of paper with a small handwritten digit or short number on it, from MNIST *test* digits.

The digits are redrawn as pen ink `height` px tall (`render.glyph`) and placed at a random spot of a
`shape` (default 4000x3000: 12 megapixels) picture of textured, unevenly lit, noisy paper
(`render.render`). What a phone photo of a sheet with one small number on it looks like.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitreader.data import render as draw
from digitreader.data.render import Box

SHAPE = (3000, 4000)  # (h, w): 12 megapixels


def big_photo(
    digits: np.ndarray,
    labels: np.ndarray,
    height: float,
    rng: np.random.Generator,
    *,
    shape: tuple[int, int] = SHAPE,
) -> tuple[np.ndarray, str, list[Box]]:
    """`digits` (N, 28, 28) written side by side `height` px tall on a large sheet: the picture (uint8),
    the text and each digit's ink box."""
    glyphs = [draw.crop(draw.glyph(d, height, rng)) for d in digits]
    gap = max(2, round(0.15 * height))
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1)
    tall = max(g.shape[0] for g in glyphs)
    h, w = shape
    x = int(rng.integers(w // 10, w - w // 10 - width))
    y = int(rng.integers(h // 10, h - h // 10 - tall))
    canvas = np.zeros(shape, np.float32)
    boxes = []
    for g in glyphs:
        top = y + (tall - g.shape[0]) // 2
        draw.paste(canvas, g, x, top)
        boxes.append(draw.box(g, x, top))
        x += g.shape[1] + gap
    look: dict[str, float | bool | str] = {"texture": True, "light": True, "noise": float(rng.uniform(2, 5))}
    image = draw.render(canvas, rng, look)
    if rng.random() < 0.5:  # a phone's JPEG
        ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            image = np.asarray(decoded, np.uint8)
    return image, "".join(str(int(v)) for v in labels), boxes
