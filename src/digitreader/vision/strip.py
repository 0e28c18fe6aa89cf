"""A line of writing cut from an ink map as the sequence reader sees it: a strip 32 pixels high.

The same two steps make the training strips (`data.strings`) and the strips read (`vision.read_lines`), so
the reader is trained on exactly what it is later shown:

1. `line_window`: the line's ink box widened by margins proportional to its height (the reader needs to
   see where the line starts and ends, and tolerates cell borders and neighbours in the margins);
2. `cut_strip`: that window of the ink map (ink bright on 0), scaled to `contract.STRIP_HEIGHT` (32) pixels
   high keeping aspect.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitreader.contract import STRIP_HEIGHT
from digitreader.vision.candidate import Box

__all__ = ["MARGIN_X", "MARGIN_Y", "MAX_WIDTH", "cut_strip", "line_window"]


MAX_WIDTH = 2048  # a longer strip is squeezed to this width (about 60 digits)
# Margins around a line's ink, as fractions of its height: near the middle of what training drew
# (`data.strings.make_strip`); on 1,000 logbook cells (odd rows) 0.15-0.4 above and below and 0.3-0.8 at
# the sides read alike within a point and a half.
MARGIN_Y = 0.3  # above and below
MARGIN_X = 0.5  # left and right


def line_window(
    ink_box: Box, shape: tuple[int, int], margin_y: float = MARGIN_Y, margin_x: float = MARGIN_X
) -> Box:
    """The box to cut for a line whose ink spans `ink_box` (x, y, w, h), clipped to a picture of `shape`."""
    x, y, w, h = ink_box
    my, mx = int(round(margin_y * h)), int(round(margin_x * h))
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(shape[1], x + w + mx), min(shape[0], y + h + my)
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def cut_strip(ink: np.ndarray, window: Box, height: int = STRIP_HEIGHT) -> tuple[np.ndarray, float]:
    """The `window` of an ink map (uint8, ink bright) as a uint8 strip `height` high, and its x scale.

    x in the strip = (x in the ink map - window x) * scale.
    """
    x, y, w, h = window
    part = ink[y : y + h, x : x + w]
    scale = height / max(1, part.shape[0])
    width = int(np.clip(round(part.shape[1] * scale), 1, MAX_WIDTH))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    strip = cv2.resize(part, (width, height), interpolation=interp)
    return strip, width / max(1, part.shape[1])
