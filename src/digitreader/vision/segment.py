"""Locate the digits of written numbers in an ink map: lines of writing, digits left to right.

The steps, in the order `locate_digits` runs them:

1. binarise the ink map (already corrected for lighting and polarity, so a fixed level works);
2. drop printed lines -- ruled and grid paper, underlines: long straight runs found by a morphological
   opening -- and heal the strokes they crossed;
3. label connected components and drop specks;
4. group components into lines of writing by vertical overlap, top to bottom;
5. merge the broken strokes of one digit (pieces overlapping horizontally: a 5's flag, an open 4);
6. drop punctuation: marks much smaller than the line's digits (dots, commas, apostrophes, dashes);
7. split touching digits: cuts at minima of the vertical ink projection, chosen by the classifier;
8. frame each digit MNIST-style (`prepare_digit`).

Everything here is in the ink map's pixels; `pipeline` maps boxes back to the caller's image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitreader.vision.lines import binarise, digit_height, remove_lines
from digitreader.vision.preprocess import prepare_digit

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
Classify = Callable[[np.ndarray], np.ndarray]

_SPECK = 0.004  # components smaller than this fraction of (digit height)^2 are specks
_PUNCT_HEIGHT = 0.5  # marks lower than this fraction of the line's digit height are punctuation
_SPLIT_ASPECT = 0.85  # a region wider than this times the line height may hold touching digits
_MUST_SPLIT_ASPECT = 1.5  # ...and wider than this it surely does
_SPLIT_GAIN = 0.05  # a split must beat the whole by this much confidence (geometric mean of the parts)


@dataclass
class Region:
    """Pixels of one candidate digit: a set of components, optionally limited to columns [x0, x1)."""

    labels: set[int]
    x0: int
    x1: int
    box: Box = (0, 0, 0, 0)
    image: np.ndarray | None = None
    probs: np.ndarray | None = None
    parts: list[Region] = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.box[0] + self.box[2] / 2.0

    @property
    def bottom(self) -> int:
        return self.box[1] + self.box[3]


# --------------------------------------------------------------------------------------------- regions


def _box_of(labels: np.ndarray, region: Region, hint: Box) -> Box:
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


def group_lines(regions: list[Region], height: float) -> list[list[Region]]:
    """Regions grouped into lines of writing (vertical overlap), lines top to bottom, each left to right."""
    tall = sorted((r for r in regions if r.box[3] >= 0.5 * height), key=lambda r: -r.box[2] * r.box[3])
    bands: list[list[Region]] = []
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


def merge_broken(line: list[Region], labels: np.ndarray) -> list[Region]:
    """Merge pieces of one digit: regions that overlap horizontally by half the narrower one's width.

    A mark below the line's baseline (a comma) or a small one sitting on it (a dot) is never merged.
    """
    if len(line) < 2:
        return line
    top = int(np.median([r.box[1] for r in line if r.box[3] >= 0.5 * max(q.box[3] for q in line)]))
    base = int(np.median([r.bottom for r in line if r.box[3] >= 0.5 * max(q.box[3] for q in line)]))
    height = max(1, base - top)
    merged = True
    while merged:
        merged = False
        for i in range(len(line)):
            for j in range(i + 1, len(line)):
                a, b = line[i], line[j]
                small = a if a.box[3] * a.box[2] < b.box[3] * b.box[2] else b
                if _x_overlap(a.box, b.box) < 0.5 * min(a.box[2], b.box[2]):
                    continue
                below = small.box[1] + small.box[3] / 2.0 > base - 0.05 * height
                if below and small.box[3] < 0.4 * height:
                    continue
                a.labels |= b.labels
                a.box = _union(a.box, b.box)
                del line[j]
                merged = True
                break
            if merged:
                break
    return line


def drop_punctuation(line: list[Region]) -> list[Region]:
    """Regions that are digits: punctuation (much lower than the line's digits) dropped."""
    if not line:
        return line
    tallest = max(r.box[3] for r in line)
    height = float(np.median([r.box[3] for r in line if r.box[3] >= 0.6 * tallest]))
    return [r for r in line if r.box[3] >= _PUNCT_HEIGHT * height]


# --------------------------------------------------------------------------------------------- crops


def digit_crop(ink: np.ndarray, labels: np.ndarray, region: Region) -> np.ndarray:
    """The region's ink (grey levels, anti-aliased rim kept), other components' pixels zeroed."""
    x, y, w, h = region.box
    pad = 2
    H, W = ink.shape
    x0, y0 = max(0, x - pad, region.x0), max(0, y - pad)
    x1, y1 = min(W, x + w + pad, region.x1), min(H, y + h + pad)
    mask = np.isin(labels[y0:y1, x0:x1], list(region.labels)).astype(np.uint8)
    rim: np.ndarray = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    return np.where(rim > 0, ink[y0:y1, x0:x1], 0).astype(np.uint8)


def _with_image(ink: np.ndarray, labels: np.ndarray, region: Region, hint: Box) -> Region:
    region.box = _box_of(labels, region, hint)
    region.image = prepare_digit(digit_crop(ink, labels, region))
    return region


def _cut_columns(labels: np.ndarray, region: Region, height: float, n_cuts: int = 3) -> list[int]:
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


def split_touching(
    line: list[Region], ink: np.ndarray, labels: np.ndarray, height: float, classify: Classify | None
) -> list[Region]:
    """Split regions too wide for one digit at the cut the classifier is most confident about."""
    out: list[Region] = []
    for r in line:
        out += _split(r, ink, labels, height, classify, depth=2)
    return out


def _split(
    r: Region, ink: np.ndarray, labels: np.ndarray, height: float, classify: Classify | None, depth: int
) -> list[Region]:
    x, y, w, h = r.box
    line_h = max(height, h * 0.8)
    must = w > _MUST_SPLIT_ASPECT * line_h
    if depth == 0 or w <= _SPLIT_ASPECT * line_h or (classify is None and not must):
        return [r]
    options: list[tuple[Region, Region]] = []
    for c in _cut_columns(labels, r, line_h):
        left = _with_image(ink, labels, Region(set(r.labels), max(r.x0, x), c), r.box)
        right = _with_image(ink, labels, Region(set(r.labels), c, min(r.x1, x + w)), r.box)
        if left.box[2] > 0 and right.box[2] > 0:
            options.append((left, right))
    if not options:
        return [r]
    if classify is None:
        left, right = options[0]
    else:
        assert r.image is not None
        batch = np.stack([r.image] + [im for lr in options for im in (lr[0].image, lr[1].image)])  # type: ignore[misc]
        probs = np.asarray(classify(batch), dtype=np.float32)
        r.probs = probs[0]
        whole = float(probs[0].max())
        scores = [
            float(np.sqrt(probs[1 + 2 * i].max() * probs[2 + 2 * i].max())) for i in range(len(options))
        ]
        best = int(np.argmax(scores))
        if not must and scores[best] < whole + _SPLIT_GAIN:
            return [r]
        left, right = options[best]
        left.probs, right.probs = probs[1 + 2 * best], probs[2 + 2 * best]
    log.debug("split region at x=%d (width %d, line height %.0f)", left.box[0] + left.box[2], w, line_h)
    return _split(left, ink, labels, height, classify, depth - 1) + _split(
        right, ink, labels, height, classify, depth - 1
    )


# ---------------------------------------------------------------------------------------------- all


def locate_digits(ink: np.ndarray, classify: Classify | None = None) -> list[list[Region]]:
    """Lines (top to bottom) of digit regions (left to right) in an ink map, each with its 28x28 image.

    `classify` (batch (N, 28, 28) uint8 -> (N, 10) probabilities) chooses where touching digits are cut;
    without it only regions far too wide for one digit are cut, at the deepest projection minimum. Regions
    the classifier has already seen carry their `probs`.
    """
    binary = binarise(ink)
    height = digit_height(binary)
    if height <= 0:
        return []
    binary, _ = remove_lines(binary, height)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    height = digit_height(binary) or height
    regions = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < max(3.0, _SPECK * height * height):
            continue
        regions.append(Region({i}, 0, labels.shape[1], box=(x, y, w, h)))
    lines = []
    for line in group_lines(regions, height):
        line = drop_punctuation(merge_broken(line, labels))
        line = [_with_image(ink, labels, r, r.box) for r in line]
        if line:
            line_h = float(np.median([r.box[3] for r in line]))
            lines.append(split_touching(line, ink, labels, line_h, classify))
    return [line for line in lines if line]
