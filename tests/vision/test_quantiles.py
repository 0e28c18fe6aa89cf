"""Histogram percentiles agree with numpy: exactly on uint8, to the code step on values in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from digitreader.vision.quantiles import UNIT_STEPS, SortedCounts, percentiles_u8, unit_codes

QS = [0, 0.5, 10, 30, 50, 90, 99.5, 99.9, 100]


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 54321])
def test_uint8_percentiles_equal_numpy(size: int) -> None:
    values = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    np.testing.assert_allclose(percentiles_u8(values, QS), np.percentile(values, QS), rtol=0, atol=1e-9)


def test_unit_percentiles_are_within_one_step_of_numpy() -> None:
    values = np.random.default_rng(0).beta(0.5, 3.0, 40000).astype(np.float32)
    counts = SortedCounts.of(unit_codes(values), UNIT_STEPS + 1)
    got = np.array(counts.percentiles(QS)) / UNIT_STEPS
    np.testing.assert_allclose(got, np.percentile(values, QS), atol=1.0 / UNIT_STEPS)


def test_above_keeps_only_larger_values() -> None:
    codes = np.array([1, 2, 2, 3, 9, 9, 10], np.uint16)
    above = SortedCounts.of(codes, 16).above(2)
    assert above.size == 4
    assert above.percentiles([0, 100]) == [3.0, 10.0]
    assert SortedCounts.of(codes, 16).above(10).size == 0


def test_empty_set_has_no_percentiles() -> None:
    with pytest.raises(ValueError):
        SortedCounts.of(np.zeros(0, np.uint16), 16).percentiles([50])
