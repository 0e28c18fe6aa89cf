"""Locate the digits of written numbers in an ink map: lines of writing, digits left to right.

The steps, in the order `locate_digits` runs them:

1. binarise the ink map (already corrected for lighting and polarity, so a fixed level works);
2. drop printed lines -- ruled and grid paper, underlines: long straight runs found by a morphological
   opening -- and heal the strokes they crossed;
3. label connected components and drop specks;
4. group components into lines of writing by vertical overlap, top to bottom;
5. merge the broken strokes of one digit (pieces overlapping horizontally: a 5's flag, an open 4; not
   two small marks apart, such as a colon);
6. drop punctuation: marks much smaller than the line's digits (dots, commas, apostrophes, dashes);
7. split touching digits: cuts at minima of the vertical ink projection, chosen by the classifier;
8. frame each digit MNIST-style (`prepare_digit`).

Everything here is in the ink map's pixels; `pipeline` maps boxes back to the caller's image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from digitreader import budget
from digitreader.vision.candidate import Box, Candidate, Classify
from digitreader.vision.preprocess import prepare_digit
from digitreader.vision.ruled_lines import digit_height, ink_mask

__all__ = ["MAX_MARKS", "locate_digits"]

log = logging.getLogger(__name__)

_SPECK = 0.004  # components smaller than this fraction of (digit height)^2 are specks
_PUNCT_HEIGHT = 0.3  # marks lower than this fraction of the line's digit height are punctuation
_PUNCT_SIZE = 0.4  # ...and so are marks smaller than this both ways
_PIECE_GAP = 0.08  # two such small marks further apart than this (x digit height) are not one digit
_TYPICAL_ASPECT = 0.75  # a digit's usual width / height (MNIST median 0.76), when a line has few digits
_MAY_SPLIT_ASPECT = 1.1  # a region wider than this times the line height may hold touching digits,
_MAY_SPLIT_WIDTHS = 1.4  # ...as may one wider than this many typical digit widths of its line;
_MUST_SPLIT_ASPECT = 1.4  # wider than this times the line height it surely does,
_MUST_SPLIT_WIDTHS = 2.0  # ...as it does wider than this many typical widths
_SPLIT_GAIN = 0.2  # a split must beat the whole by this much confidence (the weaker part against the whole)
# Pieces `_pieces_of_one_digit` may merge are at most this far apart horizontally (x digit height): its
# widest reach is the stacked pieces' 0.15; a little more, so the shortcut never decides alone.
_MERGE_REACH = 0.2
_MERGE_VECTOR_FROM = 48  # regions to look through at once from which numpy beats a Python loop
# More candidate marks than this in one picture is noise (or an attack), not writing: a page of 40 lines of
# 30 digits has 1,200. Reading each costs ~1 ms (noise marks are often split and classified again).
MAX_MARKS = 2000


@dataclass
class _Region:
    """Pixels of one candidate digit while segmentation works on it: a set of components, optionally limited
    to columns [x0, x1); its ink box, and its 28x28 image once framed. Merges grow it in place; what leaves
    this module is a frozen `Candidate`."""

    labels: set[int]
    x0: int
    x1: int
    box: Box = (0, 0, 0, 0)
    image: np.ndarray | None = None

    @property
    def cx(self) -> float:
        return self.box[0] + self.box[2] / 2.0

    @property
    def bottom(self) -> int:
        return self.box[1] + self.box[3]


# --------------------------------------------------------------------------------------------- regions


def _box_of(labels: np.ndarray, region: _Region, hint: Box) -> Box:
    x, y, w, h = hint
    x0, x1 = max(x, region.x0), min(x + w, region.x1)
    sub = np.isin(labels[y : y + h, x0:x1], list(region.labels))
    ys, xs = np.nonzero(sub)
    if ys.size == 0:
        return (x0, y, 0, 0)
    return (x0 + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def _x_overlap(a: Box, b: Box) -> int:
    return min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])


def _y_overlap(a: Box, b: Box) -> int:
    return min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])


def _group_lines(regions: list[_Region], height: float) -> list[list[_Region]]:
    """Regions grouped into lines of writing (vertical overlap), lines top to bottom, each left to right."""
    tall = sorted((r for r in regions if r.box[3] >= 0.5 * height), key=lambda r: -r.box[2] * r.box[3])
    bands: list[list[_Region]] = []
    spans: list[tuple[int, int]] = []
    for r in tall:
        y0, y1 = r.box[1], r.bottom
        best, best_ov = -1, 0.0
        for i, (t, b) in enumerate(spans):
            ov = (min(y1, b) - max(y0, t)) / max(1, min(y1 - y0, b - t))
            if ov > best_ov:
                best, best_ov = i, ov
        if best >= 0 and best_ov >= 0.4:
            bands[best].append(r)
        else:
            bands.append([r])
            spans.append((y0, y1))
    # Small marks go to the line whose band they overlap or lie nearest to (within a digit height).
    for r in regions:
        if r.box[3] >= 0.5 * height:
            continue
        mid = r.box[1] + r.box[3] / 2.0
        dists = [0.0 if t <= mid <= b else min(abs(mid - t), abs(mid - b)) for t, b in spans]
        if dists and min(dists) <= 0.6 * height:
            bands[int(np.argmin(dists))].append(r)
    order = sorted(range(len(bands)), key=lambda i: spans[i][0] + spans[i][1])
    return [sorted(bands[i], key=lambda r: r.box[0]) for i in order]


def _x_gap(a: Box, b: Box) -> int:
    return max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])


def _gap(a: Box, b: Box) -> int:
    """Pixels between two boxes along the axis where they are furthest apart (<= 0: they overlap)."""
    return max(_x_gap(a, b), -_y_overlap(a, b))


def _pieces_of_one_digit(a: Box, b: Box, top: int, base: int, height: int) -> bool:
    """Whether boxes `a` and `b` in a line (digits between `top` and `base`) are pieces of one digit."""
    small = a if a[2] * a[3] < b[2] * b[3] else b
    # A comma below the baseline or a dot sitting on it is punctuation, never a piece of a digit.
    if small[1] + small[3] / 2.0 > base - 0.05 * height and small[3] < 0.4 * height:
        return False
    # Two small marks apart from each other are not one digit's pieces: a colon, or stray specks beside a
    # digit (some MNIST test digits carry them from the form they were cut from); merged they read as a
    # "1". Small pieces that nearly touch are a stroke broken by a faint pen or an erased grid line.
    if max(a[2], a[3], b[2], b[3]) < _PUNCT_SIZE * height and _gap(a, b) > _PIECE_GAP * height:
        return False
    # One above the other: a 5's flag over its body, an open 4, a broken 1.
    if _x_overlap(a, b) >= 0.5 * min(a[2], b[2]):
        return True
    union = _union(a, b)
    stacked = (
        max(a[3], b[3]) < 0.75 * height
        and min(max(a[2], a[3]), max(b[2], b[3])) >= 0.25 * height  # not two dots (a colon)
        and _y_overlap(a, b) <= 0.3 * min(a[3], b[3])
        and union[3] <= 1.25 * height
        and union[2] <= 0.9 * height
        and _x_gap(a, b) <= 0.15 * height
    )
    # A flat stroke near the top, touching or nearly touching a digit: a 5's flag written apart.
    flag = (
        small[2] >= 1.5 * small[3]
        and small[3] < 0.35 * height
        and small[1] + small[3] <= top + 0.45 * height
        and _x_gap(a, b) <= 0.1 * height
        and union[2] <= 1.2 * height
    )
    return stacked or flag


def _merge_broken(line: list[_Region], labels: np.ndarray) -> list[_Region]:
    """Merge the pieces of one digit (`_pieces_of_one_digit`) into one region; the line stays sorted left to
    right.

    The merges are those of the plain rule "merge the first pair (i, j), i < j, that `_pieces_of_one_digit`
    accepts, then look again from the start", made without looking again from the start: a row i whose pairs
    were all refused stays refused until a region after it grows, and each growth is checked against the
    rows before it at once. Only regions near each other horizontally can be pieces of one digit (every
    accepted pair lies within `_MERGE_REACH` heights), so each row looks closely only at those. Thousands
    of specks (a noisy picture) cost O(n^2) array work instead of O(n^3) calls.
    """
    if len(line) < 2:
        return line
    tall = [r for r in line if r.box[3] >= 0.5 * max(q.box[3] for q in line)]
    top = int(np.median([r.box[1] for r in tall]))
    base = int(np.median([r.bottom for r in tall]))
    height = max(1, base - top)
    reach = _MERGE_REACH * height
    line = list(line)
    x0 = [r.box[0] for r in line]  # horizontal extents, kept in step with `line`
    x1 = [r.box[0] + r.box[2] for r in line]
    done = [False] * len(line)  # rows known to pair with nothing after them

    def first_piece(i: int, lo: int, hi: int) -> int:
        """The first region in [lo, hi) that `_pieces_of_one_digit` takes with region i (asked in the rule's
        order, the earlier region first), or -1; only regions within reach horizontally are asked."""
        if hi - lo > _MERGE_VECTOR_FROM:  # a long line (specks): one array pass finds those within reach
            gap = np.maximum(np.asarray(x0[lo:hi]), x0[i]) - np.minimum(np.asarray(x1[lo:hi]), x1[i])
            near = (lo + np.flatnonzero(gap <= reach)).tolist()
        else:
            near = [k for k in range(lo, hi) if max(x0[k], x0[i]) - min(x1[k], x1[i]) <= reach]
        for k in near:
            a, b = (line[i], line[k]) if i < k else (line[k], line[i])
            if _pieces_of_one_digit(a.box, b.box, top, base, height):
                return int(k)
        return -1

    def absorb(i: int, j: int) -> None:
        """Region j (after i) merged into region i, and dropped."""
        a, b = line[i], line[j]
        a.labels |= b.labels
        a.box = _union(a.box, b.box)
        x0[i], x1[i], done[i] = a.box[0], a.box[0] + a.box[2], False
        for kept in (line, x0, x1, done):
            del kept[j]

    p = 0
    while p < len(line):
        budget.check()
        if done[p]:
            p += 1
            continue
        j = first_piece(p, p + 1, len(line))
        if j < 0:
            done[p] = True
            p += 1
            continue
        absorb(p, j)
        # Region p grew: the first earlier region that now takes it does, and so on down the line.
        while (i := first_piece(p, 0, p)) >= 0:
            absorb(i, p)
            p = i
    return sorted(line, key=lambda r: r.box[0])


def _drop_punctuation(line: list[_Region]) -> list[_Region]:
    """Regions that are digits: dots, commas, apostrophes and dashes dropped.

    Punctuation is low (a dot, a dash: under `_PUNCT_HEIGHT` of the line's digit height), small both ways
    (an apostrophe: under `_PUNCT_SIZE`), short and entirely in the lower half (a comma) or flat (a thick
    dash). A digit written small (a squat 0) is none of these.
    """
    if not line:
        return line
    tallest = max(r.box[3] for r in line)
    tall = [r for r in line if r.box[3] >= 0.6 * tallest]
    height = float(np.median([r.box[3] for r in tall]))
    middle = float(np.median([r.box[1] for r in tall])) + 0.5 * height
    kept = [r for r in line if not _is_punctuation(r.box, height, middle)]
    # A short mark after the last digit ends an amount ("1.250,-", "99.-"), however thick the pen drew it.
    while len(kept) > 1 and _is_trailing_mark(kept[-1].box, height):
        kept.pop()
    return kept


def _is_trailing_mark(box: Box, height: float) -> bool:
    # Not flat-and-squat marks in general: a squat 2 or 6 ends numbers too.
    return box[3] < 0.4 * height


def _is_punctuation(box: Box, height: float, middle: float) -> bool:
    w, h = box[2], box[3]
    low = h < _PUNCT_HEIGHT * height  # a dot, a thin dash
    small = max(w, h) < _PUNCT_SIZE * height  # an apostrophe
    comma = box[1] > middle and h < 0.5 * height and w < 0.4 * height  # narrow, in the lower half
    dash = w >= 2 * h and h < 0.4 * height  # a thick dash: no digit is twice as wide as tall
    return low or small or comma or dash


# --------------------------------------------------------------------------------------------- crops


def _digit_crop(ink: np.ndarray, labels: np.ndarray, region: _Region) -> np.ndarray:
    """The region's ink (grey levels, anti-aliased rim kept), other components' pixels zeroed."""
    x, y, w, h = region.box
    pad = 2
    H, W = ink.shape
    x0, y0 = max(0, x - pad, region.x0), max(0, y - pad)
    x1, y1 = min(W, x + w + pad, region.x1), min(H, y + h + pad)
    mask = np.isin(labels[y0:y1, x0:x1], list(region.labels)).astype(np.uint8)
    rim: np.ndarray = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    return np.where(rim > 0, ink[y0:y1, x0:x1], 0).astype(np.uint8)


def _with_image(ink: np.ndarray, labels: np.ndarray, region: _Region, hint: Box) -> _Region:
    region.box = _box_of(labels, region, hint)
    region.image = prepare_digit(_digit_crop(ink, labels, region))
    return region


def _cut_columns(labels: np.ndarray, region: _Region, height: float, n_cuts: int = 3) -> list[int]:
    """Candidate cut columns: the lowest minima of the vertical ink projection away from the edges."""
    x, y, w, h = region.box
    mask = np.isin(labels[y : y + h, x : x + w], list(region.labels))
    proj = mask.sum(axis=0).astype(np.float32)
    proj = np.convolve(proj, np.ones(3, np.float32) / 3, mode="same")
    margin = max(2, int(0.2 * height))
    if w - 2 * margin < 1:
        return [x + w // 2]
    inner = np.arange(margin, w - margin)
    order = inner[np.argsort(proj[inner], kind="stable")]
    cuts: list[int] = []
    for c in order:
        if all(abs(int(c) - k) >= max(2, 0.15 * height) for k in cuts):
            cuts.append(int(c))
        if len(cuts) == n_cuts:
            break
    return [x + c for c in cuts]


def _should_split(
    width: float, height: float, typical: float, whole: float, parts: tuple[float, float]
) -> bool:
    """Whether a region `width` pixels wide, in a line of digits `height` tall, is two digits rather than one.

    `typical` is the line's usual digit width, `whole` the classifier's top probability for the region as
    one digit, `parts` those of its two halves at the best cut. Softmax confidence on half a digit is often
    high (half a 0 looks like a 1), so the width must make a second digit plausible too. Tuned on synth
    seed 0 (2,436 single wide digits, 21 touching pairs): 2 digits split wrongly, 7 narrow pairs missed.
    """
    aspect, relative = width / height, width / typical
    if aspect > _MUST_SPLIT_ASPECT or relative > _MUST_SPLIT_WIDTHS:
        return True
    may = aspect > _MAY_SPLIT_ASPECT or relative > _MAY_SPLIT_WIDTHS
    return may and min(parts) > whole + _SPLIT_GAIN


def _split_touching(
    line: list[_Region], ink: np.ndarray, labels: np.ndarray, height: float, classify: Classify | None
) -> list[Candidate]:
    """Split regions too wide for one digit at the cut the classifier is most confident about: the line's
    digits, each with the probabilities the classifier gave it, where it was asked."""
    # The line's usual digit width: the median of its regions that are not 1s; a default aspect without them.
    widths = [r.box[2] for r in line if r.box[2] >= 0.4 * height]
    typical = float(np.median(widths)) if len(widths) >= 3 else _TYPICAL_ASPECT * height
    typical = float(np.clip(typical, 0.5 * height, 1.0 * height))
    out: list[Candidate] = []
    for r in line:
        out += _split(r, None, ink, labels, height, typical, classify, depth=2)
    return out


def _image(r: _Region) -> np.ndarray:
    assert r.image is not None  # framed by `_with_image` before it is split
    return r.image


def _candidate(r: _Region, probs: np.ndarray | None) -> Candidate:
    return Candidate(box=r.box, image=_image(r), probs=probs)


def _split(
    r: _Region,
    probs: np.ndarray | None,
    ink: np.ndarray,
    labels: np.ndarray,
    height: float,
    typical: float,
    classify: Classify | None,
    depth: int,
) -> list[Candidate]:
    """Region `r` (with `probs`, when the classifier has seen it) as one digit or, cut, as several."""
    x, y, w, h = r.box
    must = w > min(_MUST_SPLIT_ASPECT * height, _MUST_SPLIT_WIDTHS * typical)
    may = w > min(_MAY_SPLIT_ASPECT * height, _MAY_SPLIT_WIDTHS * typical)
    if depth == 0 or not may or (classify is None and not must):
        return [_candidate(r, probs)]
    options: list[tuple[_Region, _Region]] = []
    for c in _cut_columns(labels, r, height):
        left = _with_image(ink, labels, _Region(set(r.labels), max(r.x0, x), c), r.box)
        right = _with_image(ink, labels, _Region(set(r.labels), c, min(r.x1, x + w)), r.box)
        if left.box[2] > 0 and right.box[2] > 0:
            options.append((left, right))
    if not options:
        return [_candidate(r, probs)]
    budget.check()  # before the classifier: the costliest step per region
    left_probs = right_probs = None
    if classify is None:
        left, right = options[0]
    else:
        batch = np.stack([_image(r)] + [_image(part) for pair in options for part in pair])
        got = np.asarray(classify(batch), dtype=np.float32)
        parts = [(float(got[1 + 2 * i].max()), float(got[2 + 2 * i].max())) for i in range(len(options))]
        best = int(np.argmax([min(a, b) for a, b in parts]))
        if not _should_split(w, height, typical, float(got[0].max()), parts[best]):
            return [_candidate(r, got[0])]
        left, right = options[best]
        left_probs, right_probs = got[1 + 2 * best], got[2 + 2 * best]
    log.debug("split region at x=%d (width %d, typical %.0f)", left.box[0] + left.box[2], w, typical)
    return _split(left, left_probs, ink, labels, height, typical, classify, depth - 1) + _split(
        right, right_probs, ink, labels, height, typical, classify, depth - 1
    )


# ---------------------------------------------------------------------------------------------- all


def locate_digits(ink: np.ndarray, classify: Classify | None = None) -> list[list[Candidate]]:
    """Lines (top to bottom) of digits (left to right) in an ink map, each with its box in the map's pixels
    and its 28x28 image.

    `classify` (batch (N, 28, 28) uint8 -> (N, 10) probabilities) chooses where touching digits are cut;
    without it only regions far too wide for one digit are cut, at the deepest projection minimum. Digits
    the classifier has already seen carry their `probs`.
    """
    binary, height, _ = ink_mask(ink)
    if height <= 0:
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    height = digit_height(binary) or height
    marks = 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= max(3.0, _SPECK * height * height))
    if len(marks) > MAX_MARKS:
        log.info("%d marks of digit size in one picture (at most %d are read): noise", len(marks), MAX_MARKS)
        budget.note(
            f"{len(marks):,} separate marks, more than the {MAX_MARKS:,} read in one picture: "
            "noise rather than writing"
        )
        return []
    regions = []
    for i in marks:
        x, y, w, h = (int(v) for v in stats[i, :4])
        regions.append(_Region({int(i)}, 0, labels.shape[1], box=(x, y, w, h)))
    lines = []
    for line in _group_lines(regions, height):
        budget.check()
        line = _drop_punctuation(_merge_broken(line, labels))
        line = [_with_image(ink, labels, r, r.box) for r in line]
        if line:
            line_h = float(np.median([r.box[3] for r in line]))
            lines.append(_split_touching(line, ink, labels, line_h, classify))
    return [line for line in lines if line]
