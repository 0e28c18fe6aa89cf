"""Small writing in large pictures: found on the analysis copy, read again in full size around it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.data import render as draw
from digitreader.data.big_photos import big_photo
from digitreader.recognizer import Recognizer
from digitreader.vision.spots import MAX_SPOTS, full_size_windows, ink_spots

HEIGHTS = (20, 24, 40)


@pytest.fixture(scope="module")
def sample(mnist_sample_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from digitreader.data.synth import load_test_digits

    return load_test_digits(mnist_sample_dir)


def test_a_small_dark_mark_on_grainy_paper_is_a_spot_and_the_grain_is_not() -> None:
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(210, 4, (600, 800)), 0, 255).astype(np.uint8)
    assert ink_spots(paper, dark=True) == []
    cv2.putText(paper, "7", (400, 300), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 40, 1, cv2.LINE_AA)
    spots = ink_spots(paper, dark=True)
    assert len(spots) == 1
    x, y, w, h = spots[0]
    assert x <= 402 and x + w >= 406 and y <= 292 and y + h >= 298


def test_windows_are_full_size_with_paper_around_and_refused_for_much_writing() -> None:
    windows = full_size_windows([(100, 100, 10, 8)], 0.25, (3000, 4000), 1_500_000)
    (x, y, w, h) = windows[0]
    assert x < 400 and y < 400 and x + w > 440 and y + h > 432  # the spot, in full-size pixels, and more
    assert (
        full_size_windows([(10 * i, 10, 8, 8) for i in range(MAX_SPOTS + 1)], 0.25, (3000, 4000), 10**7) == []
    )
    assert full_size_windows([(100, 100, 10, 80)], 0.25, (3000, 4000), 1_500_000) == []  # large writing
    assert full_size_windows([(100, 100, 10, 8)], 0.25, (3000, 4000), 1_000) == []  # over the budget
    # Two spots of one number close together give one window.
    assert len(full_size_windows([(100, 100, 6, 8), (108, 100, 6, 8)], 0.25, (3000, 4000), 10**7)) == 1


@pytest.mark.parametrize("height", HEIGHTS)
def test_a_small_digit_or_number_in_a_12_megapixel_photo_is_found(
    recognizer: Recognizer, sample: tuple[np.ndarray, np.ndarray], height: int
) -> None:
    # Before, only the 20 and 40 px numbers read right; the rest read "", the paper's grain as digits
    # ("000000306000") or a wrong digit.
    images, labels = sample
    for count, modes in ((1, ("auto", "digit")), (3, ("auto", "number"))):
        rng = np.random.default_rng([height, count])
        pick = rng.integers(len(images), size=count)
        photo, text, boxes = big_photo(images[pick], labels[pick], height, rng)
        for mode in modes:
            reading = recognizer.read(photo, mode)
            assert reading.digits_text == text, (mode, count, reading.digits_text)
            x, y, w, h = reading.digits[0].box
            bx, by, bw, bh = boxes[0]
            assert abs(x - bx) <= 3 and abs(y - by) <= 3 and abs(h - bh) <= 3  # in the photo's pixels


@pytest.mark.parametrize(
    ("height", "shape"), [(1500, (3000, 4000)), (3700, (4000, 3000))], ids=["half", "filling"]
)
def test_a_large_marker_digit_in_a_large_photo_is_read_as_before(
    recognizer: Recognizer, sample: tuple[np.ndarray, np.ndarray], height: int, shape: tuple[int, int]
) -> None:
    # Strokes wider than the spot finder's hat leave only small spots at their corners: the analysis
    # copy's sure reading must stand, also when the digit fills the photo (looked at as a grain blob).
    images, labels = sample
    rng = np.random.default_rng(1)
    k = int(np.flatnonzero(labels == 0)[0])
    glyph = draw.crop(draw.glyph(images[k], height, rng, weight=2.0))
    glyph = cv2.dilate(glyph, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (41, 41)))
    canvas = np.zeros(shape, np.float32)
    draw.paste(canvas, glyph, (shape[1] - glyph.shape[1]) // 2, (shape[0] - glyph.shape[0]) // 2)
    photo = draw.render(canvas, rng, {"texture": True, "light": True, "noise": 3.0})
    for mode in ("auto", "digit"):
        assert recognizer.read(photo, mode).digits_text == "0"


def test_a_large_blank_sheet_says_what_was_tried(recognizer: Recognizer) -> None:
    rng = np.random.default_rng(2)
    photo = draw.render(np.zeros((3000, 4000), np.float32), rng, {"light": True})
    for mode in ("auto", "digit"):
        reading = recognizer.read(photo, mode)
        assert reading.digits == () and reading.notes[0] == "no digits found"
        assert any(
            note.startswith("looked at a 1,414x1,061 copy of the 4,000x3,000 picture, ")
            for note in reading.notes
        ), reading.notes
