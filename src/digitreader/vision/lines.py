"""Binary ink and the printed lines in it: ruled and grid paper, underlines (shared by both reading modes)."""

from __future__ import annotations

import cv2
import numpy as np

INK_LEVEL = 110  # binarisation level on an ink map (stroke core = 255): about the middle of the stroke edge
_LINE_LENGTH = 2.5  # a straight horizontal run this many digit heights long is a printed or drawn line
_VLINE_LENGTH = 1.6  # ...and a vertical one this many (a "1" is about one)


def binarise(ink: np.ndarray) -> np.ndarray:
    """Ink pixels (bool) of an ink map."""
    return np.asarray(ink >= INK_LEVEL)


def digit_height(binary: np.ndarray) -> float:
    """A first estimate of the digit height: the median height of the largest components (0 if none)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    h_img, w_img = binary.shape
    s = stats[1:]
    w, h, area = s[:, cv2.CC_STAT_WIDTH], s[:, cv2.CC_STAT_HEIGHT], s[:, cv2.CC_STAT_AREA]
    # Not line-like (ruled lines, grid meshes and page edges span most of the picture).
    ok = (w < 0.6 * w_img) & (h < 0.9 * h_img) & (w < 6 * h)
    if not ok.any():
        ok = np.ones_like(ok)
    big = ok & (area >= 0.3 * area[ok].max())
    return float(np.median(h[big]))


def _runs_mask(binary: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Pixels on straight runs at least `length` long (tolerating a slight tilt), as uint8 0/1."""
    b = binary.astype(np.uint8)
    # A 3-px thickening across the run direction lets a slightly tilted thin line keep long runs.
    across = np.ones((3, 1) if horizontal else (1, 3), np.uint8)
    along = np.ones((1, length) if horizontal else (length, 1), np.uint8)
    runs = cv2.morphologyEx(cv2.dilate(b, across), cv2.MORPH_OPEN, along)
    near: np.ndarray = cv2.dilate(runs, np.ones((3, 3), np.uint8))
    return (near > 0) & (b > 0)


def line_pixels(binary: np.ndarray, height: float) -> np.ndarray:
    """Pixels (bool) of ruled, grid and underline lines: straight runs much longer than a digit is tall."""
    h_img, w_img = binary.shape
    lines = np.zeros(binary.shape, bool)
    if height <= 0:
        return lines
    hl = int(max(_LINE_LENGTH * height, 20))
    vl = int(max(_VLINE_LENGTH * height, 20))
    if hl < w_img:
        lines |= _runs_mask(binary, hl, horizontal=True)
    if vl < h_img:
        lines |= _runs_mask(binary, vl, horizontal=False)
    return lines


def remove_lines(binary: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
    """`binary` without its lines (strokes a line crossed are bridged again), and the pixels removed."""
    lines = line_pixels(binary, height)
    if not lines.any():
        return binary, lines
    kept = binary & ~lines
    # Heal: where a line crossed a stroke, line pixels with ink just above and below (or beside) come back.
    t = int(max(3, round(height * 0.12))) | 1
    k8 = kept.astype(np.uint8)
    down = cv2.morphologyEx(k8, cv2.MORPH_CLOSE, np.ones((t, 1), np.uint8)) > 0
    across = cv2.morphologyEx(k8, cv2.MORPH_CLOSE, np.ones((1, t), np.uint8)) > 0
    healed = kept | ((down | across) & lines)
    return healed, binary & ~healed
