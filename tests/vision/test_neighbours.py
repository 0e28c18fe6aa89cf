"""Digit mode reads the digit a crop is centred on, not the fragments of its neighbours at the sides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitreader.data.neighbour_crops import neighbour_crops
from digitreader.recognizer import Recognizer
from digitreader.vision import pipeline
from digitreader.vision.neighbours import central_ink

MIDDLE_DIGITS = 40  # of the committed sample's 300 test digits, each cut 18 ways (sizes, looks, sides)


def _ink(width: int, *boxes: tuple[int, int, int, int]) -> np.ndarray:
    ink = np.zeros((28, width), np.uint8)
    for x, y, w, h in boxes:
        ink[y : y + h, x : x + w] = 255
    return ink


def test_a_fragment_at_a_side_goes_and_the_middle_digit_stays() -> None:
    ink = _ink(40, (0, 4, 5, 20), (12, 4, 14, 20), (35, 6, 5, 16))
    kept = central_ink(ink)
    assert not kept[:, :8].any() and not kept[:, 30:].any()
    assert np.array_equal(kept[:, 10:28], ink[:, 10:28])


def test_a_tight_crop_s_own_pieces_stay() -> None:
    # The middle column reaches the right edge: the crop is cut tightly, its left piece is the digit's.
    tight = _ink(30, (0, 4, 8, 20), (12, 4, 18, 20))
    assert central_ink(tight) is tight
    # A side piece heavier than the middle one is not a glimpse of a neighbour.
    heavy = _ink(40, (0, 2, 12, 24), (16, 4, 6, 20))
    assert central_ink(heavy) is heavy
    # Nothing at the sides: nothing to drop.
    lone = _ink(40, (12, 4, 14, 20))
    assert central_ink(lone) is lone


def test_the_frame_says_where_the_crop_s_sides_are() -> None:
    # Inside a margin (a tight crop padded by `vision.margin`) the sides are the frame's, not the map's.
    ink = np.zeros((48, 60), np.uint8)
    ink[14:34, 10:15] = 255  # fragment at the frame's left edge (x = 10)
    ink[14:34, 22:36] = 255  # the digit
    assert central_ink(ink, (10, 10, 40, 28))[:, 10:15].max() == 0
    assert central_ink(ink, (0, 0, 60, 48)) is ink


def test_crops_with_neighbours_read_nearly_as_well_as_the_digit_alone(
    mnist_sample_dir: Path, recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(mnist_sample_dir)
    crops = [crop for _, crop in neighbour_crops(images, labels, MIDDLE_DIGITS, seed=1000)]

    def misread(pictures: str) -> int:
        return sum(recognizer.read(getattr(c, pictures), "digit").digits_text != str(c.label) for c in crops)

    alone, with_neighbours = misread("alone"), misread("crop")
    # Measured on these 720 crops: none misread alone, 13 with neighbours (without `central_ink`: 104).
    assert with_neighbours - alone <= 0.025 * len(crops), (with_neighbours, alone)
    monkeypatch.setattr(pipeline, "central_ink", lambda ink, frame=None: ink)
    assert misread("crop") - alone > 0.05 * len(crops)  # the test tells the two readers apart
