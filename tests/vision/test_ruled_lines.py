"""`open_rows` computes exactly OpenCV's opening by a horizontal line, including at the picture's edges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitreader.vision.ruled_lines import open_rows, remove_lines


def opencv_open(binary: np.ndarray, length: int) -> np.ndarray:
    return cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))


@pytest.mark.parametrize("seed", range(4))
def test_open_rows_equals_opencv_on_random_pictures(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 40, size=2))
        binary = (rng.random((h, w)) < rng.uniform(0.2, 0.99)).astype(np.uint8)
        length = int(rng.integers(1, 2 * w + 2))  # odd and even, shorter and longer than the row
        np.testing.assert_array_equal(open_rows(binary, length), opencv_open(binary, length))


def test_open_rows_keeps_a_ruled_line_and_drops_digit_strokes() -> None:
    page = np.zeros((60, 200), np.uint8)
    page[40, 5:195] = 1  # a ruled line
    page[10:35, 50:53] = 1  # a "1"
    page[10, 80:100] = 1  # the bar of a "7"
    opened = open_rows(page, 101)  # odd: an even line shifts the result by a pixel, as in OpenCV
    assert opened[40, 5:195].all() and opened.sum() == 190


def test_remove_lines_takes_the_rule_and_heals_the_stroke_crossing_it() -> None:
    page = np.zeros((60, 200), bool)
    page[40, :] = True
    page[20:55, 60:63] = True  # a stroke crossing the line
    cleaned, removed = remove_lines(page, height=30.0)
    assert not cleaned[40, 100] and removed[40, 100]
    assert cleaned[20:55, 61].all()  # healed across the line
