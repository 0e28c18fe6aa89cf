"""Reading a located line whole: strips cut around it, characters placed back in the picture."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from digitreader.ctc import ALPHABET, BLANK, NUM_CLASSES
from digitreader.reading import Digit
from digitreader.vision.sequence import (
    Character,
    LineReading,
    bands,
    choose_reading,
    line_strip,
    place_characters,
    read_line,
    switch_to_number,
    with_separators,
)

STRIDE = 2
# Three marks on paper: "1", ".", "5" as dark blocks (x0, x1) on rows 40-80 (the dot lower and smaller).
MARKS = {"1": (100, 112), ".": (130, 136), "5": (150, 180)}


def _page() -> np.ndarray:
    gray = np.full((160, 320), 230, np.uint8)
    for ch, (x0, x1) in MARKS.items():
        top = 72 if ch == "." else 40
        gray[top:80, x0:x1] = 30
    return gray


def _reader_seeing(marks: dict[str, tuple[int, int]], line: object) -> object:
    """A stand-in reader: blank everywhere but at each mark's centre column, where it reads the mark."""

    def read(strip: np.ndarray) -> np.ndarray:
        probs = np.full((strip.shape[1] // STRIDE, NUM_CLASSES), 0.01, np.float32)
        probs[:, BLANK] = 0.9
        for ch, (x0, x1) in marks.items():
            centre = ((x0 + x1) / 2 - line.origin[0] - line.window[0]) * line.scale  # type: ignore[attr-defined]
            t = int(centre // STRIDE)
            probs[t] = 0.01
            probs[t, ALPHABET.index(ch) + 1] = 0.9
        return probs

    return read


def test_the_strip_is_cut_from_an_ink_map_of_the_line_and_its_surroundings() -> None:
    line = line_strip(_page(), (100, 40, 80, 40), dark=True)
    assert line.strip.shape[0] == 32 and line.strip.dtype == np.uint8
    assert line.strip.max() > 200 and np.median(line.strip) < 20  # ink bright on 0
    assert line.origin == (60, 16)  # context: a line height either side, 0.6 above and below


def test_each_character_gets_the_box_of_its_own_ink_in_the_input_pixels() -> None:
    gray = _page()
    line = line_strip(gray, (100, 40, 80, 40), dark=True)
    chars = place_characters(line, _reader_seeing(MARKS, line)(line.strip), STRIDE)  # type: ignore[operator]
    assert [c.char for c in chars] == ["1", ".", "5"]
    for c in chars:
        x0, x1 = MARKS[c.char]
        x, y, w, h = c.box
        assert abs(x - x0) <= 2 and abs(x + w - x1) <= 2, (c.char, c.box)
        assert abs(y - (72 if c.char == "." else 40)) <= 2 and abs(y + h - 80) <= 2
    assert chars[0].digit_probs is not None and int(np.argmax(chars[0].digit_probs)) == 1
    assert chars[1].digit_probs is None  # a separator has no digit probabilities


def test_read_line_keeps_only_what_belongs_to_the_number() -> None:
    gray = _page()
    gray[56:60, 186:196] = 30  # a dash after the amount
    marks = {**MARKS, "-": (186, 196)}
    line_candidates = [SimpleNamespace(box=(100, 40, 12, 40)), SimpleNamespace(box=(150, 40, 30, 40))]
    strip = line_strip(gray, (100, 40, 80, 40), dark=True)
    reader = _reader_seeing(marks, strip)
    read = read_line(gray, line_candidates, True, reader, STRIDE)  # type: ignore[arg-type]
    assert "".join(c.char for c in read.chars) == "1.5"
    assert read.probs.shape == (strip.strip.shape[1] // STRIDE, NUM_CLASSES)  # what the reader gave


def _digit(label: int, x: int, confidence: float = 0.8) -> Digit:
    return Digit(
        label=label, confidence=confidence, box=(x, 0, 10, 20), probabilities=tuple(np.eye(10)[label])
    )


def _chars(last: str, sure: float) -> list[Character]:
    return [
        Character("1", (1, 1, 5, 5), sure, tuple(np.eye(10)[1])),
        Character(",", (9, 1, 2, 2), 0.7, None),
        Character(last, (12, 1, 5, 5), sure, tuple(np.eye(10)[int(last)])),
    ]


def _columns(*seen: dict[str, float]) -> np.ndarray:
    """A reader's probabilities: for each dict a column giving those characters those probabilities (the
    rest to the blank), with a blank column before and after each."""
    rows = []
    for column in seen:
        row = np.zeros(NUM_CLASSES)
        for ch, p in column.items():
            row[ALPHABET.index(ch) + 1] = p
        row[BLANK] = 1.0 - row.sum()
        rows += [np.eye(NUM_CLASSES)[BLANK], row]
    return np.array([*rows, np.eye(NUM_CLASSES)[BLANK]])


def _reading(last: str, sure: float, probs: np.ndarray | None = None) -> LineReading:
    chars = _chars(last, sure)
    if probs is None:
        probs = _columns({"1": sure}, {",": 0.7}, {last: sure})
    return LineReading(chars, probs)


def test_agreeing_readings_keep_the_segmentation_digits_and_the_separators() -> None:
    segmented = [_digit(1, 0), _digit(5, 11)]
    assert choose_reading(_reading("5", 0.6), segmented) == ("1,5", segmented)


def test_where_they_differ_the_reading_the_sequence_reader_finds_likelier_by_the_margin_wins() -> None:
    segmented = [_digit(1, 0, 0.99), _digit(5, 11, 0.99)]
    # The last column: 6 at 0.95 against 5 at 0.03, a factor of 32 (over e^3 = 20): the sequence reader's.
    sure = _reading("6", 0.95, _columns({"1": 0.95}, {",": 0.7}, {"6": 0.95, "5": 0.03}))
    text, digits = choose_reading(sure, segmented)
    assert text == "1,6" and [d.label for d in digits] == [1, 6] and digits[1].box == (12, 1, 5, 5)
    # 6 at 0.7 against 5 at 0.25 (a factor of 2.8): the segmentation's digits, the sequence reader's comma.
    unsure = _reading("6", 0.7, _columns({"1": 0.95}, {",": 0.7}, {"6": 0.7, "5": 0.25}))
    assert choose_reading(unsure, segmented) == ("1,5", segmented)


def test_a_last_digit_the_sequence_reader_dropped_but_half_saw_is_kept() -> None:
    # A plain 1 after "15" that the reader's best path skipped (blank 0.7, "1" 0.3 on its column).
    segmented = [_digit(1, 0, 0.99), _digit(5, 11, 0.99), _digit(1, 20, 0.9)]
    dropped = _reading("5", 0.95, _columns({"1": 0.95}, {",": 0.7}, {"5": 0.95}, {"1": 0.3}))
    assert choose_reading(dropped, segmented) == ("1,51", segmented)  # the comma stays after the 1
    # Where the reader saw nothing there at all, its reading stands.
    clean = _reading("5", 0.95, _columns({"1": 0.95}, {",": 0.7}, {"5": 0.95}, {"1": 0.001}))
    text, digits = choose_reading(clean, segmented)
    assert text == "1,5" and [d.label for d in digits] == [1, 5]


def test_segmentation_reading_fewer_digits_loses_where_the_reader_saw_them_clearly() -> None:
    joined = [_digit(7, 0, 0.9)]  # "15" left as one region and read as a 7
    text, digits = choose_reading(_reading("5", 0.99), joined)
    assert text == "1,5" and [d.label for d in digits] == [1, 5]


def test_separators_follow_the_digits_they_follow_in_the_other_reading() -> None:
    assert with_separators("1,5", "15") == "1,5"
    assert with_separators("1.250", "12500") == "1.2500"  # a digit added at the end
    assert with_separators("12.5", "125") == "12.5"
    assert with_separators("1.25", "125") == "1.25"
    assert with_separators("-1.5", "1,5".replace(",", "")) == "-1.5"  # the leading minus stays
    assert with_separators("10.4", "104") == "10.4"
    assert with_separators("1.04", "4") == "4"  # nothing left to separate


def test_auto_mode_switches_to_a_number_only_when_the_sequence_reader_is_clearly_surer() -> None:
    one = [_digit(4, 0, 0.5)]
    assert switch_to_number(_chars("5", 0.95), one)  # 0.95 * 0.95 = 0.90 > 0.5 + 0.3
    assert not switch_to_number(_chars("5", 0.85), one)  # 0.72: not clearly surer
    assert not switch_to_number([Character("7", (0, 0, 5, 5), 0.99, None)], one)  # one digit is one digit


def test_nothing_read_by_the_sequence_reader_leaves_the_segmentation_reading() -> None:
    segmented = [_digit(4, 0)]
    minus = LineReading([Character("-", (0, 0, 3, 1), 0.9, None)], _columns({"-": 0.9}))
    assert choose_reading(minus, segmented) == ("4", segmented)


def _c(x: int, y: int, w: int = 10, h: int = 20) -> SimpleNamespace:
    return SimpleNamespace(box=(x, y, w, h))


def test_pieces_above_and_below_each_other_are_one_band_of_writing() -> None:
    # Segmentation's "lines": the tops of faint digits, their bottoms (touching), and a second line below.
    tops = [_c(10, 0, h=12), _c(40, 2, h=10)]
    bottoms = [_c(12, 11, h=12), _c(25, 10, h=14)]
    second = [_c(10, 40), _c(30, 41)]
    grouped = bands([second, bottoms, tops])
    assert [[c.box[0] for c in band] for band in grouped] == [[10, 12, 25, 40], [10, 30]]


def test_two_lines_with_a_gap_stay_two() -> None:
    assert len(bands([[_c(0, 0)], [_c(0, 28)]])) == 2  # a gap of 8 px under 20 px digits
    assert len(bands([[_c(0, 0)], [_c(0, 23)]])) == 1  # 3 px: pieces of one line
    assert bands([[], [_c(0, 0)]]) == [[_c(0, 0)]]
