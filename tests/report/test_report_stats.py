"""Intervals over repeated seeds, checked against hand-computed Student-t values."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from trainlab.report.stats import bonferroni_min, mcnemar_exact, mean_interval, paired_difference


def test_mean_interval_matches_the_t_table() -> None:
    interval = mean_interval([0.80, 0.82, 0.84])
    # mean 0.82, sd 0.02, t(0.975, 2) = 4.302653 → half-width 4.302653 * 0.02 / sqrt(3)
    half = 4.302653 * 0.02 / math.sqrt(3)
    assert interval.mean == pytest.approx(0.82) and interval.std == pytest.approx(0.02)
    assert interval.low == pytest.approx(0.82 - half, rel=1e-6)
    assert interval.high == pytest.approx(0.82 + half, rel=1e-6)
    assert interval.excludes_zero


def test_one_value_has_no_interval_and_no_values_is_an_error() -> None:
    single = mean_interval([0.5])
    assert single.mean == 0.5 and single.low is None and single.high is None and not single.excludes_zero
    with pytest.raises(ValueError):
        mean_interval([])


def test_pairing_removes_the_shared_seed_variation() -> None:
    """Seeds move both variants together; the paired interval sees only the steady +1 pp."""
    base = {0: 0.70, 1: 0.80, 2: 0.90}
    variant = {0: 0.71, 1: 0.81, 2: 0.91, 3: 0.99}  # seed 3 has no base: left out
    paired = paired_difference(variant, base)
    assert paired is not None and paired.n == 3
    assert paired.mean == pytest.approx(0.01) and paired.std == pytest.approx(0.0, abs=1e-12)
    assert paired.scaled(100).mean == pytest.approx(1.0)
    unpaired_gap = mean_interval(list(variant.values())[:3]).low - mean_interval(list(base.values())).high
    assert unpaired_gap < 0  # the unpaired intervals overlap, so they alone could not tell the difference
    assert paired_difference({5: 0.1}, base) is None


def test_a_difference_whose_interval_straddles_zero_is_noise() -> None:
    noisy = paired_difference({0: 0.82, 1: 0.79, 2: 0.81}, {0: 0.80, 1: 0.80, 2: 0.80})
    assert noisy is not None and noisy.low < 0 < noisy.high and not noisy.excludes_zero


@pytest.mark.parametrize(
    ("base_only", "variant_only", "expected"),
    [
        (1, 6, 0.125),  # 2 · P(X ≤ 1 | n = 7, 1/2) = 2 · 8/128
        (0, 5, 0.0625),  # 2 · (1/2)^5
        (3, 3, 1.0),
        (0, 0, 1.0),  # no discordant example: nothing to tell them apart
        (10, 30, 2 * stats.binom.cdf(10, 40, 0.5)),
    ],
)
def test_mcnemar_exact_on_hand_made_tables(base_only: int, variant_only: int, expected: float) -> None:
    both_right, both_wrong = 50, 7  # concordant examples carry no information
    base = [True] * both_right + [False] * both_wrong + [True] * base_only + [False] * variant_only
    variant = [True] * both_right + [False] * both_wrong + [False] * base_only + [True] * variant_only
    result = mcnemar_exact(base, variant)
    assert (result.base_only, result.variant_only, result.discordant) == (base_only, variant_only,
                                                                          base_only + variant_only)
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    if base_only + variant_only:  # scipy's exact binomial test is the exact McNemar test
        assert result.p_value == pytest.approx(stats.binomtest(min(base_only, variant_only),
                                                               base_only + variant_only).pvalue)
    assert mcnemar_exact(variant, base).p_value == result.p_value  # symmetric
    with pytest.raises(ValueError, match="2 base results but 1 variant results"):
        mcnemar_exact([True, False], [True])


def test_bonferroni_over_seeds() -> None:
    assert bonferroni_min([0.02, 0.4, 0.9]) == pytest.approx(0.06)
    assert bonferroni_min([0.5, 0.6]) == 1.0
    assert bonferroni_min([0.01]) == 0.01
    with pytest.raises(ValueError):
        bonferroni_min([])
