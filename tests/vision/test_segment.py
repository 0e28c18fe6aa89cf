"""Segmentation steps on their own: the broken-stroke merge, against the plain rule it implements."""

from __future__ import annotations

import numpy as np
import pytest

from digitreader.vision.segment import _merge_broken, _pieces_of_one_digit, _Region, _union


def merge_by_restarting(line: list[_Region]) -> list[_Region]:
    """The rule `_merge_broken` implements, written the plain way: merge the first pair (i < j) that
    `_pieces_of_one_digit` accepts, then look again from the start (O(n^3) in the marks of a line)."""
    if len(line) < 2:
        return line
    tall = [r for r in line if r.box[3] >= 0.5 * max(q.box[3] for q in line)]
    top = int(np.median([r.box[1] for r in tall]))
    base = int(np.median([r.bottom for r in tall]))
    height = max(1, base - top)
    merged = True
    while merged:
        merged = False
        for i in range(len(line)):
            for j in range(i + 1, len(line)):
                a, b = line[i], line[j]
                if not _pieces_of_one_digit(a.box, b.box, top, base, height):
                    continue
                a.labels |= b.labels
                a.box = _union(a.box, b.box)
                del line[j]
                merged = True
                break
            if merged:
                break
    return sorted(line, key=lambda r: r.box[0])


def random_line(rng: np.random.Generator, n: int) -> list[_Region]:
    """A line of `n` marks: digit-sized strokes, pieces of strokes, dots and dashes, crowded together so
    that many pairs are pieces of one digit."""
    height = 40
    regions = []
    for i in range(n):
        kind = rng.integers(4)
        w, h = [(24, 40), (12, 18), (4, 4), (16, 6)][kind]
        w = max(1, int(w * rng.uniform(0.5, 1.5)))
        h = max(1, int(h * rng.uniform(0.5, 1.5)))
        x = int(rng.integers(0, max(1, n * 12)))
        y = int(rng.integers(0, height - min(h, height) + 8))
        regions.append(_Region({i + 1}, 0, 10_000, box=(x, y, w, h)))
    return sorted(regions, key=lambda r: r.box[0])


def as_tuples(line: list[_Region]) -> list[tuple[tuple[int, ...], tuple[int, int, int, int]]]:
    return [(tuple(sorted(r.labels)), r.box) for r in line]


@pytest.mark.parametrize("seed", range(40))
def test_merges_exactly_as_the_plain_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 80))
    line = random_line(rng, n)
    copy = [_Region(set(r.labels), r.x0, r.x1, box=r.box) for r in line]
    labels = np.zeros((1, 1), np.int32)  # unused by either
    expected = as_tuples(merge_by_restarting(copy))
    got = as_tuples(_merge_broken(line, labels))
    assert got == expected
    assert len(got) < n  # the line was crowded enough that something merged


def test_a_broken_digit_is_merged_and_neighbours_are_not() -> None:
    # A 5's flag over its body, and a separate 1 further right.
    body, flag, one = (10, 20, 24, 26), (12, 8, 20, 6), (60, 8, 8, 38)
    line = [_Region({1}, 0, 100, box=body), _Region({2}, 0, 100, box=flag), _Region({3}, 0, 100, box=one)]
    merged = _merge_broken(line, np.zeros((1, 1), np.int32))
    assert [sorted(r.labels) for r in merged] == [[1, 2], [3]]
