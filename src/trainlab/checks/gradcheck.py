"""Gradient check of the NumPy RNN / LSTM: analytic BPTT against centered finite differences and torch autograd.

A random problem from ``seed`` has the loss L = MSE of h_t against the targets over all steps or the last one
(:func:`trainlab.scratch.sequence_loss`, ``reduction="mean"``). Inputs xs [T, input], h0, c0, targets, W_x and b are
N(0, 0.5²). The recurrent weights are a scaled random orthogonal matrix, so that the gradient reaching h0 (and the first
inputs) neither vanishes nor explodes over the steps: W_h = (1.2 / φ'(0))·Q for the RNN (with b shifted by −W_h·0.5
for the sigmoid, which centres the pre-activations where σ' = 1/4), W_hk = 1.5·Q_k per LSTM gate and b_f += 1.5 (the
usual forget-gate bias). With plain N(0, 0.5²) recurrent weights the gradient w.r.t. h0 of a last-step loss shrinks
to ~1e-4 within 6 sigmoid steps, near the finite-difference noise floor (≈ 1e-16·|L| / ε), and the relative error
then measures rounding noise, not the backward pass. For the same reason ``steps`` is capped at 25.

For every tensor — each parameter, the inputs ``x``, ``h0`` and ``c0`` — three gradients:

* analytic: the hand-written BPTT of :mod:`trainlab.scratch`;
* numeric: (L(θ + ε e_k) − L(θ − ε e_k)) / 2ε for EVERY entry k, ε = 1e-6;
* torch: autograd of ``torch.nn.RNN`` (tanh) / ``torch.nn.LSTM`` loaded with the same weights. PyTorch stacks the
  gates as i, f, g, o in ``weight_ih_l0`` / ``weight_hh_l0`` and adds two biases, ``bias_ih + bias_hh``: we split our b
  into ``bias_ih = b − r`` and ``bias_hh = r`` (r random), so both torch biases get exactly ∂L/∂b, and the ``b`` row
  reports the larger difference of the two. ``nn.RNN`` has no sigmoid, so the sigmoid RNN is compared with a small
  torch autograd loop, h_t = torch.sigmoid(W_x x_t + W_h h_{t−1} + b); the table's "torch reference" column says which.

Relative error per tensor = max |a − n| / max(max |a| + |n|, tiny) (max over the tensor's entries). A row passes when
it is < 1e-6 and the max abs difference to torch is < 1e-10.

Resolution of the numeric check: rounding the two losses gives a centered difference an absolute error of about
u·|L| / ε (u = 2.2e-16, so ≈ 1e-10 for L ≈ 0.5), whatever the backward pass does. A tensor whose gradient is smaller
than RESOLUTION·u·|L| / (ε·1e-6) (≈ 1e-3·|L|; both the analytic and the numeric max count, so a backward pass that
wrongly returns zeros is still caught) cannot reach a relative error of 1e-6 even when its gradient is exact: this
happens only far from the defaults (hidden 1–2 with a last-step loss over many steps, where the gradient reaching h0
vanishes). Such a row is marked "below FD resolution" and is judged by torch alone, by the absolute bar and by a
relative one, max |a − t| / max(max |a| + |t|, tiny) < 1e-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from trainlab.errors import TrainlabError
from trainlab.scratch import LSTMCell, LSTMParams, RNNCell, RNNParams, sequence_loss
from trainlab.scratch.activations import ACTIVATIONS
from trainlab.scratch.init import random_orthogonal
from trainlab.scratch.loss import LOSS_STEPS
from trainlab.scratch.lstm import GATES

if TYPE_CHECKING:
    import torch

Array = NDArray[np.float64]
CELLS = ("rnn", "lstm")
EPS = 1e-6
REL_TOL = 1e-6
TORCH_TOL = 1e-10
TINY = 1e-300
RESOLUTION = 10.0
TORCH_REL_TOL = 1e-8
MAX_SIZE = 32
MAX_STEPS = 25
SCALE = 0.5
RNN_GAIN = 1.2
LSTM_GAIN = 1.5
FORGET_BIAS = 1.5


@dataclass(frozen=True)
class Row:
    """One tensor's check."""

    name: str
    shape: tuple[int, ...]
    rel_error: float
    torch_diff: float | None
    reference: str
    resolvable: bool = True
    torch_rel_error: float | None = None

    @property
    def passed(self) -> bool:
        torch_ok = self.torch_diff is None or self.torch_diff < TORCH_TOL
        if self.resolvable:
            return bool(self.rel_error < REL_TOL and torch_ok)
        return bool(torch_ok and self.torch_rel_error is not None and self.torch_rel_error < TORCH_REL_TOL)


def relative_error(analytic: Array, numeric: Array) -> float:
    """max |a − n| / max(max(|a| + |n|), tiny) over the tensor."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n)) / max(float(np.max(np.abs(a) + np.abs(n))), TINY))


@dataclass
class Problem:
    """A random RNN or LSTM problem; ``tensors()`` are the very arrays the loss reads, so they can be perturbed."""

    cell: str
    activation: str
    loss: str
    model: RNNCell | LSTMCell
    xs: Array
    h0: Array
    c0: Array | None
    targets: Array

    @classmethod
    def build(cls, cell: str, hidden: int, input_size: int, steps: int, activation: str, loss: str,
              seed: int) -> Problem:
        """A well-conditioned random problem (see the module docstring)."""
        rng = np.random.default_rng(seed)
        model: RNNCell | LSTMCell
        if cell == "rnn":
            rnn = RNNParams.random(hidden, input_size, rng, SCALE)
            slope = 1.0 if activation == "tanh" else 0.25  # φ'(0)
            rnn.W_h = (RNN_GAIN / slope) * random_orthogonal(hidden, rng)
            if activation == "sigmoid":
                rnn.b -= rnn.W_h @ np.full(hidden, 0.5)  # centre the pre-activations: h ≈ σ(0) = 0.5
            model = RNNCell(rnn, activation)
        else:
            lstm = LSTMParams.random(hidden, input_size, rng, SCALE)
            for k in GATES:
                lstm.gate(k).W_h = LSTM_GAIN * random_orthogonal(hidden, rng)
            lstm.f.b += FORGET_BIAS
            model = LSTMCell(lstm)
        xs = rng.normal(0.0, SCALE, (steps, input_size))
        h0 = rng.normal(0.0, SCALE, hidden)
        c0 = rng.normal(0.0, SCALE, hidden) if cell == "lstm" else None
        targets = rng.normal(0.0, SCALE, (steps, hidden))
        return cls(cell, activation, loss, model, xs, h0, c0, targets)

    def tensors(self) -> dict[str, Array]:
        out = self.model.params.named() | {"x": self.xs, "h0": self.h0}
        return out | {"c0": self.c0} if self.c0 is not None else out

    def loss_value(self) -> float:
        if isinstance(self.model, LSTMCell):
            hs, _, _ = self.model.forward_sequence(self.xs, self.h0, self.c0)
        else:
            hs, _ = self.model.forward_sequence(self.xs, self.h0)
        return sequence_loss(hs, self.targets, self.loss)[0]

    def analytic(self) -> dict[str, Array]:
        """The BPTT gradients of every tensor, by name."""
        if isinstance(self.model, LSTMCell):
            hs, _, caches = self.model.forward_sequence(self.xs, self.h0, self.c0)
            dhs = sequence_loss(hs, self.targets, self.loss)[1]
            dxs, dh0, dc0, grads = self.model.backward_sequence(dhs, caches)
            return grads.named() | {"x": dxs, "h0": dh0, "c0": dc0}
        hs, rnn_caches = self.model.forward_sequence(self.xs, self.h0)
        dhs = sequence_loss(hs, self.targets, self.loss)[1]
        dxs, dh0, rnn_grads = self.model.backward_sequence(dhs, rnn_caches)
        return rnn_grads.named() | {"x": dxs, "h0": dh0}

    def numeric(self, eps: float = EPS) -> dict[str, Array]:
        """Centered finite differences on every entry of every tensor."""
        out: dict[str, Array] = {}
        for name, array in self.tensors().items():
            grad = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                original = array[index]
                array[index] = original + eps
                plus = self.loss_value()
                array[index] = original - eps
                minus = self.loss_value()
                array[index] = original
                grad[index] = (plus - minus) / (2.0 * eps)
            out[name] = grad
        return out


def _validate(cell: str, hidden: int, input_size: int, steps: int, activation: str, loss: str, seed: int) -> None:
    if cell not in CELLS:
        raise TrainlabError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
    for option, value, limit in (("--hidden", hidden, MAX_SIZE), ("--input", input_size, MAX_SIZE),
                                 ("--steps", steps, MAX_STEPS)):
        if not 1 <= value <= limit:
            raise TrainlabError(f"{option} {value} is out of range; expected an integer from 1 to {limit} "
                                "(every entry is checked by finite differences)")
    if activation not in ACTIVATIONS:
        raise TrainlabError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    if cell == "lstm" and activation != "tanh":
        raise TrainlabError(f"--activation {activation!r} applies to the rnn cell only; the LSTM's gates are fixed "
                            "(σ for i, f, o and tanh for g and the cell output)")
    if loss not in LOSS_STEPS:
        raise TrainlabError(f"unknown loss {loss!r}; expected one of {', '.join(LOSS_STEPS)}")
    if seed < 0:
        raise TrainlabError(f"--seed {seed} is negative; expected an integer ≥ 0")


def torch_gradients(problem: Problem, batch_first: bool = False) -> tuple[dict[str, Array], dict[str, str]]:
    """Autograd gradients of the same loss in float64 torch; returns (gradients by name, reference by name).

    For the biases the returned array stacks the two torch bias gradients ([bias_ih, bias_hh]) so that the comparison
    checks both against ∂L/∂b.
    """
    import torch

    def leaf(array: Array) -> torch.Tensor:
        return torch.tensor(array, dtype=torch.float64, requires_grad=True)

    rng = np.random.default_rng(12345)
    xs, h0 = leaf(problem.xs), leaf(problem.h0)
    grads: dict[str, Array] = {}
    hidden = problem.h0.shape[0]
    params = problem.model.params
    if problem.cell == "rnn" and problem.activation == "sigmoid":
        assert isinstance(params, RNNParams)
        W_x, W_h, b = leaf(params.W_x), leaf(params.W_h), leaf(params.b)
        h, steps = h0, []
        for t in range(xs.shape[0]):
            h = torch.sigmoid(W_x @ xs[t] + W_h @ h + b)
            steps.append(h)
        _torch_loss(torch.stack(steps), problem).backward()
        grads = {"W_x": W_x.grad.numpy(), "W_h": W_h.grad.numpy(), "b": b.grad.numpy()[None, :]}
        reference = "autograd loop (torch.sigmoid)"
    else:
        split = rng.normal(0.0, SCALE, hidden * (4 if problem.cell == "lstm" else 1))
        if isinstance(params, LSTMParams):
            net: torch.nn.RNNBase = torch.nn.LSTM(params.input, hidden, batch_first=batch_first, dtype=torch.float64)
            w_ih = np.concatenate([params.gate(k).W_x for k in GATES])
            w_hh = np.concatenate([params.gate(k).W_h for k in GATES])
            bias = np.concatenate([params.gate(k).b for k in GATES])
            reference = "torch.nn.LSTM"
        else:
            assert isinstance(params, RNNParams)
            net = torch.nn.RNN(params.input, hidden, nonlinearity="tanh", batch_first=batch_first,
                               dtype=torch.float64)
            w_ih, w_hh, bias = params.W_x, params.W_h, params.b
            reference = "torch.nn.RNN"
        with torch.no_grad():
            for tensor, value in ((net.weight_ih_l0, w_ih), (net.weight_hh_l0, w_hh), (net.bias_ih_l0, bias - split),
                                  (net.bias_hh_l0, split)):
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        batch_x = xs.unsqueeze(0) if batch_first else xs.unsqueeze(1)
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] = h0.reshape(1, 1, hidden)
        c0 = None
        if problem.c0 is not None:
            c0 = leaf(problem.c0)
            state = (h0.reshape(1, 1, hidden), c0.reshape(1, 1, hidden))
        out, _ = net(batch_x, state)
        hs = out[0] if batch_first else out[:, 0]
        _torch_loss(hs, problem).backward()
        g_ih, g_hh = net.weight_ih_l0.grad.numpy(), net.weight_hh_l0.grad.numpy()
        g_b = np.stack([net.bias_ih_l0.grad.numpy(), net.bias_hh_l0.grad.numpy()])
        if problem.cell == "lstm":
            for n, k in enumerate(GATES):
                rows = slice(n * hidden, (n + 1) * hidden)
                grads |= {f"W_x{k}": g_ih[rows], f"W_h{k}": g_hh[rows], f"b_{k}": g_b[:, rows]}
            grads["c0"] = c0.grad.numpy()
        else:
            grads = {"W_x": g_ih, "W_h": g_hh, "b": g_b}
    grads |= {"x": xs.grad.numpy(), "h0": h0.grad.numpy()}
    return grads, dict.fromkeys(grads, reference)


def _torch_loss(hs: torch.Tensor, problem: Problem) -> torch.Tensor:
    targets = hs.new_tensor(problem.targets)
    if problem.loss == "last":
        return ((hs[-1] - targets[-1]) ** 2).mean()
    return ((hs - targets) ** 2).mean()


def run_gradcheck(cell: str = "lstm", hidden: int = 8, input_size: int = 4, steps: int = 6, activation: str = "tanh",
                  loss: str = "all", seed: int = 0, compare_torch: bool = True) -> list[Row]:
    """Check every parameter tensor, the inputs ``x``, ``h0`` (and ``c0``) of a random problem; one Row per tensor."""
    _validate(cell, hidden, input_size, steps, activation, loss, seed)
    problem = Problem.build(cell, hidden, input_size, steps, activation, loss, seed)
    analytic = problem.analytic()
    numeric = problem.numeric()
    reference: dict[str, str] = {}
    torch_grads: dict[str, Array] = {}
    if compare_torch:
        torch_grads, reference = torch_gradients(problem)
    floor = RESOLUTION * np.finfo(np.float64).eps * abs(problem.loss_value()) / EPS / REL_TOL
    rows = []
    for name, grad in analytic.items():
        diff = torch_rel = None
        if name in torch_grads:
            diff = float(np.max(np.abs(torch_grads[name] - grad)))
            torch_rel = relative_error(np.broadcast_to(grad, torch_grads[name].shape), torch_grads[name])
        magnitude = max(float(np.max(np.abs(grad))), float(np.max(np.abs(numeric[name]))))
        rows.append(Row(name, tuple(grad.shape), relative_error(grad, numeric[name]), diff, reference.get(name, "n/a"),
                        resolvable=magnitude >= floor, torch_rel_error=torch_rel))
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def render_table(rows: list[Row], title: str = "Gradient check") -> Table:
    """The rows as a Rich table; the caption names the torch reference and the tolerances."""
    references = ", ".join(dict.fromkeys(row.reference for row in rows))
    table = Table(title=title, caption=f"torch reference: {references}. Pass: rel. error < {REL_TOL:g} "
                  f"(ε = {EPS:g}) and max |Δ| vs torch < {TORCH_TOL:g}.")
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("rel. err vs numeric", justify="right")
    table.add_column("max |Δ| vs torch", justify="right", no_wrap=True)
    table.add_column("check", no_wrap=True)
    for row in rows:
        shape = "×".join(map(str, row.shape))
        check = "[green]pass[/]" if row.passed else "[bold red]FAIL[/]"
        numeric = _fmt(row.rel_error) if row.resolvable else f"{row.rel_error:.1e} (below FD resolution)"
        table.add_row(row.name, shape, numeric, _fmt(row.torch_diff), check)
    return table
