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
from dataclasses import dataclass, replace

import cv2
import numpy as np

from digitreader import budget
from digitreader.contract import Mode, check_mode
from digitreader.errors import DigitreaderError
from digitreader.vision.candidate import Box, Candidate, Classify, classified
from digitreader.vision.margin import evenly_lit, inside, touches_border, with_margin
from digitreader.vision.neighbours import central_ink
from digitreader.vision.preprocess import downscale, ink_map, polarity_vote, single_digit_candidates
from digitreader.vision.ruled_lines import ink_mask
from digitreader.vision.segment import locate_digits
from digitreader.vision.spots import full_size_windows, ink_spots

__all__ = ["Located", "choose_mode", "find_digits", "locate"]

log = logging.getLogger(__name__)

_ANALYSIS_PIXELS = 1_500_000  # larger pictures are shrunk to about this many pixels for analysis
# Digit mode looks first at a copy this small (longer side): a one-digit picture needs no more, and its
# analysis costs about a third less (read_accuracy seeds 0-1, 2,600 pictures: same accuracy). A digit
# found shorter than `_DIGIT_MIN_SIDE` there (a small digit in a large picture) is looked for again at
# the full analysis size.
_DIGIT_SIDE = 160
_DIGIT_MIN_SIDE = 48
# Digits shorter than this in the analysis copy (of a shrunk picture) are blurred past reading well there:
# when most found are, the picture is looked at again in full size where marks stand out (`_suspect`).
_SMALL_WRITING = 16
# ...as it is when the classifier's mean top probability for them is under this (paper grain stretched to
# ink reads at 0.2-0.65; digits filling a 12-megapixel photo with a marker at 0.92-0.95); and when one
# digit covers this much of the picture both ways (grain joined into one blob, read at up to 0.82).
_UNSURE_READING = 0.75
_WHOLE = 0.9
# A polarity vote weaker than this (|vote|, see `polarity_vote`) is checked by reading one-digit pictures
# both ways; the other reading must be surer by `_SWITCH_MARGIN`. Tuning seeds 1-4 (5,200 singles): 1.1%
# of pictures are read twice and 7 fewer misread; a band of 0.6 caught one more, reading 2.7% twice.
_UNSURE_POLARITY = 0.4
_SWITCH_MARGIN = 0.2
_ONE_DIGIT_ASPECT = 1.3  # ink no wider than this (w/h) may be one digit (MNIST digits: 99% under 1.2)
_NUMBER_ASPECT = 2.5  # ink wider than this is a number even when it is all one blob


Lines = list[list[Candidate]]  # lines of writing top to bottom, each its digits left to right


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


def _digit_mode(small: np.ndarray, scale: float, classify: Classify | None) -> tuple[Lines, float, float]:
    """Digit mode: the digit of an analysis copy, the scale its box is in (see `_DIGIT_SIDE`), the vote."""
    quick, f = downscale(small, _DIGIT_SIDE)
    vote = polarity_vote(quick)  # the vote looks at a copy this small anyway (preprocess._ANALYSIS_SIDE)
    if f < 1.0:
        found = _single_either_polarity(quick, vote, classify)
        if found and max(found[0][0].box[2:]) >= _DIGIT_MIN_SIDE:
            return found, scale * f, vote
    return _single_either_polarity(small, vote, classify), scale, vote


def _single_either_polarity(
    gray: np.ndarray, vote: float, classify: Classify | None, ink: np.ndarray | None = None
) -> Lines:
    """The one digit of `gray` with the voted polarity (its ink map `ink`, when already made); when the vote
    is unsure, also with the other one, and that reading wins if the classifier is clearly surer of it
    (the lit part of a sheet under a hard-edged shadow looks like light ink on a dark ground)."""
    found = _single_in(gray, vote > 0, classify, ink)
    if classify is None or abs(vote) >= _UNSURE_POLARITY:
        return found
    other = _single_in(gray, vote <= 0, classify)
    if not other:
        return found
    if not found:
        return other
    other, found = [classified(other[0], classify)], [classified(found[0], classify)]
    return other if _confidence(other[0]) > _confidence(found[0]) + _SWITCH_MARGIN else found


def _single_in(
    gray: np.ndarray, dark: bool, classify: Classify | None, ink: np.ndarray | None = None
) -> Lines:
    """The one digit of `gray` with ink of the given polarity: the one it is centred on, without the
    fragments of neighbouring digits at its sides (`vision.neighbours`). An evenly lit picture whose digit
    reaches its border (a tight crop), or shows none, is read again inside a margin of paper
    (`vision.margin`)."""
    found = _single_centred(ink_map(gray, dark=dark) if ink is None else ink, classify)
    shape = (gray.shape[0], gray.shape[1])
    if (found and not touches_border(found[0][0].box, shape)) or not evenly_lit(gray, dark):
        return found
    padded, margin = with_margin(gray, dark)
    again = _single_centred(ink_map(padded, dark=dark), classify, (margin, margin, shape[1], shape[0]))
    again = [[replace(c, box=inside(c.box, margin, shape)) for c in line] for line in again]
    return again or found


def _single_centred(ink: np.ndarray, classify: Classify | None, frame: Box | None = None) -> Lines:
    """The one digit of an ink map, without what looks like neighbours' fragments at the sides of `frame`
    (`vision.neighbours`), unless the classifier is clearly surer of the digit with them: the pieces of
    one digit cut tightly can stand side by side too."""
    central = central_ink(ink, frame)
    found = _single(central, classify)
    if central is ink or classify is None:
        return found
    whole = _single(ink, classify)
    if not whole or not found:
        return whole or found
    whole, found = [classified(whole[0], classify)], [classified(found[0], classify)]
    return whole if _confidence(whole[0]) > _confidence(found[0]) else found


def _single(ink: np.ndarray, classify: Classify | None) -> Lines:
    if not ink.any():
        return []  # a blank picture: no digit to look for
    found = single_digit_candidates(ink, alternatives=classify is not None)
    if not found:
        return []
    if len(found) == 1 or classify is None:
        image, box = found[0]
        return [[Candidate(box=box, image=image)]]
    # A line spanning the picture touched the digit: with it erased, or as part of the digit (a tight
    # crop)? The reading the classifier is surer of.
    probs = np.asarray(classify(np.stack([image for image, _ in found])), dtype=np.float32)
    best = int(np.argmax(probs.max(axis=1)))
    image, box = found[best]
    return [[Candidate(box=box, image=image, probs=probs[best])]]


def _confidence(digits: list[Candidate]) -> float:
    """Probability that every digit (each `classified`) is read right: the product of top probabilities."""
    tops = []
    for c in digits:
        assert c.probs is not None, "classified first"
        tops.append(c.probs.max())
    return float(np.prod(tops))


def _layout(ink: np.ndarray) -> tuple[int, float, int]:
    """Significant ink components (at least a tenth of the largest), the aspect (w/h) of their union box,
    and how many of them stand side by side (overlapping no other horizontally; counted under four only)."""
    binary, _, _ = ink_mask(ink, single=True)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0, 0.0, 0
    s = stats[1:]
    s = s[s[:, cv2.CC_STAT_AREA] >= 0.1 * s[:, cv2.CC_STAT_AREA].max()]
    x0, y0 = s[:, 0].min(), s[:, 1].min()
    x1, y1 = (s[:, 0] + s[:, 2]).max(), (s[:, 1] + s[:, 3]).max()
    apart = 0
    for i in range(len(s) if len(s) < 4 else 0):  # four or more is a number anyway (`choose_mode`)
        lo, hi = s[i, 0], s[i, 0] + s[i, 2]
        others = np.delete(s, i, axis=0)
        if not np.any((others[:, 0] < hi) & (others[:, 0] + others[:, 2] > lo)):
            apart += 1
    return len(s), float((x1 - x0) / max(1, y1 - y0)), apart


def choose_mode(ink: np.ndarray, classify: Classify | None) -> Mode:
    """`"digit"` or `"number"` for an ink map, from the layout of its ink and, when that is ambiguous, the
    classifier.

    Clear cases: one significant component no wider than a digit, or two stacked within a digit's width
    (a 5's flag over its body): a digit. Four components or more, components side by side spread wider
    than a digit, or one blob far too wide for any digit: a number. Otherwise (a wide or tilted digit, an
    open 4 -- or "11", two touching digits) the classifier decides: its confidence in one digit against
    that in the number reading (the product over its digits).
    """
    count, aspect, apart = _layout(ink)
    if count == 0:
        return "digit"
    if count >= 4 or aspect > _NUMBER_ASPECT or (aspect > _ONE_DIGIT_ASPECT and apart >= 2):
        return "number"
    if aspect <= _ONE_DIGIT_ASPECT and (count == 1 or (count == 2 and apart < 2)):
        return "digit"
    if classify is None:
        return "digit" if count == 1 else "number"
    single = _single(ink, classify)
    digits = [c for line in locate_digits(ink, classify) for c in line]
    if not single or len(digits) < 2:
        return "digit" if single else "number"
    one = _confidence(classified(single[0], classify))
    return "digit" if one >= _confidence(classified(digits, classify)) else "number"


@dataclass(frozen=True)
class Located:
    """What `locate` found: lines of digits, the mode it read them in, and the ink's polarity."""

    lines: Lines
    mode: Mode
    dark_ink: bool


def find_digits(gray: np.ndarray, mode: str = "auto", classify: Classify | None = None) -> Lines:
    """The digits of a grayscale uint8 picture: lines top to bottom, digits left to right.

    `mode` is "digit" (the whole picture is one digit), "number" (a string of digits, possibly several
    lines) or "auto". `classify` maps a batch (N, 28, 28) uint8 to (N, 10) probabilities; it decides where
    touching digits are cut and, in auto mode, ambiguous layouts. A picture without ink gives [].
    """
    return locate(gray, mode, classify).lines


def locate(gray: np.ndarray, mode: str = "auto", classify: Classify | None = None) -> Located:
    """`find_digits`, with the mode the picture was read in ("digit" or "number") and its ink's polarity."""
    check_mode(mode)
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise DigitreaderError(f"image of shape {gray.shape} and dtype {gray.dtype}: expected 2-D uint8 gray")
    small, scale = _analysis_copy(gray)
    found = _locate_in(small, scale, (gray.shape[0], gray.shape[1]), mode, classify)
    if scale < 1.0:
        found = _look_closer(gray, small, scale, found, mode, classify)
    return found


def _locate_in(
    small: np.ndarray, scale: float, shape: tuple[int, int], mode: str, classify: Classify | None
) -> Located:
    """`locate` on an analysis copy `small` of a picture of `shape`, shrunk by `scale`."""
    if mode == "digit":
        lines, scale, vote = _digit_mode(small, scale, classify)
    else:
        vote = polarity_vote(small)  # voted here, not inside ink_map, so a one-digit reading can reuse it
        ink = ink_map(small, dark=vote > 0)
        if not ink.any():
            return Located([], "number" if mode == "number" else "digit", vote > 0)
        if mode == "auto":
            mode = choose_mode(ink, classify)
        if mode == "digit":  # with digit mode's check of an unsure polarity vote (the one `ink` followed)
            lines = _single_either_polarity(small, vote, classify, ink)
        else:
            lines = locate_digits(ink, classify)
    log.debug("%s mode: %s digits per line", mode, [len(line) for line in lines])
    found = [[replace(c, box=_to_input(c.box, scale, shape)) for c in line] for line in lines]
    return Located(found, "digit" if mode == "digit" else "number", vote > 0)


def _classified(found: Located, classify: Classify | None) -> Located:
    """`found` with every digit's probabilities (kept: the recogniser does not classify them again)."""
    if classify is None:
        return found
    digits = iter(classified([c for line in found.lines for c in line], classify))
    return replace(found, lines=[[next(digits) for _ in line] for line in found.lines])


def _sureness(found: Located) -> float:
    """The mean top probability of the digits found (0 without digits; 1 when they are unclassified)."""
    tops = [1.0 if c.probs is None else float(np.max(c.probs)) for line in found.lines for c in line]
    return float(np.mean(tops)) if tops else 0.0


def _suspect(found: Located, scale: float, shape: tuple[int, int]) -> bool:
    """Whether the analysis copy of a shrunk picture (`shape`) may have missed small writing: it found
    nothing, mostly digits too small there to read well, one digit as large as the picture, or digits
    the classifier is unsure of (paper grain stretched to ink reads as many tiny marks or blobs of any
    size, mostly unsurely)."""
    boxes = [c.box for line in found.lines for c in line]
    if not boxes:
        return True
    height = float(np.median([b[3] for b in boxes])) * scale
    if height < _SMALL_WRITING:
        return True
    if len(boxes) == 1 and boxes[0][2] >= _WHOLE * shape[1] and boxes[0][3] >= _WHOLE * shape[0]:
        return True
    return _sureness(found) < _UNSURE_READING


def _look_closer(
    gray: np.ndarray, small: np.ndarray, scale: float, found: Located, mode: str, classify: Classify | None
) -> Located:
    """A large picture (analysed on `small`, shrunk by `scale`) whose analysis copy may have missed small
    writing (`_suspect`), read again in full size in windows around the marks that stand out from its
    paper (`vision.spots`). The surer of the two readings; when neither finds a digit, a note says what
    was tried."""
    found = _classified(found, classify)
    shape = (gray.shape[0], gray.shape[1])
    if not _suspect(found, scale, shape):
        return found
    # A few small marks hardly sway the polarity vote over a whole sheet: the other way too, if need be.
    spots = ink_spots(small, found.dark_ink) or ink_spots(small, not found.dark_ink)
    windows = full_size_windows(spots, scale, shape, _ANALYSIS_PIXELS)
    if mode == "digit":
        windows = windows[:1]  # one digit: where the marks stand out most
    lines: Lines = []
    modes = set()
    for x, y, w, h in sorted(windows, key=lambda b: (b[1], b[0])):
        budget.check()
        got = _locate_in(gray[y : y + h, x : x + w], 1.0, (h, w), mode, classify)
        modes.add(got.mode)
        for line in got.lines:
            lines.append([replace(c, box=(c.box[0] + x, c.box[1] + y, c.box[2], c.box[3])) for c in line])
    read_as: Mode = "number" if len(lines) > 1 or "number" in modes else "digit"
    closer = _classified(Located(lines, read_as, found.dark_ink), classify)
    if lines and (not found.lines or _sureness(closer) > _sureness(found)):
        return closer
    if not found.lines:
        size = f"{shape[1]:,}x{shape[0]:,}"
        copy = f"{small.shape[1]:,}x{small.shape[0]:,}"
        if not spots:
            tried = "and no marks stood out from the paper to look at in full size"
        elif not windows:
            tried = "and the marks that stood out from the paper were not a little writing on a large sheet"
        else:
            tried = (
                f"nor in full size around the {len(windows)} place(s) where marks stood out from the paper"
            )
        budget.note(f"looked at a {copy} copy of the {size} picture, {tried}")
    return found
