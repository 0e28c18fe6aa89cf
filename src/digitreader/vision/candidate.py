"""What locating a picture's digits hands to classification: one located digit (`Candidate`, frozen), and the
types the locating steps share.

A step that asks the classifier about a digit keeps the answer by making the candidate with its `probs`
(or a new one through `classified`); nothing fills in an existing candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Box", "Candidate", "Classify", "classified"]

Box = tuple[int, int, int, int]  # x, y, w, h
# A batch of digit images (N, 28, 28) uint8 -> their probabilities (N, 10).
Classify = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    """One located digit: its box (x, y, w, h), its 28x28 image (ink bright, MNIST framing), and the
    classifier's probabilities when a locating step already asked for them."""

    box: Box
    image: np.ndarray
    probs: np.ndarray | None = None


def classified(candidates: Sequence[Candidate], classify: Classify) -> list[Candidate]:
    """`candidates` with every one's probabilities: those without are classified together, in one batch, and
    come back as new candidates; those with keep theirs."""
    todo = [c for c in candidates if c.probs is None]
    if not todo:
        return list(candidates)
    probs = iter(np.asarray(classify(np.stack([c.image for c in todo])), dtype=np.float32))
    return [c if c.probs is not None else replace(c, probs=next(probs)) for c in candidates]
