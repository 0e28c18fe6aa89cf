"""Where small writing may be in a large picture: marks that stand out from the paper in the analysis copy,
and windows around them in the input's full-size pixels.

A large photo is analysed on a shrunken copy (`pipeline._ANALYSIS_PIXELS`), where a 20-40 px digit in a
12-megapixel photo becomes 7-14 px of blurred strokes: the ink map then stretches the paper's grain to
ink, or keeps nothing. The strokes still stand out from their surroundings: a black-hat (white top-hat
for light ink) a little wider than a shrunken stroke keeps thin dark marks and drops the paper's slow
changes. Its strongest marks, grouped into words, are the places to read again at full size.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitreader.vision.candidate import Box
from digitreader.vision.quantiles import percentiles_u8

__all__ = ["MAX_SPOTS", "SMALL_SPOT", "full_size_windows", "ink_spots"]


_HAT = 11  # analysis pixels: wider than a stroke of small writing there, narrower than lighting changes
_NOISE_SPREAD = 6.0  # a mark stands out by this many times the spread (median to 90th percentile) of paper
_LEAST_CONTRAST = 24  # ...and by at least this many grey levels
_JOIN = (9, 5)  # (w, h) analysis pixels: strokes of a digit and digits of a number join into one spot
_WEAK = 0.1  # spots with less than this share of the strongest spot's contrast are grain
MAX_SPOTS = 8  # more spots than this is a page of writing, not a small number on a large sheet
# Spots taller than this (analysis pixels) are large writing, which the analysis copy reads well (or the
# edges of strokes too thick for the hat): no reason to look closer.
SMALL_SPOT = 40
_PAD = 1.0  # a window reaches this many spot heights beyond the spot (paper for the ink map to measure)
_LEAST_PAD = 16  # full-size pixels


def ink_spots(small: np.ndarray, dark: bool) -> list[Box]:
    """Spots (x, y, w, h in `small`'s pixels) where marks stand out from the paper, strongest first;
    [] when none do. At most `MAX_SPOTS` + 1: more than `MAX_SPOTS` says the picture holds much writing
    (or noise), and listing thousands would cost more than the rest of the look."""
    kernel = np.ones((_HAT, _HAT), np.uint8)
    hat = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT if dark else cv2.MORPH_TOPHAT, kernel)
    p50, p90 = percentiles_u8(hat, [50, 90])
    level = max(p50 + _NOISE_SPREAD * (p90 - p50), _LEAST_CONTRAST)
    marks = (hat > level).astype(np.uint8)
    if not marks.any():
        return []
    joined = cv2.dilate(marks, np.ones((_JOIN[1], _JOIN[0]), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    weight = np.bincount(labels[marks > 0], weights=hat[marks > 0].astype(np.float64), minlength=n)[1:]
    strong = np.flatnonzero(weight >= _WEAK * weight.max())
    order = strong[np.argsort(-weight[strong], kind="stable")][: MAX_SPOTS + 1]
    return [tuple(int(v) for v in stats[1 + i, :4]) for i in order]  # type: ignore[misc]


def _merged(boxes: list[Box]) -> list[Box]:
    """Overlapping boxes joined until none overlap (order of first appearance kept)."""
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]:
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    out[i] = (x0, y0, x1 - x0, y1 - y0)
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return out


def full_size_windows(spots: list[Box], scale: float, shape: tuple[int, int], max_pixels: int) -> list[Box]:
    """Windows (x, y, w, h in the input's pixels, `shape` (h, w)) around spots found on a copy shrunk by
    `scale`, with paper around them; [] when there are more than `MAX_SPOTS` spots, one is taller than
    `SMALL_SPOT` or the windows would hold more than `max_pixels` (then the writing is not small, and the
    analysis copy is the place to read it)."""
    if len(spots) > MAX_SPOTS or any(h > SMALL_SPOT for _, _, _, h in spots):
        return []
    h_img, w_img = shape
    boxes = []
    for x, y, w, h in spots:
        pad = max(_LEAST_PAD, round(_PAD * h / scale))
        x0, y0 = max(0, int(x / scale) - pad), max(0, int(y / scale) - pad)
        x1, y1 = (
            min(w_img, int(np.ceil((x + w) / scale)) + pad),
            min(h_img, int(np.ceil((y + h) / scale)) + pad),
        )
        boxes.append((x0, y0, x1 - x0, y1 - y0))
    windows = _merged(boxes)
    if sum(w * h for _, _, w, h in windows) > max_pixels:
        return []
    return windows
