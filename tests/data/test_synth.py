"""synth: reproducible pictures made from MNIST test digits, with ground truth that matches the pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitreader.data.synth import (
    NUMBER_STYLES,
    SINGLE_STYLES,
    load_test_digits,
    make_numbers,
    make_single_digits,
)
from digitreader.errors import DataError


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else image.mean(axis=2)


def test_same_seed_same_pictures_and_sample_i_does_not_depend_on_n(mnist_sample_dir: Path) -> None:
    a = make_single_digits(6, seed=3, data_dir=mnist_sample_dir)
    b = make_single_digits(4, seed=3, data_dir=mnist_sample_dir)
    for x, y in zip(a[:4], b, strict=True):
        assert np.array_equal(x.image, y.image) and x.text == y.text and x.boxes == y.boxes
    c = make_single_digits(4, seed=4, data_dir=mnist_sample_dir)
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(b, c, strict=True))
    n1, n2 = (
        make_numbers(3, seed=5, data_dir=mnist_sample_dir),
        make_numbers(3, seed=5, data_dir=mnist_sample_dir),
    )
    assert all(np.array_equal(x.image, y.image) and x.text == y.text for x, y in zip(n1, n2, strict=True))


def test_single_digits_cover_every_style_with_boxes_on_the_ink(mnist_sample_dir: Path) -> None:
    samples = make_single_digits(len(SINGLE_STYLES), seed=0, data_dir=mnist_sample_dir)
    assert [s.style for s in samples] == list(SINGLE_STYLES)
    for s in samples:
        assert s.image.dtype == np.uint8 and s.image.ndim in (2, 3)
        assert len(s.text) == 1 and s.text.isdigit() and len(s.boxes) == 1
        x, y, w, h = s.boxes[0]
        gray = _gray(s.image)
        assert x >= 0 and y >= 0 and x + w <= gray.shape[1] and y + h <= gray.shape[0]
        inside = gray[y : y + h, x : x + w]
        # The ink is there: the box holds pixels far from the typical (paper) level.
        paper = float(np.median(gray))
        assert np.abs(inside - paper).max() > 50, s.style


def test_numbers_text_and_boxes_agree(mnist_sample_dir: Path) -> None:
    samples = make_numbers(2 * len(NUMBER_STYLES), seed=0, data_dir=mnist_sample_dir)
    assert {s.style for s in samples} == set(NUMBER_STYLES)
    for s in samples:
        digits = s.text.replace("\n", "")
        assert digits.isdigit() and len(s.boxes) == len(digits)
        for line in s.text.split("\n"):
            assert 3 <= len(line) <= 8
        h, w = _gray(s.image).shape
        for x, y, bw, bh in s.boxes:
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
        # Within a line digits go left to right; a second line starts below the first.
        lines = s.text.split("\n")
        first = s.boxes[: len(lines[0])]
        assert all(a[0] < b[0] for a, b in zip(first, first[1:], strict=False))
        if len(lines) == 2:
            assert min(b[1] for b in s.boxes[len(lines[0]) :]) > max(b[1] for b in first)
    assert any("\n" in s.text for s in samples)


def test_only_test_digits_are_read(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    images, labels = load_test_digits(tiny_mnist_dir)
    assert images.shape == (200, 28, 28) and labels.shape == (200,)
    # Without the t10k files there is nothing to draw from, even if training files exist.
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        (tiny_mnist_dir / "train-images-idx3-ubyte.gz").read_bytes()
    )
    with pytest.raises(DataError, match="t10k-images"):
        load_test_digits(tmp_path)
