"""The gradient-flow study: measured per-step factors against (|w|·φ'(0)) and σ(b_f)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from trainlab.checks.gradflow import critical_weight, growth_factor, run_gradflow, write_gradflow_report
from trainlab.errors import TrainlabError


@pytest.mark.parametrize(("activation", "weights", "slope"), [("sigmoid", [1, 2, 4, 6, -3], 0.25),
                                                               ("tanh", [0.5, 1, 1.5, -0.8], 1.0)])
def test_measured_factor_equals_theory(activation: str, weights: list[float], slope: float) -> None:
    result = run_gradflow("rnn", activation, weights, steps=30)
    for setting, w in zip(result.settings, weights, strict=True):
        assert setting.theoretical_factor == slope * abs(w)
        assert setting.measured_factor == pytest.approx(setting.theoretical_factor, rel=1e-6)
        assert len(setting.norms) == 30
        assert setting.norms[9] == pytest.approx((slope * abs(w)) ** 10, rel=1e-9)  # exactly (φ'(0)|w|)^T


def test_vanishing_and_exploding_verdicts() -> None:
    sigmoid = {s.value: s.verdict for s in run_gradflow("rnn", "sigmoid", [2, 4, 6], steps=20).settings}
    assert sigmoid == {2: "vanishing", 4: "stable", 6: "exploding"}
    tanh = {s.value: s.verdict for s in run_gradflow("rnn", "tanh", [0.5, 1.5], steps=20).settings}
    assert tanh == {0.5: "vanishing", 1.5: "exploding"}


def test_bisection_finds_the_thresholds() -> None:
    assert critical_weight("sigmoid", 0.5, 10.0, tol=1e-5) == pytest.approx(4.0, abs=1e-3)
    assert critical_weight("tanh", 0.1, 3.0, tol=1e-5) == pytest.approx(1.0, abs=1e-3)


def test_lstm_forget_bias_one_decays_slower() -> None:
    zero, one = run_gradflow("lstm", forget_biases=[0, 1], steps=30).settings
    assert zero.measured_factor == pytest.approx(0.5, rel=1e-6)
    assert one.measured_factor == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-6)
    assert one.measured_factor == pytest.approx(0.7311, abs=1e-4)
    assert one.norms[-1] > zero.norms[-1] and zero.verdict == one.verdict == "vanishing"
    assert zero.quantity == "‖∂L/∂c_0‖"


def test_report_files(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    result = run_gradflow("rnn", "sigmoid", [2, 6], steps=10)
    paths = write_gradflow_report(result, tmp_path / "flow")
    assert [p.name for p in paths] == ["gradflow.png", "gradflow.md"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    first, second = "#1f77b4", "#ff7f0e"  # matplotlib's first two line colours: one curve per setting
    assert pixel_count(paths[0], first) > 300 and pixel_count(paths[0], second) > 300
    (alone,) = write_gradflow_report(run_gradflow("rnn", "sigmoid", [2], steps=10), tmp_path / "one")[:1]
    assert pixel_count(alone, first) > 300 and pixel_count(alone, second) < 50
    markdown = paths[1].read_text(encoding="utf-8")
    assert "| rnn sigmoid w=2 | 0.500000 | 0.500000 | vanishing |" in markdown
    assert "| rnn sigmoid w=6 | 1.500000 | 1.500000 | exploding |" in markdown
    assert not [p for p in (tmp_path / "flow").iterdir() if p.name.endswith(".tmp")]


def test_growth_factor_fit() -> None:
    assert growth_factor([2.0 * 3.0**t for t in range(1, 8)]) == pytest.approx(3.0, rel=1e-12)
    with pytest.raises(TrainlabError, match="no growth factor"):
        growth_factor([0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "gru"}, "unknown cell 'gru'"),
        ({"steps": 1}, "--steps 1 is out of range"),
        ({"activation": "relu"}, "unknown activation 'relu'"),
        ({"weights": []}, "--weights is empty"),
        ({"weights": [0.0]}, "--weights holds 0"),
        ({"cell": "lstm", "forget_biases": [math.nan]}, "non-finite"),
        ({"hidden": 0}, "--hidden 0"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        run_gradflow(**kwargs)


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainlabError, match="is a file"):
        write_gradflow_report(run_gradflow(steps=3), tmp_path / "file")
