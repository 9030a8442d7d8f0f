"""An LSTM cell in float64 NumPy with backpropagation through time.

Forward, one step (σ = sigmoid, ⊙ = elementwise product), for each gate k ∈ {i, f, g, o}::

    z_k = W_xk x_t + W_hk h_{t−1} + b_k                     (pre-activation, shape [hidden])
    i = σ(z_i)   f = σ(z_f)   g = tanh(z_g)   o = σ(z_o)     (input, forget, candidate, output)
    c_t = f ⊙ c_{t−1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Backward, one step, given dh = ∂L/∂h_t and dc = ∂L/∂c_t arriving from step t+1 (plus the loss at t in dh)::

    do   = dh ⊙ tanh(c_t)
    dc_t = dc + dh ⊙ o ⊙ (1 − tanh²(c_t))                   (total gradient reaching c_t)
    di = dc_t ⊙ g    df = dc_t ⊙ c_{t−1}    dg = dc_t ⊙ i
    dz_i = di ⊙ i(1−i)   dz_f = df ⊙ f(1−f)   dz_g = dg ⊙ (1−g²)   dz_o = do ⊙ o(1−o)
    ∂L/∂W_xk = dz_k x_tᵀ   ∂L/∂W_hk = dz_k h_{t−1}ᵀ   ∂L/∂b_k = dz_k
    ∂L/∂x_t = Σ_k W_xkᵀ dz_k   ∂L/∂h_{t−1} = Σ_k W_hkᵀ dz_k   ∂L/∂c_{t−1} = dc_t ⊙ f

BPTT walks t = T … 1 carrying both ∂L/∂h and ∂L/∂c back, and sums the parameter gradients over the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trainlab.errors import TrainlabError
from trainlab.scratch.activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output

Array = NDArray[np.float64]
GATES = ("i", "f", "g", "o")
"""Gate order, the same as PyTorch's stacking in ``weight_ih_l0`` / ``weight_hh_l0``."""
GATE_ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}


@dataclass
class GateParams:
    """One gate's W_x [hidden, input], W_h [hidden, hidden] and b [hidden]."""

    W_x: Array
    W_h: Array
    b: Array


@dataclass
class LSTMParams:
    """The four gates' parameters by name; also used for their gradients."""

    i: GateParams
    f: GateParams
    g: GateParams
    o: GateParams

    def gate(self, name: str) -> GateParams:
        return {"i": self.i, "f": self.f, "g": self.g, "o": self.o}[name]

    @property
    def hidden(self) -> int:
        return int(self.i.W_h.shape[0])

    @property
    def input(self) -> int:
        return int(self.i.W_x.shape[1])

    def named(self) -> dict[str, Array]:
        """``W_xi, W_hi, b_i, W_xf, …, b_o`` → the arrays themselves (writing into them changes the parameters)."""
        out: dict[str, Array] = {}
        for k in GATES:
            p = self.gate(k)
            out |= {f"W_x{k}": p.W_x, f"W_h{k}": p.W_h, f"b_{k}": p.b}
        return out

    def copy(self) -> LSTMParams:
        return LSTMParams(*(GateParams(p.W_x.copy(), p.W_h.copy(), p.b.copy()) for p in map(self.gate, GATES)))

    @classmethod
    def zeros(cls, hidden: int, input_size: int) -> LSTMParams:
        return cls(*(GateParams(np.zeros((hidden, input_size)), np.zeros((hidden, hidden)), np.zeros(hidden))
                     for _ in GATES))

    @classmethod
    def random(cls, hidden: int, input_size: int, rng: np.random.Generator, scale: float = 0.5) -> LSTMParams:
        """Entries drawn from N(0, scale²), gate by gate in the order i, f, g, o."""
        return cls(*(GateParams(rng.normal(0.0, scale, (hidden, input_size)), rng.normal(0.0, scale, (hidden, hidden)),
                                rng.normal(0.0, scale, hidden)) for _ in GATES))

    def validate(self) -> None:
        """Raise a TrainlabError naming the first array whose shape does not fit W_xi's [hidden, input]."""
        if self.i.W_x.ndim != 2:
            raise TrainlabError(f"W_xi has shape {self.i.W_x.shape}; expected a matrix [hidden, input]")
        hidden, input_size = self.i.W_x.shape
        expected = {"W_x": (hidden, input_size), "W_h": (hidden, hidden), "b": (hidden,)}
        for name, array in self.named().items():
            want = expected[name[:3] if name.startswith("W") else "b"]
            if array.shape != want:
                raise TrainlabError(f"{name} has shape {array.shape}; expected {want} (hidden={hidden}, "
                                    f"input={input_size})")


@dataclass
class LSTMCache:
    """What one forward step keeps: its inputs, every gate's pre-activation ``z`` and value, c_t, tanh(c_t), h_t."""

    x: Array
    h_prev: Array
    c_prev: Array
    z: dict[str, Array]
    gates: dict[str, Array]
    c: Array
    tanh_c: Array
    h: Array


class LSTMStepGrads(NamedTuple):
    """One backward step: ∂L/∂x_t, ∂L/∂h_{t−1}, ∂L/∂c_{t−1} and this step's parameter gradients per gate."""

    dx: Array
    dh_prev: Array
    dc_prev: Array
    params: LSTMParams


class LSTMCell:
    """The LSTM step of the module docstring, with parameters ``params``."""

    def __init__(self, params: LSTMParams) -> None:
        params.validate()
        self.params = params

    def forward(self, x: ArrayLike, h_prev: ArrayLike, c_prev: ArrayLike) -> tuple[Array, Array, LSTMCache]:
        """One step: returns h_t, c_t and the cache for :meth:`backward`."""
        x = np.asarray(x, dtype=np.float64)
        h_prev = np.asarray(h_prev, dtype=np.float64)
        c_prev = np.asarray(c_prev, dtype=np.float64)
        z = {k: (p := self.params.gate(k)).W_x @ x + p.W_h @ h_prev + p.b for k in GATES}
        gates = {k: (tanh if GATE_ACTIVATION[k] == "tanh" else sigmoid)(z[k]) for k in GATES}
        c = gates["f"] * c_prev + gates["i"] * gates["g"]
        tanh_c = tanh(c)
        h = gates["o"] * tanh_c
        return h, c, LSTMCache(x=x, h_prev=h_prev, c_prev=c_prev, z=z, gates=gates, c=c, tanh_c=tanh_c, h=h)

    def backward(self, dh: ArrayLike, dc: ArrayLike, cache: LSTMCache) -> LSTMStepGrads:
        """One step back from ∂L/∂h_t and ∂L/∂c_t (see the module formulas)."""
        dh = np.asarray(dh, dtype=np.float64)
        i, f, g, o = (cache.gates[k] for k in GATES)
        dc_total = np.asarray(dc, dtype=np.float64) + dh * o * tanh_grad_from_output(cache.tanh_c)
        dz = {
            "i": dc_total * g * sigmoid_grad_from_output(i),
            "f": dc_total * cache.c_prev * sigmoid_grad_from_output(f),
            "g": dc_total * i * tanh_grad_from_output(g),
            "o": dh * cache.tanh_c * sigmoid_grad_from_output(o),
        }
        dx = sum((self.params.gate(k).W_x.T @ dz[k] for k in GATES), np.zeros_like(cache.x))
        dh_prev = sum((self.params.gate(k).W_h.T @ dz[k] for k in GATES), np.zeros_like(cache.h_prev))
        grads = LSTMParams(*(GateParams(np.outer(dz[k], cache.x), np.outer(dz[k], cache.h_prev), dz[k]) for k in GATES))
        return LSTMStepGrads(dx=dx, dh_prev=dh_prev, dc_prev=dc_total * f, params=grads)

    def forward_sequence(
        self, xs: ArrayLike, h0: ArrayLike, c0: ArrayLike
    ) -> tuple[Array, Array, list[LSTMCache]]:
        """Run over xs [T, input] from (h0, c0): returns hs [T, hidden], cs [T, hidden] (steps 1 … T) and the caches."""
        xs = np.asarray(xs, dtype=np.float64)
        h = np.asarray(h0, dtype=np.float64)
        c = np.asarray(c0, dtype=np.float64)
        hs = np.empty((xs.shape[0], self.params.hidden))
        cs = np.empty_like(hs)
        caches: list[LSTMCache] = []
        for t, x in enumerate(xs):
            h, c, cache = self.forward(x, h, c)
            hs[t], cs[t] = h, c
            caches.append(cache)
        return hs, cs, caches

    def backward_sequence(
        self, dhs: ArrayLike, caches: list[LSTMCache]
    ) -> tuple[Array, Array, Array, LSTMParams]:
        """Full BPTT. ``dhs[t]`` is ∂L/∂h_t from the loss at step t alone; ∂L/∂c is carried back between steps.

        Returns (∂L/∂xs [T, input], ∂L/∂h0, ∂L/∂c0, parameter gradients summed over the steps as an LSTMParams).
        """
        dhs = np.asarray(dhs, dtype=np.float64)
        hidden, input_size = self.params.hidden, self.params.input
        if dhs.shape != (len(caches), hidden):
            raise TrainlabError(f"dhs has shape {dhs.shape}; expected ({len(caches)}, {hidden})")
        grads = LSTMParams.zeros(hidden, input_size)
        dxs = np.zeros((len(caches), input_size))
        dh_next, dc_next = np.zeros(hidden), np.zeros(hidden)
        for t in reversed(range(len(caches))):
            step = self.backward(dhs[t] + dh_next, dc_next, caches[t])
            dxs[t] = step.dx
            dh_next, dc_next = step.dh_prev, step.dc_prev
            for name, total in grads.named().items():
                total += step.params.named()[name]
        return dxs, dh_next, dc_next, grads
