"""The NumPy RNN / LSTM: no torch inside, shapes, one-step and BPTT gradients, the loss helper."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainlab.scratch
from trainlab.errors import TrainlabError
from trainlab.scratch import GATES, LSTMCell, LSTMParams, RNNCell, RNNParams, sequence_loss

SCRATCH_DIR = Path(trainlab.scratch.__file__).parent


def test_scratch_never_imports_torch() -> None:
    code = ("import sys, trainlab.scratch, trainlab.scratch.rnn, trainlab.scratch.lstm, trainlab.scratch.loss, "
            "trainlab.scratch.activations, trainlab.scratch.init; assert 'torch' not in sys.modules, 'torch loaded'")
    subprocess.run([sys.executable, "-c", code], check=True)
    for path in SCRATCH_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f"{path.name} imports torch"


@pytest.mark.parametrize("name", ["activations.py", "rnn.py", "lstm.py"])
def test_files_stay_small(name: str) -> None:
    assert len((SCRATCH_DIR / name).read_text(encoding="utf-8").splitlines()) < 250


def _numeric(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = f()
        array[index] = original - eps
        minus = f()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_rnn_one_step_backward(activation: str) -> None:
    rng = np.random.default_rng(1)
    cell = RNNCell(RNNParams.random(3, 2, rng), activation)
    x, h_prev, weights = rng.normal(size=2), rng.normal(size=3), rng.normal(size=3)

    def loss() -> float:
        return float(weights @ cell.forward(x, h_prev)[0])

    h, cache = cell.forward(x, h_prev)
    expected = np.tanh if activation == "tanh" else (lambda a: 1 / (1 + np.exp(-a)))
    p = cell.params
    np.testing.assert_allclose(h, expected(p.W_x @ x + p.W_h @ h_prev + p.b), rtol=1e-15)
    dx, dh_prev, dW_x, dW_h, db = cell.backward(weights, cache)
    for analytic, array in ((dx, x), (dh_prev, h_prev), (dW_x, p.W_x), (dW_h, p.W_h), (db, p.b)):
        np.testing.assert_allclose(analytic, _numeric(loss, array), rtol=1e-7, atol=1e-10)


def test_lstm_one_step_forward_follows_the_gate_equations_and_backward_matches_numeric() -> None:
    rng = np.random.default_rng(2)
    cell = LSTMCell(LSTMParams.random(3, 2, rng))
    x, h_prev, c_prev = rng.normal(size=2), rng.normal(size=3), rng.normal(size=3)
    wh, wc = rng.normal(size=3), rng.normal(size=3)
    h, c, cache = cell.forward(x, h_prev, c_prev)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    z = {k: cell.params.gate(k).W_x @ x + cell.params.gate(k).W_h @ h_prev + cell.params.gate(k).b for k in GATES}
    c_expected = sig(z["f"]) * c_prev + sig(z["i"]) * np.tanh(z["g"])
    np.testing.assert_allclose(c, c_expected, rtol=1e-14)
    np.testing.assert_allclose(h, sig(z["o"]) * np.tanh(c_expected), rtol=1e-14)

    def loss() -> float:  # depends on both outputs, so dh and dc are both exercised
        h_, c_, _ = cell.forward(x, h_prev, c_prev)
        return float(wh @ h_ + wc @ c_)

    step = cell.backward(wh, wc, cache)
    for analytic, array in ((step.dx, x), (step.dh_prev, h_prev), (step.dc_prev, c_prev)):
        np.testing.assert_allclose(analytic, _numeric(loss, array), rtol=1e-7, atol=1e-10)
    for name, array in cell.params.named().items():
        np.testing.assert_allclose(step.params.named()[name], _numeric(loss, array), rtol=1e-7, atol=1e-10)


def test_sequence_shapes_and_bptt_for_a_last_step_loss() -> None:
    rng = np.random.default_rng(3)
    rnn = RNNCell(RNNParams.random(4, 3, rng), "tanh")
    xs, h0, targets = rng.normal(size=(5, 3)), rng.normal(size=4), rng.normal(size=(5, 4))
    hs, caches = rnn.forward_sequence(xs, h0)
    assert hs.shape == (5, 4) and len(caches) == 5
    _, dhs = sequence_loss(hs, targets, loss="last")
    assert np.all(dhs[:-1] == 0) and np.any(dhs[-1] != 0)
    dxs, dh0, grads = rnn.backward_sequence(dhs, caches)
    assert dxs.shape == (5, 3) and dh0.shape == (4,) and grads.W_h.shape == (4, 4)

    def total() -> float:
        return sequence_loss(rnn.forward_sequence(xs, h0)[0], targets, loss="last")[0]

    np.testing.assert_allclose(dh0, _numeric(total, h0), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(dxs, _numeric(total, xs), rtol=1e-6, atol=1e-10)

    lstm = LSTMCell(LSTMParams.random(4, 3, rng))
    c0 = rng.normal(size=4)
    hs, cs, lstm_caches = lstm.forward_sequence(xs, h0, c0)
    assert hs.shape == cs.shape == (5, 4)
    dxs, dh0, dc0, _ = lstm.backward_sequence(sequence_loss(hs, targets)[1], lstm_caches)

    def lstm_total() -> float:
        return sequence_loss(lstm.forward_sequence(xs, h0, c0)[0], targets)[0]

    np.testing.assert_allclose(dc0, _numeric(lstm_total, c0), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(dxs, _numeric(lstm_total, xs), rtol=1e-6, atol=1e-10)


def test_sequence_loss_values() -> None:
    hs = np.array([[1.0, 2.0], [3.0, 5.0]])
    targets = np.array([[0.0, 2.0], [1.0, 1.0]])
    assert sequence_loss(hs, targets, "all", "mean")[0] == pytest.approx((1 + 0 + 4 + 16) / 4)
    assert sequence_loss(hs, targets, "last", "mean")[0] == pytest.approx((4 + 16) / 2)
    loss, dhs = sequence_loss(hs, targets, "last", "sum")
    assert loss == 20.0 and dhs.tolist() == [[0.0, 0.0], [4.0, 8.0]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RNNCell(RNNParams.zeros(2, 1), "relu"), "unknown activation 'relu'"),
        (lambda: RNNCell(RNNParams(np.zeros((2, 1)), np.zeros((3, 3)), np.zeros(2))), "W_h has shape (3, 3)"),
        (lambda: LSTMCell(LSTMParams.zeros(2, 1).__class__(*[LSTMParams.zeros(2, 1).i] * 3,
                                                           LSTMParams.zeros(3, 1).o)), "W_xo has shape (3, 1)"),
        (lambda: sequence_loss(np.zeros((2, 2)), np.zeros((3, 2))), "targets have shape (3, 2)"),
        (lambda: sequence_loss(np.zeros((2, 2)), np.zeros((2, 2)), loss="first"), "unknown loss 'first'"),
        (lambda: RNNCell(RNNParams.zeros(2, 1)).backward_sequence(np.zeros((1, 2)), []), "dhs has shape (1, 2)"),
    ],
)
def test_mistakes_are_trainlab_errors(call, message: str) -> None:
    with pytest.raises(TrainlabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
