"""Seed statistics against textbook values."""

from __future__ import annotations

import math

import pytest

from gptlab.compare.stats import summarize, t_quantile


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)])
def test_t_quantile_matches_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_summary_of_three_values():
    s = summarize([1.0, 2.0, 4.0, float("nan")])  # NaN: a run without an evaluation yet
    assert s.n == 3
    assert s.mean == pytest.approx(7 / 3)
    assert s.std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert s.ci95 == pytest.approx(4.3027 * s.std / math.sqrt(3), rel=1e-4)
    one = summarize([5.0])
    assert one.n == 1 and one.mean == 5.0 and math.isnan(one.std) and math.isnan(one.ci95)
