"""Strips: the window around a line and its cut to the reader's height."""

from __future__ import annotations

import numpy as np

from digitreader.contract import STRIP_HEIGHT
from digitreader.vision.strip import cut_strip, line_window


def test_the_window_adds_margins_in_line_heights_and_stays_in_the_picture() -> None:
    assert line_window((50, 40, 100, 20), (200, 300), 0.25, 0.5) == (40, 35, 120, 30)
    assert line_window((2, 1, 30, 20), (25, 34), 0.25, 0.5) == (0, 0, 34, 25)


def test_the_strip_is_the_window_scaled_to_the_reader_height() -> None:
    ink = np.zeros((100, 300), np.uint8)
    ink[40:60, 100:110] = 255
    strip, scale = cut_strip(ink, (80, 30, 120, 40))
    assert strip.shape == (STRIP_HEIGHT, 96) and scale == 0.8
    cols = np.flatnonzero(strip.max(axis=0) > 128)
    assert abs(cols.min() - (100 - 80) * scale) <= 1 and abs(cols.max() - (110 - 80) * scale) <= 1
