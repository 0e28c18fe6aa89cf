"""Pictures that cost the segmentation dearly: thousands of marks, and the per-picture CPU limit.

No test here times anything (the figures are in benchmarks/): each counts the work done or checks the
answer a hostile picture gets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitreader.errors import ReadTimeoutError
from digitreader.recognizer import Recognizer
from digitreader.vision import segment
from digitreader.vision.segment import _merge_broken, _Region

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cheque_4096.jpg"


@pytest.mark.parametrize("mode", ["number", "auto"])
def test_a_picture_of_static_has_no_digits_and_says_why(
    recognizer: Recognizer, noise_png: Callable[[int, float], Path], mode: str
) -> None:
    reading = recognizer.read(noise_png(1000, 0.5), mode)
    assert reading.text == "" and reading.digits == ()
    assert reading.notes[0] == "no digits found"
    assert "separate marks, more than the 2,000 read in one picture" in reading.notes[1]


def test_digit_mode_reads_static_as_one_picture_without_the_note(
    recognizer: Recognizer, noise_png: Callable[[int, float], Path]
) -> None:
    # Digit mode never looks for separate marks: the whole picture is one digit (or none).
    reading = recognizer.read(noise_png(400, 0.5), "digit")
    assert all("separate marks" not in note for note in reading.notes)


def test_below_the_cap_static_is_read_as_marks(
    recognizer: Recognizer, noise_png: Callable[[int, float], Path]
) -> None:
    # Sparse static at this size leaves a few hundred digit-sized marks: read (as noise), no note.
    reading = recognizer.read(noise_png(300, 0.1), "number")
    assert 0 < len(reading.digits) <= segment.MAX_MARKS
    assert reading.notes == ()


def broken_digits(n: int) -> list[_Region]:
    """A line of `n` digits written in two pieces each (a 5's flag over its body), side by side."""
    line = []
    for i in range(n):
        x = 40 * i
        line.append(_Region({2 * i + 1}, 0, 10**6, box=(x, 20, 24, 26)))  # body
        line.append(_Region({2 * i + 2}, 0, 10**6, box=(x + 2, 8, 20, 6)))  # flag above it
    return sorted(line, key=lambda r: r.box[0])


def test_merging_a_long_line_looks_only_at_neighbours(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    one_digit = segment._pieces_of_one_digit

    def counting(*args: object) -> bool:
        nonlocal calls
        calls += 1
        return one_digit(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(segment, "_pieces_of_one_digit", counting)
    merged = _merge_broken(broken_digits(1000), np.zeros((1, 1), np.int32))
    assert len(merged) == 1000
    assert all(len(r.labels) == 2 for r in merged)
    # Looking again from the start after each merge asked about ~n^3 / 3 pairs here (10^8 calls for
    # 2,000 pieces); neighbours only, a few per piece.
    assert calls <= 5 * 2000


def test_a_read_over_its_cpu_limit_stops_with_a_one_line_error_naming_the_file() -> None:
    reader = Recognizer.load(threads=1, read_seconds=1e-6)
    with pytest.raises(ReadTimeoutError, match=r"cheque_4096\.jpg: reading stopped after 1e-06 s of CPU"):
        reader.read(EXAMPLE, "number")


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITREADER_READ_SECONDS", "0")
    assert Recognizer.load(threads=1).read_seconds is None
    monkeypatch.setenv("DIGITREADER_READ_SECONDS", "2.5")
    assert Recognizer.load(threads=1).read_seconds == 2.5
    assert Recognizer.load(threads=1, read_seconds=1).read_seconds == 1.0
