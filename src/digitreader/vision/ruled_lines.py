"""Binary ink and the ruled lines in it -- printed or drawn straight lines: ruled and grid paper,
underlines -- found and removed (shared by both reading modes). Lines of writing are segmentation's."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "INK_LEVEL",
    "LOW_LEVEL",
    "binarise",
    "digit_height",
    "hysteresis",
    "ink_mask",
    "line_pixels",
    "open_rows",
    "remove_lines",
]

INK_LEVEL = 110  # stroke-core level on an ink map (stroke core = 255): about the middle of the stroke edge
LOW_LEVEL = 60  # hysteresis: fainter pixels count where they connect to pixels above INK_LEVEL
_LINE_LENGTH = 2.5  # a straight horizontal run this many digit heights long is a printed or drawn line
_VLINE_LENGTH = 1.6  # ...and a vertical one this many (a "1" is about one)


def binarise(ink: np.ndarray) -> np.ndarray:
    """Stroke-core pixels (bool) of an ink map: at or above `INK_LEVEL`."""
    return np.asarray(ink >= INK_LEVEL)


def hysteresis(low: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Components of `low` (bool) that hold at least one pixel of `seeds` (bool)."""
    n, labels = cv2.connectedComponents(low.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(low.shape, bool)
    seeded = np.zeros(n, bool)
    seeded[labels[seeds & low]] = True
    seeded[0] = False
    return seeded[labels]


def digit_height(binary: np.ndarray, *, tallest: bool = False) -> float:
    """A first estimate of the digit height: the median height of the largest components (0 if none).

    `tallest`: the height of the tallest of them instead (one-digit pictures, where the pieces of a broken
    digit must not make a short estimate).
    """
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
    return float(h[big].max() if tallest else np.median(h[big]))


def open_rows(binary: np.ndarray, length: int) -> np.ndarray:
    """`binary` (H, W) opened by a 1 x `length` line along its rows, as uint8 0/1.

    Exactly what `cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, length)))` gives (anchor at the
    centre; runs touching the picture's edge count as continuing past it), computed from the runs of each
    row: OpenCV's cost grows with `length` (a line spanning the picture cost ~1 ms per call), this one
    does not, and a picture whose rows are all too sparse for any run is answered from the row counts.
    """
    h, w = binary.shape
    out = np.zeros((h, w), np.uint8)
    a = length // 2
    # The shortest run that survives is one cut by the edge: length - a pixels at the left, a + 1 right.
    if h == 0 or w == 0 or np.count_nonzero(binary, axis=1).max() < min(length - a, a + 1, w):
        return out
    padded = np.zeros((h, w + 2), np.bool_)
    padded[:, 1:-1] = binary
    flat = padded.ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1])  # alternately a run's first pixel and one past its last
    starts, ends = edges[0::2], edges[1::2]
    row, first, stop = starts // (w + 2), starts % (w + 2), ends % (w + 2)
    # Erosion keeps x where [x - a, x - a + length) lies in the run (beyond the edge counts as ink) ...
    beyond = 1 << 40
    lo = np.maximum(np.where(first == 0, -beyond, first) + a, 0)
    hi = np.minimum(np.where(stop == w, beyond, stop) - length + a, w - 1)
    # ... and dilation with the same anchor spreads each kept x over [x + a - length + 1, x + a].
    for i in np.flatnonzero(lo <= hi):
        out[row[i], max(lo[i] + a - length + 1, 0) : min(hi[i] + a, w - 1) + 1] = 1
    return out


def _runs_mask(binary: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Pixels on straight runs at least `length` long (tolerating a slight tilt), as bool."""
    b = binary.astype(np.uint8)
    # A 3-px thickening across the run direction lets a slightly tilted thin line keep long runs.
    thick = cv2.dilate(b, np.ones((3, 1) if horizontal else (1, 3), np.uint8))
    runs = open_rows(thick, length) if horizontal else open_rows(np.ascontiguousarray(thick.T), length).T
    if not runs.any():
        return np.zeros(binary.shape, bool)
    near: np.ndarray = cv2.dilate(np.ascontiguousarray(runs), np.ones((3, 3), np.uint8))
    return (near > 0) & (b > 0)


def line_pixels(binary: np.ndarray, height: float, span: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (bool) of horizontal lines (ruled paper, underlines) and of vertical ones (grid paper):
    straight runs much longer than a digit is tall, and at least `span` of the picture's width (height)."""
    h_img, w_img = binary.shape
    horizontal = np.zeros(binary.shape, bool)
    vertical = np.zeros(binary.shape, bool)
    if height > 0:
        hl = int(max(_LINE_LENGTH * height, 20, span * w_img))
        vl = int(max(_VLINE_LENGTH * height, 20, span * h_img))
        if hl < w_img:
            horizontal = _runs_mask(binary, hl, horizontal=True)
        if vl < h_img:
            vertical = _runs_mask(binary, vl, horizontal=False)
    return horizontal, vertical


def remove_lines(binary: np.ndarray, height: float, span: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`binary` without its lines (strokes a line crossed are bridged again), and the pixels removed."""
    horizontal, vertical = line_pixels(binary, height, span)
    lines = horizontal | vertical
    if not lines.any():
        return binary, lines
    kept = binary & ~lines
    # Heal: a stroke crossing a horizontal line comes back where there is ink just above and below it (and
    # across a vertical line where there is ink left and right) -- never along the line itself.
    t = int(max(11, round(height * 0.3))) | 1  # wider than the removed band (line + 3 px each side)
    k8 = kept.astype(np.uint8)
    down = cv2.morphologyEx(k8, cv2.MORPH_CLOSE, np.ones((t, 1), np.uint8)) > 0
    across = cv2.morphologyEx(k8, cv2.MORPH_CLOSE, np.ones((1, t), np.uint8)) > 0
    healed = kept | (down & horizontal & ~vertical) | (across & vertical & ~horizontal)
    return healed, binary & ~healed


def ink_mask(ink: np.ndarray, *, single: bool = False) -> tuple[np.ndarray, float, np.ndarray]:
    """The writing's pixels in an ink map, its digit height estimate, and the line pixels removed.

    1. estimate the digit height from the stroke cores (`digit_height`), ignoring runs that span much of
       the picture (lines crossing the digits would join them into one line-like blob);
    2. take everything above `LOW_LEVEL` and drop printed lines from it (so faint ruled or grid lines
       cannot join digits);
    3. keep what connects to a stroke core (hysteresis): fainter strokes of a lighter pen stay whole
       instead of breaking into specks, and faint background marks stay out.

    `single`: the picture is one digit, so its height is the tallest component's and only lines spanning
    nearly the whole picture go (the bar of a tightly cropped 7 or 2 is not a ruled line).
    """
    cores = binarise(ink)
    h_img, w_img = cores.shape
    hspan, vspan = (0.9, 0.9) if single else (0.4, 0.6)
    provisional = cores & ~_runs_mask(cores, max(20, int(hspan * w_img)), horizontal=True)
    provisional &= ~_runs_mask(provisional, max(20, int(vspan * h_img)), horizontal=False)
    height = digit_height(provisional, tallest=single)
    low = np.asarray(ink >= LOW_LEVEL)
    cleaned, removed = remove_lines(low, height, span=0.9 if single else 0.0)
    return hysteresis(cleaned, cores), height, removed
