"""Normalise a grayscale picture into an ink map, and frame one digit the way MNIST did.

The steps, in order:

1. `ink_map(gray)`: decide polarity (dark ink on light paper, or light ink on a dark board), estimate the
   background with a morphological opening on a downscaled copy (so shadows and uneven lighting follow it),
   express each pixel as its contrast relative to the local background (division, so a shadowed stroke is as
   strong as a lit one), then cut the noise floor (JPEG noise, faint grey paper) and stretch the stroke
   core to 255. Anti-aliased edges stay grey. A picture without ink gives an all-zero map.
2. `prepare_digit(ink_crop)`: MNIST framing of one digit's ink: ink box scaled to 20 px keeping aspect
   (anti-aliased), centre of mass moved to the centre of 28x28; stroke width normalised on request.
3. `prepare_single_digit(gray)`: "the whole picture is one digit": ink map, drop lines spanning the picture,
   keep the digit's components (drop specks and border junk), crop, prepare. None when there is no digit.
   The one way to frame a picture's one digit without a classifier (datasets are built with it); reading
   a picture as one digit -- polarity checked both ways, neighbours' fragments, a box -- is
   `pipeline.locate(gray, "digit", classify)`, which builds on `single_digit_candidates`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from digitreader.contract import IMAGE_SIZE, INK_BOX
from digitreader.vision.quantiles import UNIT_STEPS, SortedCounts, percentiles_u8, unit_codes
from digitreader.vision.ruled_lines import ink_mask

__all__ = [
    "PIECE_LEVEL",
    "InkStats",
    "downscale",
    "ink_contrast",
    "ink_is_dark",
    "ink_map",
    "polarity_vote",
    "prepare_digit",
    "prepare_single_digit",
    "single_digit_candidates",
    "stroke_width",
]

log = logging.getLogger(__name__)

# Ink map: contrast is measured relative to the local background, in [0, 1].
_MIN_CONTRAST = 0.10  # the stroke core must be at least this much darker/brighter than the paper, else blank
_NOISE_SIGMAS = 5.0  # noise floor = the paper's median contrast + this many standard deviations
_FLOOR_OF_CORE = 0.18  # ...and at least this fraction of the stroke core level (faint grey patterns)
_EDGE_VOTE_WEIGHT = 0.75  # weight of the border's polarity vote against the local one
_ANALYSIS_SIDE = 160  # background is estimated on a copy no larger than this (speed; lighting is smooth)

# Stroke width in 28x28 pixels, measured as 2*area/perimeter of the ink > 127. On MNIST's test digits:
# median 2.25, 2nd percentile 1.34, 99th 4.25 -- outside that range a stroke is normalised to the median.
PIECE_LEVEL = 48  # one-digit pictures: components are taken at this ink level (faint links count)
_MIN_PIECE = 0.03  # ...and pieces near the main one are kept down to this fraction of its area
_TARGET_STROKE = 2.3
_THIN_STROKE = 1.3  # thinner than this after scaling: thicken
_THICK_STROKE = 4.3  # thicker than this after scaling: thin


# ---------------------------------------------------------------------------------------------- ink map


def _as_gray(gray: np.ndarray) -> np.ndarray:
    if gray.ndim == 3:
        # Tolerated for convenience; load_image already returns grayscale.
        gray = cv2.cvtColor(np.ascontiguousarray(gray[..., :3]), cv2.COLOR_RGB2GRAY)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {gray.shape}")
    if gray.dtype != np.uint8:
        gray = np.clip(gray, 0, 255).astype(np.uint8)
    return gray


def downscale(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """`img` shrunk (INTER_AREA) so its longer side is at most `max_side`, and the factor used (<= 1)."""
    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return img, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), scale


def _opening(small: np.ndarray) -> np.ndarray:
    """Morphological opening of a (downscaled) image with a square wider than its strokes."""
    # Wider than any stroke even when one thick digit fills the frame: a narrower square fits inside a
    # marker stroke and takes it for background, leaving a hollow outline (a thick "1" read as "0"). Half
    # the short side did that to 1 in 100 single digits (tuning seeds 1-4, 5,200 pictures: 60 misread ->
    # 49 with the short side; up to 3x the short side gives the same, numbers unchanged).
    k = max(5, int(round(min(min(small.shape), max(small.shape) / 2))) | 1)
    kernel = np.ones((k, k), np.uint8)  # square: OpenCV runs it as two fast 1-D passes
    # Replicated edges: a lighting ramp that rises to the border must not look like a ridge of ink there.
    # The same as padding by k and cropping, at about 2/3 of the cost: the dilation needs the erosion only
    # k/2 beyond the picture, and there the erosion's window beyond a k/2 padding sees only more copies of
    # the edge (a test compares the two).
    r = k // 2
    padded = cv2.copyMakeBorder(small, r, r, r, r, cv2.BORDER_REPLICATE)
    opened: np.ndarray = cv2.morphologyEx(padded, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    return opened[r:-r, r:-r]


def _median_u8(values: np.ndarray) -> float:
    """`np.median` of uint8 values (the mean of the middle two where they are even in number), exactly."""
    ordered = np.sort(values, axis=None)
    middle = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[middle])
    return (int(ordered[middle - 1]) + int(ordered[middle])) / 2


def _large_median_u8(small: np.ndarray) -> np.ndarray:
    """Median filter (uint8) over a window half the picture's short side: the paper level around each
    pixel. Taken on a half-size copy and interpolated back: the window is wide, so its median is smooth,
    and the filter's cost (~1 ms at 160 px) falls by four."""
    h, w = small.shape
    half = small
    if min(h, w) >= 32:
        half = cv2.resize(small, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    k = min(255, max(3, int(min(half.shape) * 0.5) | 1))
    pad = k // 2
    padded = cv2.copyMakeBorder(half, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    median = cv2.medianBlur(padded, k)[pad:-pad, pad:-pad]
    if half is not small:
        median = cv2.resize(median, (w, h), interpolation=cv2.INTER_LINEAR)
    return median


def _dark_ink_votes(small: np.ndarray) -> tuple[float, float]:
    """Two polarity scores in [-1, 1] (> 0: dark ink): a local one and one from the picture's border.

    Local: mass of pixels darker vs brighter than a large median filter (robust to shadows, fooled where
    ink covers half of a window). Border: how far the darkest and brightest pixels reach from the border's
    median level (paper is usually at the edge; fooled by a shadow across the border).
    """
    # In whole numbers: both terms are uint8 levels, and every partial sum stays below 2**24, so float32
    # would give these sums exactly too (the ints only save the conversions).
    diff = small.astype(np.int32) - _large_median_u8(small)
    darker = float(np.maximum(-diff - 8, 0).sum())
    brighter = float(np.maximum(diff - 8, 0).sum())
    local = (darker - brighter) / (darker + brighter + 1e-6)
    level = _median_u8(np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]]))
    lo, hi = percentiles_u8(small, [0.5, 99.5])
    edge = ((level - lo) - (hi - level)) / max(float(hi - lo), 1.0)
    return local, edge


def _vote(small: np.ndarray) -> float:
    local, edge = _dark_ink_votes(small)
    # Weighted sum of the votes (tuned on synth seed 0 and MNIST: 3 wrong of 4,400 pictures, against 18 and
    # 39 for either vote alone).
    return local + _EDGE_VOTE_WEIGHT * edge


def polarity_vote(gray: np.ndarray) -> float:
    """How surely the ink is dark: > 0 dark ink on light paper, < 0 light ink on a dark ground.

    Near 0 the picture is ambiguous; in practice a hard-edged shadow across the sheet (its lit part looks
    like light ink on a dark ground) or a thick digit filling the frame.
    """
    return _vote(downscale(_as_gray(gray), _ANALYSIS_SIDE)[0])


def _polarity_and_background(gray: np.ndarray, dark: bool | None) -> tuple[bool, np.ndarray]:
    """Whether the ink is dark (`dark`, or voted when None), and the background level of the ink-bright
    image at full size."""
    h, w = gray.shape
    small, scale = downscale(gray, _ANALYSIS_SIDE)
    is_dark = _vote(small) > 0 if dark is None else dark
    # The opening on uint8 (the values are whole numbers either way): OpenCV's 8-bit morphology is ~4x faster.
    x = cv2.bitwise_not(small) if is_dark else small
    sigma = max(1.0, max(small.shape) / 24.0)
    bg = cv2.GaussianBlur(_opening(x).astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    if scale < 1.0:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    return is_dark, bg


def ink_is_dark(gray: np.ndarray) -> bool:
    """True for ink darker than its background (pen on paper), False for light ink on a dark ground."""
    return polarity_vote(gray) > 0


@dataclass(frozen=True)
class InkStats:
    """What `ink_contrast` measured: the stroke-core contrast and the noise floor (both in [0, 1])."""

    core: float
    floor: float
    dark_ink: bool


def ink_contrast(gray: np.ndarray, dark: bool | None = None) -> tuple[np.ndarray, InkStats]:
    """Contrast of each pixel against the local background, in [0, 1], ink bright; plus its statistics.

    `dark` says whether the ink is darker than the paper; None lets `polarity_vote` decide.
    """
    gray = _as_gray(gray)
    dark, bg = _polarity_and_background(gray, dark)
    xf = (255 - gray if dark else gray).astype(np.float32)
    # Division: contrast relative to the headroom the background leaves (shadows scale ink and paper alike).
    contrast = np.clip((xf - bg) / np.maximum(255.0 - bg, 64.0), 0.0, 1.0)

    # Statistics on a strided sample: pixel values kept as they are (an area-average would dilute strokes).
    step = max(1, int(np.ceil(np.sqrt(contrast.size / 65536))))
    sample = contrast[::step, ::step]
    # Noise from the lower quantiles (paper is at least 30 % of any picture, even a fat digit filling it).
    counts = SortedCounts.of(unit_codes(sample), UNIT_STEPS + 1)
    q10, q30, q999 = (v / UNIT_STEPS for v in counts.percentiles([10, 30, 99.9]))
    sigma = (q30 - q10) / 0.76  # the 10th and 30th percentiles of a normal are 0.76 sigma apart
    noise_floor = q30 + 0.52 * sigma + _NOISE_SIGMAS * sigma + 0.02
    # The stroke core: the plateau of the strongest marks. Only pixels above half the robust maximum count,
    # so a pale printed pattern (ruled lines, cheque guilloche) covering much of the page does not set it.
    strong = max(noise_floor, 0.5 * q999)
    above = counts.above(int(strong * UNIT_STEPS))
    if above.size < 4:
        return contrast, InkStats(core=0.0, floor=noise_floor, dark_ink=dark)
    core = above.percentiles([90])[0] / UNIT_STEPS
    floor = max(noise_floor, _FLOOR_OF_CORE * core)
    return contrast, InkStats(core=core, floor=floor, dark_ink=dark)


def ink_map(gray: np.ndarray, dark: bool | None = None) -> np.ndarray:
    """The ink of a grayscale picture as a uint8 map: ink bright (stroke core 255) on a 0 background.

    Handles both polarities (`dark`: whether the ink is darker than the paper; None: voted), uneven
    lighting and shadows, faint grey backgrounds and JPEG noise; keeps anti-aliased edges. A picture
    without ink (blank page, flat colour) gives an all-zero map.
    """
    contrast, stats = ink_contrast(gray, dark)
    if stats.core < _MIN_CONTRAST or stats.core <= stats.floor:
        log.debug("no ink: core contrast %.3f, floor %.3f", stats.core, stats.floor)
        return np.zeros(contrast.shape, np.uint8)
    out = (contrast - stats.floor) * (255.0 / (stats.core - stats.floor))
    return np.clip(out, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------- framing


def stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width of a binary ink mask, in its own pixels (2 * area / perimeter; 0 if empty)."""
    area = float(np.count_nonzero(binary))
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / max(perimeter, 1.0)


def _ink_box(ink: np.ndarray, threshold: int) -> tuple[int, int, int, int] | None:
    x, y, w, h = cv2.boundingRect((ink > threshold).astype(np.uint8))
    return None if w == 0 else (int(x), int(y), int(w), int(h))


def _normalise_stroke(crop: np.ndarray, scale: float) -> np.ndarray:
    """Thicken very thin (or thin very thick) strokes so that, scaled by `scale`, they look like MNIST's."""
    binary = crop > 127
    if scale < 0.5:
        # Large crops: fill pinholes first (chalk, rough paper) that would count as perimeter and make the
        # stroke look thin. Small crops keep their real gaps (a closing would fill the loop of a 9).
        binary = cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    width = stroke_width(binary) * scale
    if width <= 0 or _THIN_STROKE <= width <= _THICK_STROKE:
        return crop
    # Kernel side in crop pixels that moves the width (in 28x28 units) to the target.
    k = int(round(abs(_TARGET_STROKE - width) / scale))
    if k < 1:
        return crop
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1))
    if width < _THIN_STROKE:
        return cv2.dilate(crop, kernel)
    thinned = cv2.erode(crop, kernel)
    # Never erode a digit away (a thick blob with holes is better than nothing).
    return thinned if np.count_nonzero(thinned > 127) > 0.25 * np.count_nonzero(binary) else crop


def prepare_digit(ink_crop: np.ndarray, *, normalise_stroke: bool = False) -> np.ndarray:
    """One digit's ink (bright on 0, any size) -> (28, 28) uint8 the MNIST way.

    The ink box is scaled so its longer side is 20 px, keeping aspect (INTER_AREA when shrinking), and placed
    so that its centre of mass is at the centre of the 28x28 image. An empty crop gives an all-zero image.

    `normalise_stroke` first thickens hairlines and thins marker strokes towards MNIST's width. Off by
    default: measured with the bundled model it did not help (synth thin pen / thick marker / mixed, 600
    pictures: 98.0 % with it, 98.2 % without; MNIST test through `prepare_single_digit`: 99.56 % with,
    99.59 % without).
    """
    ink = np.asarray(ink_crop)
    if ink.dtype != np.uint8:
        ink = np.clip(ink * (255.0 if ink.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    box = _ink_box(ink, 0)
    if box is None:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    x, y, w, h = box
    crop = ink[y : y + h, x : x + w]
    scale = INK_BOX / max(w, h)
    if normalise_stroke:
        # Pad first so thickening has room; the box is re-measured afterwards.
        pad = int(np.ceil(2.0 / scale)) + 1
        crop = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        crop = _normalise_stroke(crop, scale)
        box = _ink_box(crop, 0)
        assert box is not None
        x, y, w, h = box
        crop = crop[y : y + h, x : x + w]
        scale = INK_BOX / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp).astype(np.float32)
    peak = float(small.max())
    if peak <= 0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    # Thin strokes shrunk a lot lose their peak; bring the core back to full ink like MNIST's.
    small *= 255.0 / peak
    total = float(small.sum())
    cy = float(small.sum(axis=1) @ np.arange(nh, dtype=np.float32)) / total
    cx = float(small.sum(axis=0) @ np.arange(nw, dtype=np.float32)) / total
    # Whole-pixel shift putting the centre of mass at (14, 14), where MNIST has it (measured on its test set:
    # mean 13.98, 14.01); a sub-pixel shift would blur the strokes.
    dx, dy = int(round(IMAGE_SIZE / 2 - cx)), int(round(IMAGE_SIZE / 2 - cy))
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    # Paste with clipping (a very lopsided digit may push part of its box off the canvas, as in MNIST).
    ox0, oy0 = max(0, dx), max(0, dy)
    ox1, oy1 = min(IMAGE_SIZE, dx + nw), min(IMAGE_SIZE, dy + nh)
    if ox1 > ox0 and oy1 > oy0:
        out[oy0:oy1, ox0:ox1] = small[oy0 - dy : oy1 - dy, ox0 - dx : ox1 - dx]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ one digit


def _digit_mask(ink: np.ndarray) -> np.ndarray | None:
    """The components of an ink map that make up the one digit it holds (bool mask), or None if none.

    Keeps the largest component and those that are large enough and near it (a 5's flag, a broken 4); drops
    specks and junk hugging the border (paper edges, the table behind the sheet).
    """
    # A low level: faint bridges keep a digit's pieces together (a 5's flag, the top of a 9)
    binary = (ink >= PIECE_LEVEL).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return None
    h, w = ink.shape
    if n == 2:
        # One component: what the rules below come to then (it is kept as the main piece, even as a strip
        # along the border, when it is large enough), without their arrays.
        return binary.astype(bool) if stats[1, cv2.CC_STAT_AREA] >= max(6.0, 1e-4 * h * w) else None
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    x, y, bw, bh = (stats[1:, i] for i in range(4))
    # Border junk: a strip running along the edge it touches (the table beside the sheet, a scanner edge). A
    # tightly cropped "1" touches top and bottom but runs across them, so it stays.
    along_side = ((x == 0) | (x + bw == w)) & (bh > 0.9 * h) & (bw < 0.2 * w)
    along_top = ((y == 0) | (y + bh == h)) & (bw > 0.9 * w) & (bh < 0.2 * h)
    keep = ~(along_side | along_top)
    if not keep.any() or areas[keep].max() < 0.3 * areas.max():
        keep[:] = True  # the "strip" is the digit itself (a tightly cropped 1)
    main = int(np.argmax(np.where(keep, areas, -1)))
    if areas[main] < max(6.0, 1e-4 * h * w):
        return None
    mx, my, mw, mh = x[main], y[main], bw[main], bh[main]
    size = max(mw, mh)
    gap = np.maximum(
        np.maximum(0, np.maximum(x, mx) - np.minimum(x + bw, mx + mw)),
        np.maximum(0, np.maximum(y, my) - np.minimum(y + bh, my + mh)),
    )
    # Sizeable pieces may sit a little apart (a 5's flag); small ones must nearly touch (not a speck).
    reach = np.where(areas >= 0.1 * areas[main], 0.5, 0.1) * size + 1
    chosen = keep & (areas >= _MIN_PIECE * areas[main]) & (gap <= reach)
    chosen[main] = True
    wanted = np.concatenate([[False], chosen])
    return wanted[labels]


def single_digit_candidates(
    ink: np.ndarray, *, alternatives: bool = True
) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Readings of an ink map that holds one digit: (prepared 28x28, ink box in the map's pixels) each.

    The first has the printed lines that span the picture removed (ruled paper, an underline). When such a
    line touched the digit, a second keeps it: in a tight crop a digit's own stroke can span the picture
    too (the bar of a 7, the stem of a 4), and only the classifier can tell which reading is a digit
    (`alternatives=False`: the first only, for callers without one). Empty when there is no digit.
    """
    binary, _, removed = ink_mask(ink, single=True)
    # A "line" holding most of the ink is the digit itself (a tall 1 filling a tight crop).
    if not removed.any() or np.count_nonzero(removed) >= 0.5 * np.count_nonzero(binary | removed):
        found = _digit_of(ink)
        return [] if found is None else [found]
    grown = cv2.dilate(removed.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    erased = _digit_of(np.where(grown, 0, ink))
    if erased is not None and not alternatives:
        return [erased]
    kept = _digit_of(ink)
    if erased is None:
        return [] if kept is None else [kept]
    if kept is None or kept[1] == erased[1]:  # the line never touched the digit: one reading
        return [erased]
    return [erased, kept]


def _digit_of(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The digit's components of an ink map, cropped with their anti-aliased rim and prepared; and its box."""
    mask = _digit_mask(ink)
    if mask is None:
        return None
    box = _ink_box(mask, 0)
    if box is None:
        return None
    x, y, w, h = box
    x0, y0 = max(0, x - 1), max(0, y - 1)
    window = (slice(y0, y + h + 1), slice(x0, x + w + 1))  # the box and a 1-px rim: all the dilation reaches
    # Keep the anti-aliased rim around the chosen components, not other components' faint pixels.
    rim = cv2.dilate(mask[window].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    crop = np.where(rim, ink[window], 0).astype(np.uint8)
    return prepare_digit(crop), box


def prepare_single_digit(gray: np.ndarray) -> np.ndarray | None:
    """A picture that is one digit -> its (28, 28) uint8 MNIST-style image, or None when there is no ink.

    Printed lines much longer than the digit is tall (ruled paper, an underline) are removed first: without
    a classifier to ask, the first of `single_digit_candidates`.
    """
    found = single_digit_candidates(ink_map(gray), alternatives=False)
    return found[0][0] if found else None
