"""One-digit crops cut from a line of MNIST *test* digits: the digit in the middle, fragments of its
neighbours at the crop's sides, and the same crop with the neighbours left out.

A line is three digits side by side (each cut to its ink columns, a small gap between them, MNIST's own
rows); the crop keeps the middle digit whole and `show` (a fraction of the neighbour's ink width) of the
neighbour on each side asked for. Crops are scaled to `size` px high, dark ink on white, grey or
binarised at 128. The alone crop is the same window without the neighbours: what the reader should read.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIDES = ("left", "right", "both")


@dataclass(frozen=True)
class NeighbourCrop:
    """A crop with neighbour fragments (`crop`), the same window without them (`alone`), the middle digit."""

    crop: np.ndarray
    alone: np.ndarray
    label: int


def _columns(digit28: np.ndarray) -> np.ndarray:
    """A 28-row MNIST digit (ink bright) cut to the columns its ink spans."""
    xs = np.flatnonzero(digit28.max(axis=0) > 0)
    return digit28[:, xs.min() : xs.max() + 1] if xs.size else digit28[:, 13:15]


def _render(ink: np.ndarray, size: int, binary: bool) -> np.ndarray:
    """Ink (bright on 0, 28 rows) -> dark on white, `size` px high."""
    scale = size / ink.shape[0]
    shape = (max(1, round(ink.shape[1] * scale)), size)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    paper = 255 - cv2.resize(ink, shape, interpolation=interp)
    return np.where(paper < 128, 0, 255).astype(np.uint8) if binary else paper.astype(np.uint8)


def neighbour_crop(
    middle: np.ndarray,
    label: int,
    left: np.ndarray,
    right: np.ndarray,
    *,
    side: str,
    show: float,
    size: int,
    binary: bool,
    rng: np.random.Generator,
) -> NeighbourCrop:
    """`middle` (an MNIST test digit, 28x28, ink bright) cut from a line between `left` and `right`, with
    `show` of the neighbour's ink width at `side` ("left", "right" or "both"); the other side keeps a
    margin of paper as wide as the gaps between digits (1-4 MNIST pixels)."""
    parts = [_columns(left), _columns(middle), _columns(right)]
    gaps = [int(rng.integers(1, 5)) for _ in range(2)]
    width = sum(p.shape[1] for p in parts) + sum(gaps)
    line = np.zeros((28, width), np.uint8)
    alone = np.zeros_like(line)
    starts = [0, parts[0].shape[1] + gaps[0], parts[0].shape[1] + gaps[0] + parts[1].shape[1] + gaps[1]]
    for i, (part, x) in enumerate(zip(parts, starts, strict=True)):
        line[:, x : x + part.shape[1]] = part
        if i == 1:
            alone[:, x : x + part.shape[1]] = part
    x0 = starts[1] - gaps[0]  # a paper margin as wide as the gap where no fragment shows
    x1 = starts[2]
    if side in ("left", "both"):
        x0 = starts[1] - gaps[0] - max(1, round(show * parts[0].shape[1]))
    if side in ("right", "both"):
        x1 = starts[2] + max(1, round(show * parts[2].shape[1]))
    return NeighbourCrop(
        _render(line[:, x0:x1], size, binary), _render(alone[:, x0:x1], size, binary), int(label)
    )


def neighbour_crops(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    seed: int,
    *,
    sizes: tuple[int, ...] = (28, 56, 112),
    show: tuple[float, float] = (0.2, 0.45),
) -> list[tuple[str, NeighbourCrop]]:
    """`n` middle digits spread over `images`, each cut at every size, grey and binarised, with fragments
    at the left, the right and both sides: (kind, crop) pairs, kind like "56px grey both"."""
    out = []
    picks = np.linspace(0, len(images) - 1, n).astype(int)
    for i, k in enumerate(picks):
        rng = np.random.default_rng([seed, i])
        a, b = (int(v) for v in rng.integers(len(images), size=2))
        for size in sizes:
            for binary in (False, True):
                for side in SIDES:
                    crop = neighbour_crop(
                        images[k],
                        int(labels[k]),
                        images[a],
                        images[b],
                        side=side,
                        show=float(rng.uniform(*show)),
                        size=size,
                        binary=binary,
                        rng=rng,
                    )
                    out.append((f"{size}px {'binarised' if binary else 'grey'} {side}", crop))
    return out
