"""Gradient-flow study: how ‖∂L/∂h_0‖ of a recurrent net grows or vanishes with the number of steps T.

RNN, recurrent weight scale w. W_h = w·Q with Q a fixed random orthogonal matrix (spectral radius |w|), W_x = 0 and
zero inputs. The bias holds the hidden state at a fixed point whose pre-activation is 0: with h* = φ(0)·1,

    a_t = W_h h* + b = 0   ⇔   b = −W_h h*,   so h_t = φ(0) = h* at every step, starting from h_0 = h*.

tanh: h* = 0, b = 0.  sigmoid: h* = σ(0)·1 = 0.5·1, b = −0.5·W_h 1. Every step then has the same Jacobian
∂h_t/∂h_{t−1} = diag(φ'(0))·W_h = φ'(0)·w·Q, and with the loss L = uᵀh_T, u = 1/√hidden·(1, …, 1) (the sum of h_T
scaled so that ‖∂L/∂h_T‖ = 1):

    ∂L/∂h_0 = (φ'(0) w)^T (Qᵀ)^T u,   ‖∂L/∂h_0‖ = (φ'(0)·|w|)^T          (Q orthogonal keeps the norm)

φ'(0) = 1 for tanh and 1/4 for sigmoid, so the gradient vanishes for |w| < 1 (tanh) or |w| < 4 (sigmoid) and
explodes above. The norms are computed with the NumPy BPTT of :mod:`trainlab.scratch`, not with torch.

LSTM, forget-gate bias b_f. All weights zero, every other bias zero, zero inputs, h_0 = c_0 = 0: then i = o = σ(0),
g = tanh(0) = 0, f = σ(b_f), and c_t = f c_{t−1} + i g = 0, h_t = o tanh(c_t) = 0 at every step. With no recurrent
weights ∂L/∂h_0 is exactly 0; the gradient that flows back is the cell state's: ∂L/∂c_T = o·(1 − tanh² c_T)·u = u/2 and
∂L/∂c_{t−1} = f·∂L/∂c_t, so ‖∂L/∂c_0‖ = ½·σ(b_f)^T — per-step factor σ(b_f) (0.5 for b_f = 0, 0.7311 for b_f = 1).

The measured per-step factor of a setting is exp(slope) of the least-squares line of log‖∂L/∂·_0‖ against T = 1 … steps.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes, atomic_write_text
from trainlab.scratch import LSTMCell, LSTMParams, RNNCell, RNNParams
from trainlab.scratch.init import random_orthogonal

CELLS = ("rnn", "lstm")
SLOPE_AT_ZERO = {"tanh": 1.0, "sigmoid": 0.25}
"""φ'(0) per activation."""
STABLE_TOL = 1e-6
MAX_STEPS = 500
MAX_HIDDEN = 256


@dataclass(frozen=True)
class FlowSetting:
    """One line of the study: the gradient norm for T = 1 … steps and the per-step factors."""

    label: str
    cell: str
    activation: str
    value: float
    quantity: str
    norms: tuple[float, ...]
    measured_factor: float
    theoretical_factor: float

    @property
    def verdict(self) -> str:
        if self.measured_factor < 1.0 - STABLE_TOL:
            return "vanishing"
        if self.measured_factor > 1.0 + STABLE_TOL:
            return "exploding"
        return "stable"


@dataclass(frozen=True)
class GradFlowResult:
    steps: int
    hidden: int
    seed: int
    settings: tuple[FlowSetting, ...]


def growth_factor(norms: Sequence[float]) -> float:
    """exp(slope) of the least-squares fit of log(norm_T) against T = 1, 2, …; needs two finite positive norms."""
    values = np.asarray(norms, dtype=np.float64)
    steps = np.arange(1, values.size + 1, dtype=np.float64)
    usable = np.isfinite(values) & (values > 0)
    if usable.sum() < 2:
        raise TrainlabError("the gradient norm is 0 or overflows float64 at nearly every step, so no growth factor "
                            "can be fitted; use fewer --steps or a weight closer to the threshold")
    slope = np.polyfit(steps[usable], np.log(values[usable]), 1)[0]
    return float(np.exp(slope))


def _rnn_norms(activation: str, w: float, steps: int, hidden: int, seed: int) -> list[float]:
    q = random_orthogonal(hidden, np.random.default_rng(seed))
    h_star = np.full(hidden, 0.0 if activation == "tanh" else 0.5)  # φ(0)
    W_h = w * q
    cell = RNNCell(RNNParams(np.zeros((hidden, 1)), W_h, -W_h @ h_star), activation)
    _, caches = cell.forward_sequence(np.zeros((steps, 1)), h_star)
    u = np.full(hidden, 1.0 / math.sqrt(hidden))
    norms = []
    for t in range(1, steps + 1):  # the first t steps of the stationary run are exactly a t-step run
        dhs = np.zeros((t, hidden))
        dhs[-1] = u
        norms.append(float(np.linalg.norm(cell.backward_sequence(dhs, caches[:t])[1])))
    return norms


def _lstm_norms(forget_bias: float, steps: int, hidden: int) -> list[float]:
    params = LSTMParams.zeros(hidden, 1)
    params.f.b[:] = forget_bias
    cell = LSTMCell(params)
    zeros = np.zeros(hidden)
    _, _, caches = cell.forward_sequence(np.zeros((steps, 1)), zeros, zeros)
    u = np.full(hidden, 1.0 / math.sqrt(hidden))
    norms = []
    for t in range(1, steps + 1):
        dhs = np.zeros((t, hidden))
        dhs[-1] = u
        norms.append(float(np.linalg.norm(cell.backward_sequence(dhs, caches[:t])[2])))
    return norms


def _check_values(values: Sequence[float], option: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise TrainlabError(f"{option} is empty; expected at least one number")
    if not all(math.isfinite(v) for v in out):
        raise TrainlabError(f"{option} {out} holds a non-finite value; expected finite numbers")
    return out


def run_gradflow(cell: str = "rnn", activation: str = "sigmoid", weights: Sequence[float] | None = None,
                 forget_biases: Sequence[float] = (0.0, 1.0), steps: int = 50, hidden: int = 8,
                 seed: int = 0) -> GradFlowResult:
    """The study for an RNN (one setting per weight scale w) or an LSTM (one per forget-gate bias).

    ``weights`` defaults to 1, 2, 4, 6 for the sigmoid and 0.5, 1, 1.5 for tanh; ``Q`` comes from ``seed``.
    """
    if cell not in CELLS:
        raise TrainlabError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
    if not 2 <= steps <= MAX_STEPS:
        raise TrainlabError(f"--steps {steps} is out of range; expected an integer from 2 to {MAX_STEPS} "
                            "(two points at least to fit the per-step factor)")
    if not 1 <= hidden <= MAX_HIDDEN:
        raise TrainlabError(f"--hidden {hidden} is out of range; expected an integer from 1 to {MAX_HIDDEN}")
    if seed < 0:
        raise TrainlabError(f"--seed {seed} is negative; expected an integer ≥ 0")
    settings = []
    if cell == "rnn":
        if activation not in SLOPE_AT_ZERO:
            raise TrainlabError(f"unknown activation {activation!r}; expected one of {', '.join(SLOPE_AT_ZERO)}")
        if weights is None:
            weights = (1.0, 2.0, 4.0, 6.0) if activation == "sigmoid" else (0.5, 1.0, 1.5)
        for w in _check_values(weights, "--weights"):
            if w == 0:
                raise TrainlabError("--weights holds 0: W_h = 0 makes ∂L/∂h_0 exactly 0; expected non-zero scales")
            norms = _rnn_norms(activation, w, steps, hidden, seed)
            settings.append(FlowSetting(f"rnn {activation} w={w:g}", "rnn", activation, w, "‖∂L/∂h_0‖",
                                        tuple(norms), growth_factor(norms), SLOPE_AT_ZERO[activation] * abs(w)))
    else:
        for b in _check_values(forget_biases, "--forget-bias"):
            norms = _lstm_norms(b, steps, hidden)
            sigma = 1.0 / (1.0 + math.exp(-b)) if b >= 0 else math.exp(b) / (1.0 + math.exp(b))
            settings.append(FlowSetting(f"lstm b_f={b:g}", "lstm", "-", b, "‖∂L/∂c_0‖", tuple(norms),
                                        growth_factor(norms), sigma))
    return GradFlowResult(steps=steps, hidden=hidden, seed=seed, settings=tuple(settings))


def critical_weight(activation: str = "sigmoid", low: float = 0.1, high: float = 10.0, tol: float = 1e-4,
                    steps: int = 10, hidden: int = 8, seed: int = 0) -> float:
    """Bisect w in [low, high] for the measured per-step factor crossing 1 (4 for sigmoid, 1 for tanh in theory)."""

    def factor(w: float) -> float:
        return run_gradflow("rnn", activation, [w], steps=steps, hidden=hidden, seed=seed).settings[0].measured_factor

    if not 0 < low < high:
        raise TrainlabError(f"bisection interval [{low}, {high}] is invalid; expected 0 < low < high")
    if not factor(low) < 1.0 < factor(high):
        raise TrainlabError(f"the per-step factor does not cross 1 inside [{low}, {high}]; widen the interval")
    while high - low > tol:
        middle = 0.5 * (low + high)
        low, high = (middle, high) if factor(middle) < 1.0 else (low, middle)
    return 0.5 * (low + high)


def _png(result: GradFlowResult) -> bytes:
    fig = Figure(figsize=(7.0, 4.4))
    ax = fig.add_subplot()
    steps = np.arange(1, result.steps + 1)
    for setting in result.settings:
        norms = np.asarray(setting.norms)
        norms = np.where((norms > 0) & np.isfinite(norms), norms, np.nan)
        label = f"{setting.label} (×{setting.measured_factor:.4g}/step)".replace("$", r"\$")
        ax.plot(steps, norms, marker="o", ms=2.5, label=label)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="1 (reference)")
    ax.set_yscale("log")
    ax.set_xlabel("number of steps T")
    quantities = sorted({s.quantity for s in result.settings})
    ax.set_ylabel(" / ".join(quantities) + " (log scale)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Gradient flow through T steps (hidden={result.hidden})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def render_markdown(result: GradFlowResult) -> str:
    lines = [
        "# Gradient flow",
        "",
        f"hidden = {result.hidden}, T = 1 … {result.steps}, seed = {result.seed}. "
        "RNN: W_h = w·Q (Q random orthogonal), zero input, bias holding every pre-activation at 0, "
        "L = sum(h_T)/√hidden, quantity ‖∂L/∂h_0‖, theory "
        "φ'(0)·|w| per step. LSTM: zero weights and biases except the forget bias b_f, quantity ‖∂L/∂c_0‖ "
        "(∂L/∂h_0 is exactly 0 without recurrent weights), theory σ(b_f) per step. Measured factor = exp(slope of "
        "log-norm against T).",
        "",
        f"| setting | measured factor | theoretical factor | verdict | norm at T={result.steps} |",
        "|---|---:|---:|---|---:|",
    ]
    for s in result.settings:
        lines.append(f"| {s.label} | {s.measured_factor:.6f} | {s.theoretical_factor:.6f} | {s.verdict} | "
                     f"{s.norms[-1]:.3e} |")
    return "\n".join(lines) + "\n"


def write_gradflow_report(result: GradFlowResult, out_dir: str | Path) -> list[Path]:
    """Write ``gradflow.png`` (log-norm per T, one line per setting, dashed 1) and ``gradflow.md``, atomically."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TrainlabError(f"--out {out} is a file; expected a folder for gradflow.png and gradflow.md")
    try:
        return [atomic_write_bytes(out / "gradflow.png", _png(result)),
                atomic_write_text(out / "gradflow.md", render_markdown(result))]
    except OSError as error:  # a read-only or full disk, a path the OS refuses
        raise TrainlabError(f"--out {out}: cannot write the report: {error.strerror or error}") from None
