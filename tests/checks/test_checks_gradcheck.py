"""The gradient check: analytic BPTT vs centered finite differences vs torch autograd, in float64."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from trainlab.checks.gradcheck import (
    REL_TOL,
    TORCH_TOL,
    Problem,
    Row,
    relative_error,
    render_table,
    run_gradcheck,
    torch_gradients,
)
from trainlab.errors import TrainlabError

LSTM_NAMES = [f"{kind}{k}" for k in "ifgo" for kind in ("W_x", "W_h", "b_")] + ["x", "h0", "c0"]


@pytest.fixture(scope="module")
def lstm_rows() -> list[Row]:
    return run_gradcheck("lstm", hidden=8, input_size=4, steps=6)


def test_lstm_meets_the_bars_on_every_tensor(lstm_rows: list[Row]) -> None:
    assert [row.name for row in lstm_rows] == LSTM_NAMES
    for row in lstm_rows:
        assert row.resolvable, row  # the numeric check really applies at the defaults
        assert row.rel_error < REL_TOL and row.torch_diff is not None and row.torch_diff < TORCH_TOL, row
        assert row.reference == "torch.nn.LSTM" and row.passed
    assert next(r for r in lstm_rows if r.name == "W_hf").shape == (8, 8)


@pytest.mark.parametrize(("activation", "loss", "reference"), [
    ("tanh", "all", "torch.nn.RNN"),
    ("tanh", "last", "torch.nn.RNN"),
    ("sigmoid", "all", "autograd loop (torch.sigmoid)"),
    ("sigmoid", "last", "autograd loop (torch.sigmoid)"),
])
def test_rnn_meets_the_bars(activation: str, loss: str, reference: str) -> None:
    rows = run_gradcheck("rnn", hidden=8, input_size=4, steps=6, activation=activation, loss=loss, seed=3)
    assert [row.name for row in rows] == ["W_x", "W_h", "b", "x", "h0"]
    for row in rows:
        assert row.resolvable and row.rel_error < REL_TOL and row.torch_diff < TORCH_TOL, row
        assert row.reference == reference


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_torch_agrees_with_batch_first_too(cell: str) -> None:
    problem = Problem.build(cell, 3, 2, 4, "tanh", "last", seed=5)
    analytic = problem.analytic()
    grads, _ = torch_gradients(problem, batch_first=True)
    for name, grad in analytic.items():
        assert np.max(np.abs(grads[name] - grad)) < TORCH_TOL, name


def test_a_wrong_backward_is_caught() -> None:
    problem = Problem.build("rnn", 4, 3, 5, "tanh", "all", seed=0)
    analytic = problem.analytic()
    analytic["W_h"] = analytic["W_h"].T  # a classic mistake: da h_prevᵀ transposed
    assert relative_error(analytic["W_h"], problem.numeric()["W_h"]) > 1e-2


def test_relative_error_definition() -> None:
    assert relative_error(np.array([1.0, -2.0]), np.array([1.0, -2.5])) == pytest.approx(0.5 / 4.5)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_table_shows_names_references_and_failures() -> None:
    rows = [Row("W_x", (2, 1), 1e-9, 1e-17, "torch.nn.RNN"), Row("b", (2,), 3e-3, 1e-17, "torch.nn.RNN")]
    assert rows[0].passed and not rows[1].passed
    console = Console(width=120, record=True)
    console.print(render_table(rows))
    text = console.export_text()
    assert "W_x" in text and "FAIL" in text and "torch reference: torch.nn.RNN" in text and "2×1" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "gru"}, "unknown cell 'gru'"),
        ({"hidden": 0}, "--hidden 0 is out of range"),
        ({"steps": -1}, "--steps -1 is out of range"),
        ({"input_size": 1000}, "--input 1000 is out of range"),
        ({"cell": "rnn", "activation": "relu"}, "unknown activation 'relu'"),
        ({"cell": "lstm", "activation": "sigmoid"}, "applies to the rnn cell only"),
        ({"loss": "first"}, "unknown loss 'first'"),
        ({"seed": -3}, "--seed -3 is negative"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        run_gradcheck(**kwargs)
