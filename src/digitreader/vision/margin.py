"""A margin of paper around a one-digit picture whose digit reaches its border (a tight crop).

The ink map assumes paper around the writing: its background opening copies the picture's edges outward
(a stroke reaching a corner, or a bar along an edge, becomes a block there and is taken for background),
its noise floor assumes at least 30 % of paper, and a stroke spanning the picture looks like a ruled
line. A digit cut tightly from a form, or drawn edge to edge on a canvas, breaks all three; inside a
margin of paper it reads as the same digit with a margin does.

The margin is plain paper, so it suits evenly lit pictures only: beside a shadow reaching the edge it
would turn the shadow into ink. `evenly_lit` tells them apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitreader.vision.candidate import Box

__all__ = ["MARGIN", "evenly_lit", "inside", "touches_border", "with_margin"]


MARGIN = 0.25  # of the picture's longer side, on each side: MNIST's 20 px digit has 4 px of 28 around it
_PAPER_PERCENTILE = 10  # paper: this percentile of the ink-bright picture (ink may cover most of it)
_INK_PERCENTILE = 99  # the stroke core
# Pixels between paper and ink (from a quarter to three quarters of the way) that fill a square this
# fraction of the shorter side are lighting (a shadow's plateau), not a stroke's anti-aliased rim.
_MID_LOW, _MID_HIGH = 0.25, 0.75
_PLATEAU = 0.25
_MIN_CONTRAST = 26  # grey levels between paper and ink (the ink map's least stroke contrast, 10 %)


def touches_border(box: Box, shape: tuple[int, int]) -> bool:
    """Whether a box (x, y, w, h) reaches the edge of a picture of `shape` (h, w)."""
    x, y, w, h = box
    return x <= 0 or y <= 0 or x + w >= shape[1] or y + h >= shape[0]


def _bright(gray: np.ndarray, dark: bool) -> np.ndarray:
    return (255 - gray) if dark else gray


def evenly_lit(gray: np.ndarray, dark: bool) -> bool:
    """Whether a picture is ink on paper of one level: some contrast (a blank sheet has none to find),
    and no plateau of half-dark pixels wider than a stroke (a shadow)."""
    bright = _bright(gray, dark)
    paper, ink = (float(v) for v in np.percentile(bright, [_PAPER_PERCENTILE, _INK_PERCENTILE]))
    if ink - paper < _MIN_CONTRAST:
        return False
    span = ink - paper
    mid = ((bright > paper + _MID_LOW * span) & (bright < paper + _MID_HIGH * span)).astype(np.uint8)
    side = max(3, round(_PLATEAU * min(gray.shape)))
    return not cv2.erode(mid, np.ones((side, side), np.uint8)).any()


def with_margin(gray: np.ndarray, dark: bool) -> tuple[np.ndarray, int]:
    """`gray` inside a margin of its paper's level, and the margin's width."""
    margin = max(2, round(MARGIN * max(gray.shape)))
    level = float(np.percentile(gray, 100 - _PAPER_PERCENTILE if dark else _PAPER_PERCENTILE))
    padded = cv2.copyMakeBorder(gray, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=level)
    return padded, margin


def inside(box: Box, margin: int, shape: tuple[int, int]) -> Box:
    """A box found in the padded picture -> the same box in the picture (clipped to it)."""
    x, y, w, h = box
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(shape[1], x + w - margin), min(shape[0], y + h - margin)
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
