"""Lines of digits read whole by the sequence reader, and joined with the segmentation's reading.

1. `bands`: the located lines regrouped into bands of writing (segmentation splits faint numbers into
   "lines" of pieces above one another);
2. `line_strip`: around a band's ink box (input pixels) a context window is cut from the grayscale picture
   and turned into an ink map, as the reader's training lines were (`data.strings`: a written line
   photographed with its surroundings); the strip is the band's window of that ink map (`vision.strip`);
3. the reader gives per-column probabilities (`read_line` calls it through the `read_strip` it is given);
4. `place_characters`: the best path (`ctc.greedy_decode`); each character owns the strip columns nearest
   its best column; its box is the ink pieces centred there, in the input's pixels;
5. `choose_reading`: the sequence reader's characters against the segmentation's digits, each reading
   weighed by how likely the sequence reader finds it (`ctc.digits_log_likelihood`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from digitreader.ctc import (
    DIGITS,
    Emitted,
    digits_log_likelihood,
    faint_separators,
    greedy_decode,
    kept,
    reading_weights,
)
from digitreader.reading import Digit
from digitreader.vision.preprocess import ink_map
from digitreader.vision.ruled_lines import LOW_LEVEL
from digitreader.vision.strip import cut_strip, line_window

__all__ = [
    "AUTO_NUMBER_MARGIN",
    "LIKELIHOOD_MARGIN",
    "SEPARATOR_FLOOR",
    "SEPARATOR_PRIOR",
    "Character",
    "LineReading",
    "LineStrip",
    "bands",
    "choose_reading",
    "line_strip",
    "place_characters",
    "read_line",
    "switch_to_number",
    "with_separators",
]

Box = tuple[int, int, int, int]

# Context cut around a line's ink box before its ink map is made (fractions of the line's height): about
# the surroundings the training lines were photographed with.
_CONTEXT_Y = 0.6
_CONTEXT_X = 1.0
# Where the two readings of a line differ, the segmentation's digits win unless the sequence reader finds
# its own reading more likely by more than this (natural log: a factor of e^3 = 20; `choose_reading`).
# Tuned on meza-cells' odd rows and the realistic set's tuning seeds 0-2 (docs/sequence-reader.md).
LIKELIHOOD_MARGIN = 3.0
# Auto mode: a picture taken for one digit is read as a number when the sequence reader's two digits or
# more beat the classifier's one digit by this much (`switch_to_number`); the smallest margin that misread
# no more single digits of the tuning seeds.
AUTO_NUMBER_MARGIN = 0.3
# How much more a decimal or thousands mark counts than its probability when a column's best class is
# taken (`ctc.greedy_decode`). Tuned on the odd rows of meza-cells (see docs/sequence-reader.md).
SEPARATOR_PRIOR = 4.0
_WEIGHTS = reading_weights(SEPARATOR_PRIOR)
# A mark between two digits is read where the blank columns between them give it at least this much
# (`ctc.faint_separators`). Tuned on the odd rows of meza-cells (see docs/sequence-reader.md).
SEPARATOR_FLOOR = 0.08
_BAND_GAP = 0.35  # lines closer than this (x the taller one's height) are one band of writing
_HALF_DIGIT = 0.6  # a character's columns reach at most this many line heights either side of its best column


@dataclass(frozen=True)
class LineStrip:
    """A line ready for the reader: its strip, and how strip columns map back to the input's pixels."""

    strip: np.ndarray  # uint8 (32, W), ink bright
    ink: np.ndarray  # the context window's ink map (uint8)
    origin: tuple[int, int]  # the context window's top-left corner in the input's pixels
    window: Box  # the strip's window inside the context ink map
    scale: float  # strip pixels per context pixel, horizontally
    line_box: Box  # the line's ink box inside the context ink map


@dataclass(frozen=True)
class LineReading:
    """What the sequence reader read in a line: the characters of the number, and its per-column
    probabilities over the line's strip (to weigh other readings of the line by)."""

    chars: list[Character]
    probs: np.ndarray  # (columns, classes)


@dataclass(frozen=True)
class Character:
    """One character read from a line: the character, its box in the input's pixels, its confidence, and
    for a digit the ten digit probabilities at its best column."""

    char: str
    box: Box
    confidence: float
    digit_probs: tuple[float, ...] | None


def line_strip(gray: np.ndarray, ink_box: Box, dark: bool) -> LineStrip:
    """The strip of the line whose ink spans `ink_box` (x, y, w, h) in `gray` (uint8 2-D, input pixels)."""
    x, y, w, h = ink_box
    H, W = gray.shape
    cy, cx = int(round(_CONTEXT_Y * h)), int(round(_CONTEXT_X * h))
    x0, y0 = max(0, x - cx), max(0, y - cy)
    x1, y1 = min(W, x + w + cx), min(H, y + h + cy)
    ink = ink_map(gray[y0:y1, x0:x1], dark=dark)
    box = (x - x0, y - y0, w, h)
    window = line_window(box, ink.shape)
    strip, scale = cut_strip(ink, window)
    return LineStrip(strip, ink, (x0, y0), window, scale, box)


def place_characters(line: LineStrip, probs: np.ndarray, stride: int) -> list[Character]:
    """The characters of the best path through `probs` (T, classes), each with its box and confidence.

    Decimal and thousands marks are favoured by `SEPARATOR_PRIOR`, and one is read between two digits
    where the blank columns give it `SEPARATOR_FLOOR`: the reader, trained on drawn marks, drops many of
    the small ones real writers make."""
    emitted = faint_separators(greedy_decode(probs, _WEIGHTS), probs, SEPARATOR_FLOOR)
    if not emitted:
        return []
    centres = [(e.peak + 0.5) * stride / line.scale + line.window[0] for e in emitted]
    reach = _HALF_DIGIT * line.line_box[3]
    pieces = _Pieces(line)
    out = []
    for i, e in enumerate(emitted):
        left = (centres[i - 1] + centres[i]) / 2 if i > 0 else line.window[0]
        right = (centres[i] + centres[i + 1]) / 2 if i + 1 < len(emitted) else line.window[0] + line.window[2]
        left, right = max(left, centres[i] - reach), min(right, centres[i] + reach)
        box = pieces.box(left, right)
        out.append(Character(e.char, box, e.confidence, _digit_probs(e, probs)))
    return out


class _Pieces:
    """The ink of a line's window as connected pieces, to box the ink that belongs to some columns."""

    def __init__(self, line: LineStrip) -> None:
        wx, wy, ww, wh = line.window
        self.line = line
        mask = (line.ink[wy : wy + wh, wx : wx + ww] >= LOW_LEVEL).astype(np.uint8)
        _, self.labels, _, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
        self.centre_x = centroids[:, 0] + wx

    def box(self, left: float, right: float) -> Box:
        """Box (input pixels) of the ink in columns [left, right) of the context ink map, taking only the
        pieces centred there when there are any (a narrow mark beside a wide digit keeps to its own ink)."""
        wx, wy, _, _ = self.line.window
        ox, oy = self.line.origin
        x0 = max(int(np.floor(left)), wx)
        x1 = max(int(np.ceil(right)), x0 + 1)
        cols = self.labels[:, x0 - wx : x1 - wx]
        inside = (self.centre_x >= left) & (self.centre_x < right)
        inside[0] = False
        own = inside[cols]
        ys, xs = np.nonzero(own if own.any() else cols > 0)
        if ys.size == 0:  # no ink there (a faint mark): the columns, as tall as the line
            _, ly, _, lh = self.line.line_box
            return (ox + x0, oy + ly, x1 - x0, lh)
        return (
            ox + x0 + int(xs.min()),
            oy + wy + int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        )


def _digit_probs(e: Emitted, probs: np.ndarray) -> tuple[float, ...] | None:
    """The ten digit probabilities at a digit's best column, renormalised over the digits."""
    if e.char not in DIGITS:
        return None
    p = np.asarray(probs[e.peak, 1 : 1 + len(DIGITS)], np.float64)
    total = float(p.sum())
    return tuple(float(v) / total for v in p) if total > 0 else None


def bands(lines: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Located lines regrouped into bands of writing: lines that overlap vertically or nearly touch are one.

    Segmentation splits a faint or broken number into pieces, and pieces above and below one another become
    "lines" of their own (the top halves of small digits, a cell border); the sequence reader must see
    them together. Two lines of writing keep a gap of about half a digit height or more between them.
    """
    spans = []
    for line in lines:
        if line:
            top = min(c.box[1] for c in line)
            bottom = max(c.box[1] + c.box[3] for c in line)
            spans.append((top, bottom, list(line)))
    spans.sort(key=lambda s: s[0])
    out: list[tuple[int, int, list[Any]]] = []
    for top, bottom, members in spans:
        if out:
            t, b, group = out[-1]
            height = max(bottom - top, b - t)
            if top - b < _BAND_GAP * height:
                out[-1] = (min(t, top), max(b, bottom), group + members)
                continue
        out.append((top, bottom, members))
    return [sorted(group, key=lambda c: c.box[0]) for _, _, group in out]


def read_line(
    gray: np.ndarray,
    line: Sequence[Any],
    dark: bool,
    read_strip: Callable[[np.ndarray], np.ndarray],
    stride: int,
) -> LineReading:
    """The characters of a located line (its candidates' boxes in `gray`'s pixels) that belong to the
    number written there (`ctc.kept`: digits, separators between them, a leading minus)."""
    boxes = [c.box for c in line]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    strip = line_strip(gray, (x0, y0, x1 - x0, y1 - y0), dark)
    probs = read_strip(strip.strip)
    chars = place_characters(strip, probs, stride)
    text = "".join(c.char for c in chars)
    return LineReading([chars[i] for i in kept(text)], probs)


def choose_reading(line: LineReading, segmented: list[Digit]) -> tuple[str, list[Digit]]:
    """A line's text and digits from the sequence reader's reading and the segmentation's digits.

    Where both read the same digits, the segmentation's digits are kept (their boxes are the digits' own
    ink; their probabilities the classifier's) with the separators the sequence reader saw. Where they
    differ, both digit strings are weighed by the sequence reader's own probabilities summed over every
    way of writing them along the strip: its best path alone is not its best judgement (a plain last 1 it
    took for a cell's border still has most of its weight on "...1"). The segmentation's digits win unless
    the sequence reader's reading is `LIKELIHOOD_MARGIN` more likely; they keep the sequence reader's
    separators, placed after the digits they follow in both readings.
    """
    read = [c for c in line.chars if c.char in DIGITS]
    labels = "".join(str(d.label) for d in segmented)
    if not read:
        return labels, segmented
    text = "".join(c.char for c in line.chars)
    ours = "".join(c.char for c in read)
    if labels == ours:
        return text, segmented
    if segmented and digits_log_likelihood(line.probs, labels) > (
        digits_log_likelihood(line.probs, ours) - LIKELIHOOD_MARGIN
    ):
        return with_separators(text, labels), segmented
    return text, _digits_of(read)


def with_separators(text: str, digits: str) -> str:
    """`digits` written with the separators of `text` (another reading of the same line): each separator
    goes after the digit of `digits` aligned with the one it follows in `text`; a leading minus stays."""
    ours = "".join(ch for ch in text if ch in DIGITS)
    after: dict[int, str] = {}  # separator after our digit i
    lead, i = "", -1
    for ch in text:
        if ch in DIGITS:
            i += 1
        elif i < 0:
            lead += ch
        else:
            after[i] = after.get(i, "") + ch
    theirs = _aligned(ours, digits)
    marks = {theirs[i]: mark for i, mark in after.items() if i in theirs and theirs[i] < len(digits) - 1}
    return lead + "".join(d + marks.get(k, "") for k, d in enumerate(digits))


def _aligned(ours: str, theirs: str) -> dict[int, int]:
    """Which digit of `theirs` each digit of `ours` lines up with: position by position when both have as
    many, else where they match or one replaces the other (`difflib`)."""
    if len(ours) == len(theirs):
        return {k: k for k in range(len(ours))}
    out: dict[int, int] = {}
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes():
        if tag in ("equal", "replace"):
            out.update((a0 + k, b0 + k) for k in range(min(a1 - a0, b1 - b0)))
    return out


def switch_to_number(chars: list[Character], single: list[Digit]) -> bool:
    """Whether a picture auto mode took for one digit holds a number: the sequence reader reads two digits
    or more in it and is surer of them (the product of their confidences) than the classifier is of the one
    digit by `AUTO_NUMBER_MARGIN`."""
    read = [c for c in chars if c.char in DIGITS]
    if len(read) < 2 or len(single) != 1:
        return False
    return float(np.prod([c.confidence for c in read])) > single[0].confidence + AUTO_NUMBER_MARGIN


def _digits_of(read: list[Character]) -> list[Digit]:
    return [
        Digit(label=int(c.char), confidence=c.confidence, box=c.box, probabilities=c.digit_probs)
        for c in read
    ]
