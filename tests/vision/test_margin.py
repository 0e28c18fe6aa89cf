"""Tight crops read as well as the same pictures with a margin (`vision.margin`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.recognizer import Recognizer
from digitreader.vision.margin import evenly_lit, inside, touches_border, with_margin

SIZES = (16, 28, 32, 64)
DIGITS = 200  # MNIST test digits per size and kind, spread over the test set


def _tight(paper: np.ndarray, size: int) -> np.ndarray:
    """Dark ink on white cut to its ink box, scaled to `size` px on its longer side (at least 4 px wide)."""
    ys, xs = np.nonzero(paper < 255)
    cut = paper[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = size / max(cut.shape)
    shape = (max(1, round(cut.shape[1] * scale)), max(1, round(cut.shape[0] * scale)))
    out = cv2.resize(cut, shape, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    grow = max(0, 4 - out.shape[1])
    return cv2.copyMakeBorder(out, 0, 0, grow // 2, grow - grow // 2, cv2.BORDER_CONSTANT, value=255)


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(mnist_dir)
    pick = np.linspace(0, len(images) - 1, DIGITS).astype(int)
    return images[pick], labels[pick]


@pytest.mark.parametrize("binary", [False, True], ids=["grey", "binarised"])
def test_tight_crops_read_as_well_as_padded_ones(
    mnist_test: tuple[np.ndarray, np.ndarray], recognizer: Recognizer, binary: bool
) -> None:
    # Before the margin, tight crops of these digits read 4-10 points worse than padded ones (ink at the
    # border was taken for background; a bold digit filling its crop left no paper to measure noise on).
    images, labels = mnist_test
    misread = {"tight": 0, "padded": 0}
    for size in SIZES:
        margin = max(2, size // 4)
        for image, label in zip(images, labels, strict=True):
            crop = _tight(255 - image, size)
            if binary:
                crop = np.where(crop < 128, 0, 255).astype(np.uint8)
            padded = cv2.copyMakeBorder(crop, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255)
            misread["tight"] += recognizer.read(crop, "digit").digits_text != str(label)
            misread["padded"] += recognizer.read(padded, "digit").digits_text != str(label)
    n = len(SIZES) * len(labels)
    assert (misread["tight"] - misread["padded"]) / n <= 0.005, misread


def test_a_box_at_the_edge_touches_the_border() -> None:
    assert touches_border((0, 5, 10, 10), (40, 40))
    assert touches_border((5, 5, 35, 10), (40, 40))
    assert not touches_border((1, 1, 38, 38), (40, 40))


def test_the_margin_is_paper_and_boxes_map_back() -> None:
    gray = np.full((20, 10), 230, np.uint8)
    gray[:, 3:7] = 20  # a "1" filling the crop from top to bottom
    padded, margin = with_margin(gray, dark=True)
    assert margin == 5 and padded.shape == (30, 20)
    assert padded[:margin].min() == 230 and np.array_equal(padded[margin:-margin, margin:-margin], gray)
    assert inside((margin + 3, margin, 4, 20), margin, gray.shape) == (3, 0, 4, 20)
    assert inside((1, 2, 28, 30), margin, gray.shape) == (0, 0, 10, 20)  # clipped to the picture


def test_a_shadow_or_a_blank_sheet_is_not_ink_on_even_paper_but_a_stroke_s_rim_is() -> None:
    gray = np.full((60, 60), 220, np.uint8)
    cv2.line(gray, (5, 0), (50, 59), 30, 4, cv2.LINE_AA)
    assert evenly_lit(gray, dark=True)
    shaded = gray.copy()
    shaded[:, :25] = (shaded[:, :25] * 0.6).astype(np.uint8)  # a hard shadow over the left part
    assert not evenly_lit(shaded, dark=True)
    blank = np.random.default_rng(0).normal(215, 3, (60, 60)).clip(0, 255).astype(np.uint8)
    assert not evenly_lit(blank, dark=True)  # nothing a margin could help find
