"""The held-out part: its size, its strata, its repeatability."""

from __future__ import annotations

from collections import Counter

import pytest

from digitreader.tuning.split import held_out_size, length_bucket, split_held_out


@pytest.mark.parametrize(
    ("n", "expected"), [(10, 5), (60, 30), (100, 50), (250, 50), (1000, 200), (7391, 1479)]
)
def test_the_larger_of_a_fifth_and_fifty_never_more_than_half(n: int, expected: int) -> None:
    assert held_out_size(n) == expected


def test_each_length_is_held_out_in_proportion_and_the_parts_are_disjoint() -> None:
    texts = ["7"] * 100 + ["12"] * 300 + ["10.4"] * 400 + ["12 345"] * 200
    train, held = split_held_out(texts)
    assert len(held) == 200 and sorted(train + held) == list(range(1000))
    by_length = Counter(length_bucket(texts[i]) for i in held)
    assert by_length == {"1": 20, "2": 60, "3": 80, "5+": 40}


def test_the_split_depends_on_the_texts_and_the_seed_only() -> None:
    texts = [str(i) for i in range(300)]
    assert split_held_out(texts) == split_held_out(list(texts))
    assert split_held_out(texts, seed=1) != split_held_out(texts)
