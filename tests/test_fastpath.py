"""The short way for small one-digit pictures finds what the full pipeline finds (boxes, framed digits,
probabilities), on MNIST digits, on the realistic set, and where a line may span the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitreader import Recognizer
from digitreader.data.idx import read_idx
from digitreader.data.synth import make_single_digits
from digitreader.fastpath import MAX_SIDE, locate_small, may_hold_a_line
from digitreader.vision.pipeline import Located, locate


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load(threads=1)


def same(a: Located, b: Located) -> bool:
    return (
        (a.mode, a.dark_ink) == (b.mode, b.dark_ink)
        and [[c.box for c in line] for line in a.lines] == [[c.box for c in line] for line in b.lines]
        and all(
            np.array_equal(p.image, q.image) and np.array_equal(p.probs, q.probs)  # type: ignore[arg-type]
            for x, y in zip(a.lines, b.lines, strict=True)
            for p, q in zip(x, y, strict=True)
        )
    )


def pictures(digits: np.ndarray) -> list[np.ndarray]:
    """Each digit four ways: as MNIST has it, dark on white, on a grey ground, and a tight 20 px crop."""
    out = []
    for d in digits:
        ys, xs = np.nonzero(d)
        tight = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        out += [d, 255 - d, (200 - d * (150 / 255)).astype(np.uint8), np.ascontiguousarray(255 - tight)]
    return out


def test_mnist_digits_take_the_short_way_to_the_same_place(
    recognizer: Recognizer, mnist_sample_dir: Path
) -> None:
    images = pictures(read_idx(mnist_sample_dir / "t10k-images-idx3-ubyte.gz")[:150])
    taken = 0
    for image in images:
        short = locate_small(image, "digit", recognizer.classify)
        if short is not None:
            taken += 1
            assert same(short, locate(image, "digit", recognizer.classify))
    assert taken >= 0.9 * len(images)  # the short way is taken, not just declined


def test_the_realistic_set_reads_the_same(recognizer: Recognizer, mnist_sample_dir: Path) -> None:
    """Photos, scans and tight crops of handwriting: the small ones among them take the short way."""
    import cv2

    taken = 0
    for sample in make_single_digits(120, seed=3, data_dir=mnist_sample_dir):
        h, w = sample.image.shape
        f = 48 / max(h, w)  # and each shrunk to a 48 px crop, as a form's box cut out at low resolution
        shrunk = cv2.resize(sample.image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        for image in (sample.image, shrunk):
            short = locate_small(image, "digit", recognizer.classify)
            taken += short is not None
            assert short is None or same(short, locate(image, "digit", recognizer.classify))
    assert taken >= 60


def test_a_line_across_the_picture_is_left_to_the_full_way(
    recognizer: Recognizer, mnist_sample_dir: Path
) -> None:
    digit = 255 - read_idx(mnist_sample_dir / "t10k-images-idx3-ubyte.gz")[0]  # a 7
    ruled = digit.copy()
    ruled[24, :] = 0  # a ruled line under it, edge to edge
    from digitreader.vision.preprocess import ink_map

    assert not may_hold_a_line(ink_map(digit, dark=True))
    assert may_hold_a_line(ink_map(ruled, dark=True))
    short = locate_small(ruled, "digit", recognizer.classify)
    assert short is not None and same(short, locate(ruled, "digit", recognizer.classify))


def test_only_small_pictures_in_digit_mode(recognizer: Recognizer) -> None:
    blank = np.full((28, 28), 255, np.uint8)
    assert locate_small(blank, "auto", recognizer.classify) is None
    assert locate_small(np.full((28, MAX_SIDE + 1), 255, np.uint8), "digit") is None
    assert locate_small(blank, "digit", recognizer.classify) is None  # no vote either way: read both ways
    found = locate_small(blank, "digit")  # without a classifier the vote's sign alone decides
    assert found is not None and found.lines == [] and same(found, locate(blank, "digit"))


@pytest.mark.slow
def test_every_mnist_test_digit_reads_the_same_both_ways(recognizer: Recognizer, mnist_dir: Path) -> None:
    """All 10,000: the short way's place and framing are the full pipeline's, byte for byte."""
    digits = 255 - read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    for image in digits:
        short = locate_small(image, "digit", recognizer.classify)
        assert short is not None and same(short, locate(image, "digit", recognizer.classify))
