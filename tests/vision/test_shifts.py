"""vision.shifts: each digit with its one-pixel shifts, probabilities averaged."""

from __future__ import annotations

import numpy as np

from digitreader.vision.shifts import SHIFTS, UNSURE_BELOW, shift_averaged, shifted_copies


def test_each_copy_is_the_digit_moved_by_its_shift() -> None:
    batch = np.zeros((2, 28, 28), np.uint8)
    batch[0, 10, 12] = 200
    batch[1, 20, 5] = 90
    copies = shifted_copies(batch).reshape(len(SHIFTS), 2, 28, 28)
    assert SHIFTS[0] == (0, 0) and np.array_equal(copies[0], batch)
    for k, (dx, dy) in enumerate(SHIFTS):
        assert copies[k, 0, 10 + dy, 12 + dx] == 200 and np.count_nonzero(copies[k, 0]) == 1
        assert copies[k, 1, 20 + dy, 5 + dx] == 90 and np.count_nonzero(copies[k, 1]) == 1


def test_probabilities_are_the_mean_over_the_shifts() -> None:
    # A fake classifier whose answer depends on where the ink is: the column of the brightest pixel mod 10.
    def by_column(batch: np.ndarray) -> np.ndarray:
        cols = batch.reshape(len(batch), -1).argmax(1) % 28
        return np.eye(10, dtype=np.float32)[cols % 10]

    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 14, 14] = 255  # columns seen: 14, 15, 13, 14, 14 -> classes 4, 5, 3, 4, 4
    always = shift_averaged(by_column, unsure_below=1.01)  # no answer reaches 1.01: every digit averaged
    probs = always(digit)
    assert probs.shape == (1, 10)
    assert np.allclose(probs[0, [3, 4, 5]], [0.2, 0.6, 0.2]) and np.isclose(probs.sum(), 1.0)
    # The (N, 1, 28, 28) float form the engine also takes gives the same answer.
    assert np.allclose(always(digit[:, None].astype(np.float32) / 255), probs)


def test_only_digits_the_model_is_unsure_of_are_shifted() -> None:
    # A fake classifier: the class is the brightest pixel's column mod 10, its probability that pixel's
    # brightness / 255, the rest spread over the other classes.
    calls = []

    def by_column(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        flat = batch.reshape(len(batch), -1)
        cols, top = flat.argmax(1) % 28 % 10, flat.max(1) / 255
        probs = np.repeat(((1 - top) / 9)[:, None], 10, axis=1).astype(np.float32)
        probs[np.arange(len(batch)), cols] = top
        return probs

    digits = np.zeros((3, 28, 28), np.uint8)
    digits[0, 14, 14] = 255  # sure (1.0): kept as framed
    digits[1, 14, 14] = 102  # unsure (0.4): averaged over its shifts, columns 14, 15, 13, 14, 14
    digits[2, 10, 20] = round(255 * UNSURE_BELOW) + 1  # just sure enough: kept
    probs = shift_averaged(by_column)(digits)
    assert calls == [3, len(SHIFTS) - 1]  # all three as framed, then the unsure one's four shifts
    assert np.allclose(probs[[0, 2]], by_column(digits[[0, 2]]))
    assert np.allclose(
        probs[1, [3, 4, 5]],
        [0.4 / 5 + 0.6 / 9 * 4 / 5, 0.4 * 3 / 5 + 0.6 / 9 * 2 / 5, 0.4 / 5 + 0.6 / 9 * 4 / 5],
    )
    assert np.isclose(probs[1].sum(), 1.0)


def test_an_empty_or_misshapen_batch_goes_to_the_classifier_as_it_is() -> None:
    seen = []

    def classify(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return np.zeros((len(batch), 10), np.float32)

    assert shift_averaged(classify)(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)
    shift_averaged(classify)(np.zeros((2, 32, 32), np.uint8))  # the classifier's own error would name it
    assert seen == [(0, 28, 28), (2, 32, 32)]
