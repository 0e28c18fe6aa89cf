"""The sequence reader's alphabet, best-path decoding and the tidying of a reading."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from digitreader.ctc import (
    ALPHABET,
    BLANK,
    NUM_CLASSES,
    digits_log_likelihood,
    digits_only,
    edit_distance,
    encode,
    faint_separators,
    greedy_decode,
    kept,
    text_of,
)


def _probs(path: str, sure: float = 0.9) -> np.ndarray:
    """Column probabilities whose best path is `path` ('_' = blank), each column `sure` of its class."""
    out = np.full((len(path), NUM_CLASSES), (1 - sure) / (NUM_CLASSES - 1), np.float32)
    for t, ch in enumerate(path):
        out[t, BLANK if ch == "_" else ALPHABET.index(ch) + 1] = sure
    return out


def test_the_alphabet_is_digits_and_the_marks_written_inside_numbers() -> None:
    assert ALPHABET == "0123456789.,- " and NUM_CLASSES == 15
    assert encode("10.4") == [2, 1, 11, 5]
    with pytest.raises(ValueError, match="not in the alphabet"):
        encode("1/2")


def test_greedy_decoding_merges_repeats_and_keeps_doubles_split_by_a_blank() -> None:
    emitted = greedy_decode(_probs("_11_1__0.__55_5"))
    assert "".join(e.char for e in emitted) == "110.55"
    first = emitted[0]
    assert (first.first, first.last) == (1, 2) and first.peak in (1, 2)
    assert first.confidence == pytest.approx(0.9)


def test_the_best_column_of_a_character_is_its_most_probable() -> None:
    probs = _probs("_777_")
    probs[2, ALPHABET.index("7") + 1] = 0.99
    (seven,) = greedy_decode(probs)
    assert seven.peak == 2 and seven.confidence == pytest.approx(0.99)


def test_decoding_refuses_probabilities_of_another_alphabet() -> None:
    with pytest.raises(ValueError, match="expected"):
        greedy_decode(np.zeros((4, 11)))


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("1_2_._5_-", "12.5"),  # the dash after an amount is not part of it
        ("-_1_2", "-12"),  # a minus sign before it is
        (",_1_,_2_,_-", "1,2"),
        ("1_._._2", "1.2"),  # one mark per gap
        ("5_5_5_-_0_1", "555-01"),
        ("._,_-", ""),  # marks alone are no number
        ("1_2_ _3_4_5", "12 345"),
    ],
)
def test_a_reading_keeps_separators_between_digits_and_a_leading_minus(path: str, text: str) -> None:
    assert text_of(greedy_decode(_probs(path))) == text


def test_kept_gives_positions_in_the_raw_reading() -> None:
    assert kept(".12.-4") == [1, 2, 3, 5]


def test_digits_only_and_edit_distance() -> None:
    assert digits_only("-1,250.5\n7") == "125057"
    assert (
        edit_distance("1250", "1205") == 2 and edit_distance("", "12") == 2 and edit_distance("12", "12") == 0
    )


def test_weights_favour_a_class_without_changing_confidences() -> None:
    from digitreader.ctc import reading_weights

    probs = _probs("1_2")
    probs[1, BLANK], probs[1, ALPHABET.index(".") + 1] = 0.6, 0.3  # a faint point between 1 and 2
    assert text_of(greedy_decode(probs)) == "12"
    marked = greedy_decode(probs, reading_weights(4.0))
    assert text_of(marked) == "1.2" and marked[1].confidence == pytest.approx(0.3)
    assert reading_weights(4.0)[ALPHABET.index(",") + 1] == 4.0 and reading_weights(4.0)[BLANK] == 1.0


def test_a_faint_mark_between_two_digits_is_read_from_the_blank_columns_between_them() -> None:
    probs = _probs("1__2_3")
    dot, comma = ALPHABET.index(".") + 1, ALPHABET.index(",") + 1
    probs[2, BLANK], probs[2, dot], probs[2, comma] = 0.85, 0.05, 0.05  # a dot the best path drops
    probs[4, BLANK], probs[4, comma] = 0.95, 0.03  # too faint between 2 and 3
    best = greedy_decode(probs)
    assert text_of(best) == "123"
    marked = faint_separators(best, probs, floor=0.08)
    assert text_of(marked) == "1.23"  # "." and "," together pass the floor; the likelier of the two
    assert marked[1].peak == 2 and marked[1].confidence == pytest.approx(0.1)
    assert text_of(faint_separators(best, probs, floor=0.2)) == "123"
    assert faint_separators(best, probs, floor=0.0) == best  # off
    # Digits side by side leave no blank column to look in; a mark already read is not doubled.
    touching = _probs("12")
    assert text_of(faint_separators(greedy_decode(touching), touching, floor=0.01)) == "12"
    read = _probs("1_._2")
    read[1, dot] = read[3, dot] = 0.2
    assert text_of(faint_separators(greedy_decode(read), read, floor=0.08)) == "1.2"


def _brute_force(probs: np.ndarray, digits: str) -> float:
    """The probability of `digits` summed over every path, non-digits counted as blanks."""
    total = 0.0
    for path in itertools.product(range(NUM_CLASSES), repeat=len(probs)):
        chars = [ALPHABET[k - 1] if 1 <= k <= 10 else "" for k in path]
        merged = [c for i, c in enumerate(chars) if c and (i == 0 or chars[i - 1] != c)]
        if "".join(merged) == digits:
            total += float(np.prod([probs[t, k] for t, k in enumerate(path)]))
    return total


@pytest.mark.parametrize("digits", ["", "1", "7", "11", "12", "121", "1111"])
def test_the_likelihood_of_a_digit_string_sums_every_path(digits: str) -> None:
    probs = np.random.default_rng(3).dirichlet(np.full(NUM_CLASSES, 0.5), size=3)
    expected = _brute_force(probs, digits)
    got = digits_log_likelihood(probs, digits)
    if expected == 0.0:  # "1111" cannot fit in 3 columns
        assert got == float("-inf")
    else:
        assert got == pytest.approx(np.log(expected), abs=1e-9)


def test_the_likelihood_prefers_what_the_columns_show() -> None:
    probs = np.full((3, NUM_CLASSES), 0.01)
    probs[1, ALPHABET.index("7") + 1] = 0.6
    probs[:, BLANK] = 1.0 - (probs.sum(axis=1) - probs[:, BLANK])
    assert (
        digits_log_likelihood(probs, "7")
        > digits_log_likelihood(probs, "")
        > digits_log_likelihood(probs, "1")
    )
    with pytest.raises(ValueError, match="digits only"):
        digits_log_likelihood(probs, "1.5")
