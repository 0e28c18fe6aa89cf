"""Before/after figures: exact, digits only, by length, and their table."""

from __future__ import annotations

from digitreader.tuning.score import score, table


def test_exact_counts_separators_and_digits_only_does_not() -> None:
    s = score(["10.4", "104", "1,250", ""], ["10.4", "10,4", "1,250", "7"])
    assert (s.n, s.exact, s.digits) == (4, 2, 3)
    assert s.by_length == {"1": (0, 1), "3": (1, 2), "4": (1, 1)}


def test_the_table_shows_counts_and_the_change() -> None:
    before = score(["1", "22", "0"], ["1", "23", "3"])
    after = score(["1", "23", "3"], ["1", "23", "3"])
    text = table(before, after)
    assert "| exact | 33.3% (1/3) | 100.0% (3/3) | +66.7 points |" in text
    assert "| exact, 2 digits | 0.0% (0/1) | 100.0% (1/1) | +100.0 points |" in text
