"""Reading accuracy on a fixed seeded set of realistic synthetic pictures (MNIST test digits, seeds never used
for tuning), beside the naive baseline.

The floors sit a little under what the bundled model measured on exactly these pictures (singles 98.3 %,
numbers 94 %; see /work/dev/vision-results.md), so a regression in the pipeline fails them. The aims of 99 %
and 95 % are not reached on this subset yet (the misses are thick markers closing loops, strong rotation,
narrow touching pairs); `python -m benchmarks.read_accuracy` tracks them on a larger set.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.data.synth import make_numbers, make_single_digits
from digitreader.vision.load import load_image
from digitreader.vision.pipeline import find_digits

Classify = Callable[[np.ndarray], np.ndarray]

SEED = 5000  # tuning used seeds 0-999; the benchmark reports from 1000


def read(gray: np.ndarray, mode: str, classify: Classify) -> str:
    lines = find_digits(gray, mode, classify)
    return "\n".join(
        "".join(
            str(int((c.probs if c.probs is not None else classify(c.image[None])[0]).argmax())) for c in line
        )
        for line in lines
    )


@pytest.mark.slow
def test_single_digits_are_read_far_better_than_by_naive_resizing(
    mnist_dir: Path, classify: Classify
) -> None:
    samples = make_single_digits(300, SEED, data_dir=mnist_dir)
    grays = [load_image(s.image) for s in samples]
    right = [read(g, "digit", classify) == s.text for g, s in zip(grays, samples, strict=True)]
    naive = []
    for g, s in zip(grays, samples, strict=True):
        small = cv2.resize(g, (28, 28), interpolation=cv2.INTER_AREA)
        small = 255 - small if small.mean() > 127 else small
        naive.append(str(int(classify(small[None])[0].argmax())) == s.text)
    wrong = [(i, s.style, s.text) for i, (s, ok) in enumerate(zip(samples, right, strict=True)) if not ok]
    assert np.mean(right) >= 0.98, wrong
    assert np.mean(naive) < 0.8  # the gap this pipeline exists to close


@pytest.mark.slow
def test_numbers_are_read_exactly(mnist_dir: Path, classify: Classify) -> None:
    samples = make_numbers(100, SEED, data_dir=mnist_dir)
    texts = [read(load_image(s.image), "number", classify) for s in samples]
    wrong = [(s.style, s.text, t) for s, t in zip(samples, texts, strict=True) if t != s.text]
    assert len(wrong) <= 8, wrong


@pytest.mark.slow
def test_auto_mode_reads_both_kinds(mnist_dir: Path, classify: Classify) -> None:
    singles = make_single_digits(100, SEED + 1, data_dir=mnist_dir)
    numbers = make_numbers(50, SEED + 1, data_dir=mnist_dir)
    ok_single = np.mean([read(load_image(s.image), "auto", classify) == s.text for s in singles])
    ok_number = np.mean([read(load_image(s.image), "auto", classify) == s.text for s in numbers])
    assert ok_single >= 0.97 and ok_number >= 0.9, (ok_single, ok_number)
