"""The digit a one-digit crop is centred on, without the fragments of its neighbours at the sides.

A digit cut from a line of writing carries pieces of the digits beside it at the crop's left and right
edges. The one-digit reading keeps the largest ink and the pieces near it, so a fragment either joins
the digit (a 3 with half a 0 beside it reads as an 8) or, when it outweighs a narrow digit, is read
instead. Here ink is grouped into columns (components overlapping horizontally are one column: pieces
of one digit stack, neighbours stand side by side); a column reaching the crop's left or right edge is
a neighbour's fragment when another column, at the crop's centre, holds a digit.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitreader.vision.candidate import Box
from digitreader.vision.preprocess import PIECE_LEVEL

__all__ = ["central_ink"]


_SIGNIFICANT = 0.03  # of the largest component's area: smaller marks join no column (specks)
# The centre column is a digit when it holds this share of the largest column's ink and is this tall
# against the tallest one (not a speck that happens to sit in the middle).
_CENTRE_MASS = 0.15
_CENTRE_HEIGHT = 0.5
# A side column is a fragment only when it holds less ink than this times the middle one: a neighbour
# shows a part of itself, while a tightly cut digit's two pieces can weigh alike (1.2 keeps the one such
# 4 of CVL valid's 7,000 tight crops whole; 2.0 would read 4 more of 720 neighbour crops, seed 1000).
_FRAGMENT = 1.2


def _columns(stats: np.ndarray) -> list[list[int]]:
    """Indices of `stats` rows grouped into runs of horizontally overlapping boxes, left to right."""
    order = sorted(range(len(stats)), key=lambda i: int(stats[i, cv2.CC_STAT_LEFT]))
    columns: list[list[int]] = []
    end = -1
    for i in order:
        x, w = int(stats[i, cv2.CC_STAT_LEFT]), int(stats[i, cv2.CC_STAT_WIDTH])
        if columns and x < end:
            columns[-1].append(i)
            end = max(end, x + w)
        else:
            columns.append([i])
            end = x + w
    return columns


def central_ink(ink: np.ndarray, frame: Box | None = None) -> np.ndarray:
    """`ink` (an ink map) without the neighbours' fragments at the left and right edges of `frame`
    ((x, y, w, h): where the crop lies in the map, the whole map by default). Unchanged when there are
    none, or when nothing at the centre is a digit."""
    fx, _, fw, _ = frame if frame is not None else (0, 0, ink.shape[1], ink.shape[0])
    if not (ink[:, : fx + 1] >= PIECE_LEVEL).any() and not (ink[:, fx + fw - 1 :] >= PIECE_LEVEL).any():
        return ink  # no ink reaches a side: the common case, answered without labelling the whole map
    binary = (ink >= PIECE_LEVEL).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 2:
        return ink
    stats = stats[1:]
    areas = stats[:, cv2.CC_STAT_AREA]
    big = np.flatnonzero(areas >= _SIGNIFICANT * areas.max())
    columns = [[int(big[i]) for i in col] for col in _columns(stats[big])]
    if len(columns) < 2:
        return ink
    centre = fx + fw / 2.0
    spans = [
        (
            int(stats[col, cv2.CC_STAT_LEFT].min()),
            int((stats[col, cv2.CC_STAT_LEFT] + stats[col, cv2.CC_STAT_WIDTH]).max()),
        )
        for col in columns
    ]
    middle = int(np.argmin([max(0.0, x0 - centre, centre - x1) for x0, x1 in spans]))
    mass = [int(areas[col].sum()) for col in columns]
    tops = [int(stats[col, cv2.CC_STAT_TOP].min()) for col in columns]
    bottoms = [int((stats[col, cv2.CC_STAT_TOP] + stats[col, cv2.CC_STAT_HEIGHT]).max()) for col in columns]
    heights = [b - t for t, b in zip(tops, bottoms, strict=True)]
    if mass[middle] < _CENTRE_MASS * max(mass) or heights[middle] < _CENTRE_HEIGHT * max(heights):
        return ink
    if spans[middle][0] <= fx or spans[middle][1] >= fx + fw:
        return ink  # the middle reaches a side itself: a tight crop, whose side columns are its own pieces
    cut = [
        i
        for i, (x0, x1) in enumerate(spans)
        # reaches the crop's left or right edge, and is smaller than the digit (a part of a neighbour)
        if i != middle and (x0 <= fx or x1 >= fx + fw) and mass[i] < _FRAGMENT * mass[middle]
    ]
    if not cut:
        return ink
    drop = np.zeros(n, bool)
    drop[1 + np.array([c for i in cut for c in columns[i]])] = True
    # The fragments' faint rims (under PIECE_LEVEL) go with them.
    gone = cv2.dilate(drop[labels].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    gone &= (labels == 0) | drop[labels]
    return np.where(gone, 0, ink).astype(np.uint8)
