"""From a grayscale picture to MNIST-style digit images with boxes: normalise, locate, prepare.

`find_digits(gray, mode, classify)` is what the recogniser calls:

1. shrink very large pictures for analysis (boxes are mapped back to the input's pixels at the end);
2. `ink_map`: polarity, lighting, background and noise removed;
3. locate: `"digit"` takes the whole picture as one digit; `"number"` finds lines and digits
   (`segment.locate_digits`); `"auto"` decides between the two (`choose_mode`);
4. each digit is framed MNIST-style (28x28, ink bright) and, where the classifier was needed to decide
   (touching digits, auto mode), carries the probabilities it got.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from digitreader.errors import DigitreaderError
from digitreader.vision.preprocess import ink_map, single_digit_from_ink
from digitreader.vision.segment import Box, Classify, Region, locate_digits

log = logging.getLogger(__name__)

Mode = Literal["auto", "digit", "number"]
MODES: tuple[str, ...] = ("auto", "digit", "number")

_ANALYSIS_PIXELS = 1_500_000  # larger pictures are shrunk to about this many pixels for analysis
_ONE_DIGIT_ASPECT = 1.0  # two regions whose union is narrower than this (w/h) may be one broken digit


@dataclass(frozen=True)
class Candidate:
    """One digit: its box (x, y, w, h) in the input's pixels, its 28x28 image, probabilities if known."""

    box: Box
    image: np.ndarray
    probs: np.ndarray | None = None


def _analysis_copy(gray: np.ndarray) -> tuple[np.ndarray, float]:
    h, w = gray.shape
    scale = min(1.0, float(np.sqrt(_ANALYSIS_PIXELS / (h * w))))
    if scale >= 1.0:
        return gray, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), scale


def _to_input(box: Box, scale: float, shape: tuple[int, int]) -> Box:
    """A box in analysis pixels -> the input's pixels (clipped to the picture)."""
    if scale == 1.0:
        return box
    x, y, w, h = box
    x0, y0 = int(np.floor(x / scale)), int(np.floor(y / scale))
    x1, y1 = int(np.ceil((x + w) / scale)), int(np.ceil((y + h) / scale))
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def _single(ink: np.ndarray) -> list[list[Region]]:
    found = single_digit_from_ink(ink)
    if found is None:
        return []
    image, box = found
    return [[Region(set(), 0, 0, box=box, image=image)]]


def _confidence(regions: list[Region], classify: Classify) -> float:
    """Probability that every region is read right (product of the top probabilities); fills `probs`."""
    todo = [r for r in regions if r.probs is None]
    if todo:
        probs = np.asarray(classify(np.stack([r.image for r in todo])), dtype=np.float32)  # type: ignore[misc]
        for r, p in zip(todo, probs, strict=True):
            r.probs = p
    return float(np.prod([r.probs.max() for r in regions]))  # type: ignore[union-attr]


def choose_mode(ink: np.ndarray, lines: list[list[Region]], classify: Classify | None) -> Mode:
    """`"digit"` or `"number"` for a picture whose number-mode reading is `lines`.

    One region: a digit. Two regions side by side whose union is no wider than a digit (an open 4, a
    broken 5 -- or "11"): the classifier decides, comparing its confidence in one digit with its confidence
    in both. Anything else: a number.
    """
    regions = [r for line in lines for r in line]
    if len(regions) <= 1:
        return "digit"
    if len(lines) > 1 or len(regions) > 2 or classify is None:
        return "number"
    a, b = regions
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1 = max(a.box[0] + a.box[2], b.box[0] + b.box[2])
    y1 = max(a.bottom, b.bottom)
    if (x1 - x0) > _ONE_DIGIT_ASPECT * (y1 - y0):
        return "number"
    single = _single(ink)
    if not single:
        return "number"
    return "digit" if _confidence(single[0], classify) >= _confidence(regions, classify) else "number"


def find_digits(
    gray: np.ndarray, mode: str = "auto", classify: Classify | None = None
) -> list[list[Candidate]]:
    """The digits of a grayscale uint8 picture: lines top to bottom, digits left to right.

    `mode` is "digit" (the whole picture is one digit), "number" (a string of digits, possibly several
    lines) or "auto". `classify` maps a batch (N, 28, 28) uint8 to (N, 10) probabilities; it decides where
    touching digits are cut and, in auto mode, ambiguous layouts. A picture without ink gives [].
    """
    if mode not in MODES:
        raise DigitreaderError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise DigitreaderError(f"image of shape {gray.shape} and dtype {gray.dtype}: expected 2-D uint8 gray")
    small, scale = _analysis_copy(gray)
    ink = ink_map(small)
    if not ink.any():
        return []
    if mode == "digit":
        lines = _single(ink)
    else:
        lines = locate_digits(ink, classify)
        if mode == "auto" and lines and choose_mode(ink, lines, classify) == "digit":
            lines = _single(ink)
    log.debug("%s mode: %s digits per line", mode, [len(line) for line in lines])
    shape = (gray.shape[0], gray.shape[1])
    return [
        [Candidate(box=_to_input(r.box, scale, shape), image=r.image, probs=r.probs) for r in line]  # type: ignore[arg-type]
        for line in lines
    ]
