"""A shorter way through the pipeline for pictures that are already one small digit (a form's cut-out box,
an MNIST-style crop), with the readings of the full way.

`locate_small(gray, mode, classify)` answers what `vision.pipeline.locate` would, or None where it cannot
promise that (the caller then takes the full way). It applies in digit mode to pictures no larger than
`MAX_SIDE` on each side, and skips only work whose result it can tell in advance:

1. no shrinking: such a picture is below every size at which the pipeline shrinks one;
2. the polarity vote and the ink map as the pipeline makes them; an unsure vote (which the pipeline
   settles by reading the picture both ways) takes the full way;
3. the search for printed lines spanning the picture (`ruled_lines.ink_mask`): a line is a straight run of
   ink at least 0.9 of the picture long, and no run is longer than the ink's extent. Where the ink spans
   too little for one (`may_hold_a_line`), nothing can be removed, and the digit is what
   `single_digit_candidates` gives then, its one candidate. Where a line may be there, or the digit
   reaches the picture's border (a tight crop, read again inside a margin: `vision.margin`), or there is
   none, the pipeline's own step runs on the same ink map.
"""

from __future__ import annotations

import numpy as np

from digitreader.vision.candidate import Candidate, Classify
from digitreader.vision.margin import touches_border
from digitreader.vision.pipeline import Located, _single_in
from digitreader.vision.preprocess import _digit_of, ink_map, polarity_vote
from digitreader.vision.ruled_lines import LOW_LEVEL

MAX_SIDE = 64  # pictures at most this many pixels on each side may take the short way
# What `vision.pipeline` keeps to itself and this module must match: one-digit pictures are shrunk only
# above 160 px (`_DIGIT_SIDE`) and 1.5 megapixels; a vote under 0.4 is unsure (`_UNSURE_POLARITY`).
_UNSURE_POLARITY = 0.4
_LINE_SPAN = 0.9  # `ruled_lines.ink_mask(single=True)`: a removed line spans this much of the picture
_LINE_MIN = 20  # ... and is at least this long (`ruled_lines.line_pixels`)


def locate_small(gray: np.ndarray, mode: str, classify: Classify | None = None) -> Located | None:
    """`vision.pipeline.locate(gray, mode, classify)` for a small one-digit picture; None where the full
    pipeline must decide (found out before any work but the polarity vote)."""
    if mode != "digit" or not isinstance(gray, np.ndarray) or gray.ndim != 2 or gray.dtype != np.uint8:
        return None
    if gray.size == 0 or max(gray.shape) > MAX_SIDE:
        return None
    vote = polarity_vote(gray)
    if classify is not None and abs(vote) < _UNSURE_POLARITY:
        return None  # cheap to give up here: the vote is the one step the full way repeats
    ink = ink_map(gray, dark=vote > 0)
    found = _digit_of(ink) if ink.any() and not may_hold_a_line(ink) else None
    if found is not None and not touches_border(found[1], (gray.shape[0], gray.shape[1])):
        return Located([[Candidate(box=found[1], image=found[0])]], "digit", vote > 0)
    # What the pipeline does with this ink map and a sure vote (`_single_either_polarity`): the line
    # search, and a digit reaching the border (a tight crop) read again inside a margin of paper.
    return Located(_single_in(gray, vote > 0, classify, ink), "digit", vote > 0)


def may_hold_a_line(ink: np.ndarray) -> bool:
    """False only where `ruled_lines.ink_mask(ink, single=True)` can remove nothing.

    A removed line is a run (`ruled_lines.open_rows`) of at least the shortest line length
    `ruled_lines.line_pixels` uses, in the ink above `LOW_LEVEL` thickened across the run; a run lies within
    the ink's extent along it, and one that reaches the picture's edge counts as going on past it, so it
    needs only about half.
    """
    low = ink >= LOW_LEVEL
    return _too_long(np.asarray(low.any(axis=0))) or _too_long(np.asarray(low.any(axis=1)))


def _too_long(occupied: np.ndarray) -> bool:
    """Whether ink spread over `occupied` (one flag per column or row) could hold a line's run."""
    side = len(occupied)
    where = np.flatnonzero(occupied)
    first, last = int(where[0]), int(where[-1])
    length = int(max(_LINE_MIN, _LINE_SPAN * side))
    half = length // 2
    at_edge = first == 0 or last == side - 1
    return last - first + 1 >= (min(length - half, half + 1) if at_edge else length)
