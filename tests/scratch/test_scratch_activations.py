"""Activations, their derivatives and the numerically stable softmax (hypothesis properties)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trainlab.scratch.activations import sigmoid, sigmoid_grad, softmax, tanh, tanh_grad

FAST = settings(max_examples=150, deadline=None)


def test_sigmoid_is_stable_for_large_inputs() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is harmless
        values = sigmoid(np.array([-1e4, -745.0, -40.0, 0.0, 40.0, 745.0, 1e4]))
    assert values[0] == 0.0 and values[-1] == 1.0 and values[3] == 0.5
    assert values[2] == pytest.approx(np.exp(-40.0), rel=1e-14)  # full relative precision in the far tail
    assert np.all(np.diff(values) >= 0)


@pytest.mark.parametrize(("function", "derivative"), [(sigmoid, sigmoid_grad), (tanh, tanh_grad)])
def test_derivatives_match_finite_differences(function, derivative) -> None:
    x = np.linspace(-6.0, 6.0, 49)
    eps = 1e-6
    numeric = (function(x + eps) - function(x - eps)) / (2 * eps)
    np.testing.assert_allclose(derivative(x), numeric, rtol=1e-7, atol=1e-9)
    assert sigmoid_grad(0.0) == 0.25 and tanh_grad(0.0) == 1.0


dyadic_logits = arrays(np.float64, st.integers(1, 12), elements=st.integers(-100 * 1024, 100 * 1024).map(
    lambda k: k / 1024))


@FAST
@given(dyadic_logits, st.integers(-10**6, 10**6), st.integers(0, 1023))
def test_softmax_is_shift_invariant_for_any_exact_shift(logits, whole, frac) -> None:
    """With logits + c exact in float64 (|c| ≤ 1e6), the probabilities are unchanged within 1e-12."""
    c = whole + frac / 1024
    shifted = softmax(logits + c)
    assert np.all(np.isfinite(shifted))
    np.testing.assert_allclose(shifted, softmax(logits), rtol=0, atol=1e-12)


@FAST
@given(arrays(np.float64, st.integers(1, 12), elements=st.floats(-50, 50)), st.floats(-1e6, 1e6))
def test_softmax_shift_by_any_float_changes_only_by_the_rounding_of_the_shift(logits, c) -> None:
    """For an arbitrary float c, z + c itself rounds (by up to ulp(1e6)/2 ≈ 6e-11), so that is the only change."""
    rounding = float(np.max(np.abs((logits + c) - c - logits))) + float(np.spacing(abs(c) + 50.0))
    np.testing.assert_allclose(softmax(logits + c), softmax(logits), rtol=0, atol=4 * rounding + 1e-15)


@FAST
@given(arrays(np.float64, st.integers(1, 20), elements=st.sampled_from([-1e4, 1e4]) | st.floats(-1e4, 1e4)))
def test_softmax_of_huge_logits_is_finite_and_sums_to_one(logits) -> None:
    with np.errstate(over="raise", invalid="raise"):
        probabilities = softmax(logits)
    assert np.all(np.isfinite(probabilities)) and np.all(probabilities >= 0)
    assert abs(probabilities.sum() - 1.0) < 1e-12


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 8)), elements=st.floats(-30, 30)))
def test_softmax_matches_the_naive_formula_on_small_logits(logits) -> None:
    naive = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(softmax(logits), naive, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(softmax(logits, axis=0), np.exp(logits) / np.exp(logits).sum(axis=0), rtol=1e-12)
