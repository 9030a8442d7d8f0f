"""A vanilla (Elman) RNN cell in float64 NumPy with backpropagation through time.

Forward, one step::

    a_t = W_x x_t + W_h h_{t−1} + b          (pre-activation, shape [hidden])
    h_t = φ(a_t),   φ = tanh or sigmoid

Backward, one step, given dh = ∂L/∂h_t (everything that reaches h_t from later steps and from the loss at t)::

    da      = dh ⊙ φ'(a_t)                   φ' = 1 − h_t² (tanh) or h_t (1 − h_t) (sigmoid)
    ∂L/∂W_x = da x_tᵀ,   ∂L/∂W_h = da h_{t−1}ᵀ,   ∂L/∂b = da
    ∂L/∂x_t = W_xᵀ da,   ∂L/∂h_{t−1} = W_hᵀ da

Backpropagation through time walks t = T … 1 with dh = dhs[t] + (∂L/∂h_t carried back from step t+1) and sums the
parameter gradients of all steps, since the same W_x, W_h, b are used at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trainlab.errors import TrainlabError
from trainlab.scratch.activations import ACTIVATIONS

Array = NDArray[np.float64]


@dataclass
class RNNParams:
    """W_x [hidden, input], W_h [hidden, hidden], b [hidden]. Also used for their gradients."""

    W_x: Array
    W_h: Array
    b: Array

    @property
    def hidden(self) -> int:
        return int(self.W_h.shape[0])

    @property
    def input(self) -> int:
        return int(self.W_x.shape[1])

    def named(self) -> dict[str, Array]:
        """The arrays by name (the same objects, so writing into them changes the parameters)."""
        return {"W_x": self.W_x, "W_h": self.W_h, "b": self.b}

    def copy(self) -> RNNParams:
        return RNNParams(self.W_x.copy(), self.W_h.copy(), self.b.copy())

    @classmethod
    def zeros(cls, hidden: int, input_size: int) -> RNNParams:
        return cls(np.zeros((hidden, input_size)), np.zeros((hidden, hidden)), np.zeros(hidden))

    @classmethod
    def random(cls, hidden: int, input_size: int, rng: np.random.Generator, scale: float = 0.5) -> RNNParams:
        """Entries drawn from N(0, scale²)."""
        return cls(
            rng.normal(0.0, scale, (hidden, input_size)),
            rng.normal(0.0, scale, (hidden, hidden)),
            rng.normal(0.0, scale, hidden),
        )

    def validate(self) -> None:
        """Raise a TrainlabError naming the first array whose shape does not fit W_x's [hidden, input]."""
        if self.W_x.ndim != 2:
            raise TrainlabError(f"W_x has shape {self.W_x.shape}; expected a matrix [hidden, input]")
        hidden = self.W_x.shape[0]
        if self.W_h.shape != (hidden, hidden):
            raise TrainlabError(f"W_h has shape {self.W_h.shape}; expected ({hidden}, {hidden}) [hidden, hidden]")
        if self.b.shape != (hidden,):
            raise TrainlabError(f"b has shape {self.b.shape}; expected ({hidden},) [hidden]")


@dataclass
class RNNCache:
    """What one forward step keeps for its backward step."""

    x: Array
    h_prev: Array
    a: Array
    h: Array


class RNNStepGrads(NamedTuple):
    """Gradients of one backward step: ∂L/∂x_t, ∂L/∂h_{t−1} and this step's share of the parameter gradients."""

    dx: Array
    dh_prev: Array
    dW_x: Array  # noqa: N815 - the course's name
    dW_h: Array  # noqa: N815
    db: Array


class RNNCell:
    """h_t = φ(W_x x_t + W_h h_{t−1} + b) with φ = ``activation`` ("tanh" or "sigmoid")."""

    def __init__(self, params: RNNParams, activation: str = "tanh") -> None:
        if activation not in ACTIVATIONS:
            raise TrainlabError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        params.validate()
        self.params = params
        self.activation = activation
        self._phi, self._phi_grad = ACTIVATIONS[activation]

    def forward(self, x: ArrayLike, h_prev: ArrayLike) -> tuple[Array, RNNCache]:
        """One step: returns h_t and the cache for :meth:`backward`."""
        x = np.asarray(x, dtype=np.float64)
        h_prev = np.asarray(h_prev, dtype=np.float64)
        p = self.params
        a = p.W_x @ x + p.W_h @ h_prev + p.b
        h = self._phi(a)
        return h, RNNCache(x=x, h_prev=h_prev, a=a, h=h)

    def backward(self, dh: ArrayLike, cache: RNNCache) -> RNNStepGrads:
        """One step back: from ∂L/∂h_t to ∂L/∂x_t, ∂L/∂h_{t−1}, ∂L/∂W_x, ∂L/∂W_h, ∂L/∂b (see the module formulas)."""
        da = np.asarray(dh, dtype=np.float64) * self._phi_grad(cache.h)
        p = self.params
        return RNNStepGrads(
            dx=p.W_x.T @ da,
            dh_prev=p.W_h.T @ da,
            dW_x=np.outer(da, cache.x),
            dW_h=np.outer(da, cache.h_prev),
            db=da,
        )

    def forward_sequence(self, xs: ArrayLike, h0: ArrayLike) -> tuple[Array, list[RNNCache]]:
        """Run over xs [T, input] from h0 [hidden]: returns hs [T, hidden] (h_1 … h_T) and the T caches."""
        xs = np.asarray(xs, dtype=np.float64)
        h = np.asarray(h0, dtype=np.float64)
        hs = np.empty((xs.shape[0], self.params.hidden))
        caches: list[RNNCache] = []
        for t, x in enumerate(xs):
            h, cache = self.forward(x, h)
            hs[t] = h
            caches.append(cache)
        return hs, caches

    def backward_sequence(self, dhs: ArrayLike, caches: list[RNNCache]) -> tuple[Array, Array, RNNParams]:
        """Full BPTT. ``dhs[t]`` is ∂L/∂h_t from the loss at step t alone (zeros but the last for a last-step loss).

        Returns (∂L/∂xs [T, input], ∂L/∂h0 [hidden], parameter gradients summed over the steps as an RNNParams).
        """
        dhs = np.asarray(dhs, dtype=np.float64)
        if dhs.shape != (len(caches), self.params.hidden):
            raise TrainlabError(f"dhs has shape {dhs.shape}; expected ({len(caches)}, {self.params.hidden})")
        grads = RNNParams.zeros(self.params.hidden, self.params.input)
        dxs = np.zeros((len(caches), self.params.input))
        dh_next = np.zeros(self.params.hidden)
        for t in reversed(range(len(caches))):
            step = self.backward(dhs[t] + dh_next, caches[t])
            dxs[t] = step.dx
            dh_next = step.dh_prev
            grads.W_x += step.dW_x
            grads.W_h += step.dW_h
            grads.b += step.db
        return dxs, dh_next, grads
