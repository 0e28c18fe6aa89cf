"""PNG grids: layout, labels, wrong predictions in red, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader.data.grid import WRONG, save_grid
from digitreader.errors import DataError


def _digits(n: int) -> np.ndarray:
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 8:20, 12:16] = 255
    return images


def test_grid_layout_and_pixels(tmp_path: Path) -> None:
    out = save_grid(_digits(10), list(range(10)), tmp_path / "g.png", columns=5, scale=2)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        cell_w = img.width // 5
        assert img.width == 5 * cell_w and img.height == 2 * (56 + 14 + 8)
        pixels = np.asarray(img)
    # First cell: black digit area with the white bar (ink bright), no red anywhere.
    assert (pixels[4 + 8 * 2 + 2, 4 + 12 * 2 + 2] == 255).all()
    assert (pixels[4 + 2, 4 + 2] == 0).all()
    assert not _has(pixels, WRONG)
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temp file left


def test_wrong_predictions_are_red(tmp_path: Path) -> None:
    labels = np.arange(6)
    save_grid(_digits(6), labels, tmp_path / "right.png", predictions=labels)
    save_grid(_digits(6), labels, tmp_path / "wrong.png", predictions=[0, 1, 2, 3, 4, 9], title="errors")
    assert not _has(np.asarray(Image.open(tmp_path / "right.png")), WRONG)
    wrong = np.asarray(Image.open(tmp_path / "wrong.png"))
    assert _has(wrong, WRONG)


def test_default_columns_and_float_input(tmp_path: Path) -> None:
    floats = _digits(20).astype(np.float32) / 255.0
    with Image.open(save_grid(floats, np.zeros(20, int), tmp_path / "f.png", scale=1)) as img:
        assert img.width == 5 * (28 + 8)  # ceil(sqrt(20)) = 5 columns
        assert np.asarray(img)[4 + 10, 4 + 13].tolist() == [255, 255, 255]


def test_empty_and_mismatched(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no images"):
        save_grid(np.zeros((0, 28, 28), np.uint8), [], tmp_path / "e.png")
    with pytest.raises(ValueError):
        save_grid(_digits(3), [1, 2], tmp_path / "m.png")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot write"):
        save_grid(_digits(2), [1, 2], tmp_path / "missing-folder" / "g.png")


def _has(pixels: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((pixels == np.array(colour, np.uint8)).all(axis=-1).any())


def test_words_of_a_title_are_drawn_apart(tmp_path: Path) -> None:
    """Pillow's built-in font draws a space 2 px wide: "24 misclassified" looked like one word."""
    out = save_grid(_digits(2), np.array([1, 2]), tmp_path / "t.png", title="24 misclassified")
    strip = np.asarray(Image.open(out).convert("L"))[:16]
    inked = np.flatnonzero((strip < 160).any(axis=0))
    gaps = np.diff(inked) - 1  # blank columns between inked ones
    assert gaps.max() >= 4, gaps
