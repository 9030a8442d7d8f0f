"""Confidence intervals over repeated seeds, so a "+1%" is shown for what it is.

Each variant of a study trained with ``study.repeats`` seeds gives n test accuracies. The interval of a mean is the
Student-t interval ``mean ± t(0.975, n-1) · sd / sqrt(n)``. The change against the base is *paired*: variant and base
share seeds (the same initial weights where the architecture allows, the same batch order), so the interval is taken
over the per-seed differences, which removes the seed-to-seed variation the two have in common.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean, sample standard deviation and a two-sided confidence interval; ``low``/``high`` are None when n < 2."""

    mean: float
    std: float | None
    n: int
    low: float | None
    high: float | None

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0.0 or self.high < 0.0)

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units, e.g. fractions → percentage points with ``factor=100``."""

        def scale(value: float | None) -> float | None:
            return None if value is None else value * factor

        return Interval(self.mean * factor, scale(self.std), self.n, scale(self.low), scale(self.high))

    def to_dict(self) -> dict[str, float | int | bool | None]:
        return {**asdict(self), "excludes_zero": self.excludes_zero}


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The Student-t interval of the mean of ``values`` (at least one value)."""
    if not values:
        raise ValueError("mean_interval needs at least one value")
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, None, n, None, None)
    std = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, std, n, mean - half, mean + half)


def paired_difference(variant: Mapping[int, float], base: Mapping[int, float],
                      confidence: float = CONFIDENCE) -> Interval | None:
    """Interval of the mean of ``variant[seed] - base[seed]`` over the seeds both have; None when they share none."""
    shared = sorted(set(variant) & set(base))
    if not shared:
        return None
    return mean_interval([variant[seed] - base[seed] for seed in shared], confidence)
