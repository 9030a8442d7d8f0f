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
SIGNIFICANCE = 1.0 - CONFIDENCE  # a McNemar p below this: the difference survives the test sample


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


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two classifiers on the same test examples.

    ``base_only``: examples the base gets right and the variant wrong; ``variant_only``: the reverse. Only these
    discordant examples carry information; under "no difference" each is equally likely to go either way, so the
    two-sided p-value is the exact binomial test of ``min(b, c)`` successes in ``b + c`` trials with p = 1/2.
    """

    base_only: int
    variant_only: int
    p_value: float

    @property
    def discordant(self) -> int:
        return self.base_only + self.variant_only

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "discordant": self.discordant}


def mcnemar_exact(base_correct: Sequence[bool], variant_correct: Sequence[bool]) -> McNemar:
    """McNemar's exact two-sided test from per-example correctness of the base and the variant (same examples)."""
    if len(base_correct) != len(variant_correct):
        raise ValueError(f"{len(base_correct)} base results but {len(variant_correct)} variant results")
    base_only = sum(1 for base, variant in zip(base_correct, variant_correct, strict=True) if base and not variant)
    variant_only = sum(1 for base, variant in zip(base_correct, variant_correct, strict=True) if variant and not base)
    trials = base_only + variant_only
    p_value = 1.0 if trials == 0 else float(stats.binomtest(min(base_only, variant_only), trials, 0.5).pvalue)
    return McNemar(base_only, variant_only, min(1.0, p_value))


def bonferroni_min(p_values: Sequence[float]) -> float:
    """The Bonferroni-adjusted smallest of ``k`` p-values, ``min(1, k · min p)``: the p-value of "no difference in
    any of the k tests", valid however the tests depend on each other (seeds share one test sample)."""
    if not p_values:
        raise ValueError("bonferroni_min needs at least one p-value")
    return min(1.0, len(p_values) * min(p_values))
