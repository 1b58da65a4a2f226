"""Seed statistics: mean, sample standard deviation, n, and a 95% interval from Student's t.

The interval is mean +- t(0.975, n-1) * std / sqrt(n) (Student, "The probable error of a mean",
Biometrika 1908). The t quantile is found by bisection on the t CDF, which is integrated
numerically from the density, so no statistics package is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def t_pdf(x: np.ndarray, df: int) -> np.ndarray:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return np.exp(log_norm - (df + 1) / 2 * np.log1p(x * x / df))


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for x >= 0, by Simpson's rule on [0, x]."""
    n = 2000
    grid = np.linspace(0.0, x, n + 1)
    y = t_pdf(grid, df)
    area = (x / n) / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())
    return 0.5 + float(area)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p >= 0.5) of Student's t with ``df`` degrees of freedom."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample standard deviation (n - 1); NaN for a single value
    n: int
    ci95: float  # half-width of the 95% interval; NaN for a single value

    @property
    def low(self) -> float:
        return self.mean - self.ci95

    @property
    def high(self) -> float:
        return self.mean + self.ci95


def summarize(values: list[float]) -> Summary:
    """Statistics of the finite ``values`` (NaNs, e.g. runs without an evaluation yet, are left out)."""
    x = np.array([v for v in values if math.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Summary(math.nan, math.nan, 0, math.nan)
    if n == 1:
        return Summary(float(x[0]), math.nan, 1, math.nan)
    std = float(x.std(ddof=1))
    return Summary(float(x.mean()), std, n, t_quantile(0.975, n - 1) * std / math.sqrt(n))
