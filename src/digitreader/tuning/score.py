"""Before/after figures on the held-out pictures: exact, digits only, exact by length; and their table.

- exact: the text read is the text labelled, separators included;
- digits only: the digits agree, separators ignored;
- by length: exact, per number of digits in the label (`split.length_bucket`).
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


@dataclass(frozen=True)
class Scores:
    """How well texts were read: counts, so that figures on few pictures show how few they are."""

    n: int
    exact: int
    digits: int
    by_length: dict[str, tuple[int, int]] = field(default_factory=dict)  # bucket -> (exact, pictures)

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
            "exact_by_length": {k: {"exact": e, "pictures": n} for k, (e, n) in self.by_length.items()},
        }


def score(readings: Sequence[str], truths: Sequence[str]) -> Scores:
    """`readings` against `truths` (same order)."""
    by_length: dict[str, list[int]] = {}
    exact = digits = 0
    for got, truth in zip(readings, truths, strict=True):
        ok = got == truth
        exact += ok
        digits += digits_only(got) == digits_only(truth)
        counts = by_length.setdefault(length_bucket(truth), [0, 0])
        counts[0] += ok
        counts[1] += 1
    ordered = {k: (by_length[k][0], by_length[k][1]) for k in LENGTHS if k in by_length}
    return Scores(len(truths), exact, digits, ordered)


def read_texts(recognizer: Any, grays: Iterable[np.ndarray]) -> list[str]:
    """What `recognizer` reads in each picture in number mode ("" where a read fails: a miss)."""
    out = []
    for gray in grays:
        try:
            out.append(recognizer.read(gray, mode="number").text)
        except DigitreaderError:
            out.append("")
    return out


def table(before: Scores, after: Scores) -> str:
    """A Markdown table of before and after, with the change."""

    def cell(right: int, n: int) -> str:
        return f"{right / n:.1%} ({right}/{n})" if n else "-"

    rows = [("exact", (before.exact, before.n), (after.exact, after.n))]
    rows.append(("digits only", (before.digits, before.n), (after.digits, after.n)))
    for k in LENGTHS:
        if k in before.by_length:
            label = f"exact, {k} digit{'s' if k != '1' else ''}"
            rows.append((label, before.by_length[k], after.by_length[k]))
    lines = ["| held-out pictures | before | after | change |", "|---|---|---|---|"]
    for label, (b, n), (a, m) in rows:
        change = f"{(a / max(1, m) - b / max(1, n)) * 100:+.1f} points"
        lines.append(f"| {label} | {cell(b, n)} | {cell(a, m)} | {change} |")
    return "\n".join(lines)
