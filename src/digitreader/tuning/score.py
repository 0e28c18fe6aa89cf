"""Before/after figures on the held-out pictures: exact, digits only, exact by length; and their table.

- exact: the text read is the text labelled, separators included;
- digits only: the digits agree, separators ignored;
- by length: exact, per number of digits in the label (`split.length_bucket`); for single digits, by
  class instead (per digit labelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitreader.ctc import digits_only
from digitreader.errors import DigitreaderError
from digitreader.tuning.split import length_bucket

LENGTHS = ("1", "2", "3", "4", "5+")
CLASSES = tuple("0123456789")


@dataclass(frozen=True)
class Scores:
    """How well texts were read: counts, so that figures on few pictures show how few they are."""

    n: int
    exact: int
    digits: int
    by_length: dict[str, tuple[int, int]] = field(default_factory=dict)  # group -> (exact, pictures)
    grouped_by: str = "length"  # "length" (digits in the label) or "class" (the digit labelled)

    @property
    def exact_rate(self) -> float:
        return self.exact / max(1, self.n)

    @property
    def digits_rate(self) -> float:
        return self.digits / max(1, self.n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pictures": self.n,
            "exact": round(self.exact_rate, 4),
            "digits_only": round(self.digits_rate, 4),
            f"exact_by_{self.grouped_by}": {
                k: {"exact": e, "pictures": n} for k, (e, n) in self.by_length.items()
            },
        }


def score(readings: Sequence[str], truths: Sequence[str], by: str = "length") -> Scores:
    """`readings` against `truths` (same order), exact figures grouped `by` "length" or "class"."""
    by_length: dict[str, list[int]] = {}
    exact = digits = 0
    for got, truth in zip(readings, truths, strict=True):
        ok = got == truth
        exact += ok
        digits += digits_only(got) == digits_only(truth)
        counts = by_length.setdefault(length_bucket(truth) if by == "length" else truth, [0, 0])
        counts[0] += ok
        counts[1] += 1
    keys = LENGTHS if by == "length" else CLASSES
    ordered = {k: (by_length[k][0], by_length[k][1]) for k in keys if k in by_length}
    return Scores(len(truths), exact, digits, ordered, by)


def read_texts(recognizer: Any, grays: Iterable[np.ndarray], mode: str = "number") -> list[str]:
    """What `recognizer` reads in each picture ("" where a read fails: a miss)."""
    out = []
    for gray in grays:
        try:
            out.append(recognizer.read(gray, mode=mode).text)
        except DigitreaderError:
            out.append("")
    return out


def table(before: Scores, after: Scores) -> str:
    """A Markdown table of before and after, with the change."""

    def cell(right: int, n: int) -> str:
        return f"{right / n:.1%} ({right}/{n})" if n else "-"

    rows = [("exact", (before.exact, before.n), (after.exact, after.n))]
    rows.append(("digits only", (before.digits, before.n), (after.digits, after.n)))
    for k in before.by_length:
        plural = "s" if k != "1" else ""
        label = f"digit {k}" if before.grouped_by == "class" else f"exact, {k} digit{plural}"
        rows.append((label, before.by_length[k], after.by_length.get(k, (0, 0))))
    lines = ["| held-out pictures | before | after | change |", "|---|---|---|---|"]
    for label, (b, n), (a, m) in rows:
        change = f"{(a / max(1, m) - b / max(1, n)) * 100:+.1f} points"
        lines.append(f"| {label} | {cell(b, n)} | {cell(a, m)} | {change} |")
    return "\n".join(lines)
