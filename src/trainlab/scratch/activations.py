"""Activations and their derivatives, in float64 NumPy.

* ``sigmoid(x) = 1 / (1 + exp(-x))``, evaluated as ``exp(x) / (1 + exp(x))`` for ``x < 0`` so that ``exp`` only ever
  sees non-positive arguments: no overflow warning for ``x = -1e4`` and full precision for large ``|x|``.
* ``sigmoid'(x) = σ(x)(1 − σ(x))``, ``tanh'(x) = 1 − tanh²(x)``.
* ``softmax(z)_k = exp(z_k − max z) / Σ_j exp(z_j − max z)``: subtracting the maximum changes nothing mathematically
  (the factor ``exp(−max z)`` cancels) but keeps every exponent ≤ 0, so nothing overflows and the largest term is 1.

The ``*_grad`` functions take the pre-activation ``x``; the nets use the ``*_grad_from_output`` forms, which reuse
the value already computed in the forward pass (``σ' = s(1 − s)`` with ``s = σ(x)``, ``tanh' = 1 − t²`` with
``t = tanh x``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def sigmoid(x: ArrayLike) -> Array:
    """σ(x) = 1 / (1 + e^(−x)), numerically stable for any finite x (and ±inf)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad_from_output(s: ArrayLike) -> Array:
    """σ'(x) written with s = σ(x): s (1 − s)."""
    s = np.asarray(s, dtype=np.float64)
    return s * (1.0 - s)


def sigmoid_grad(x: ArrayLike) -> Array:
    """σ'(x) = σ(x) (1 − σ(x))."""
    return sigmoid_grad_from_output(sigmoid(x))


def tanh(x: ArrayLike) -> Array:
    """tanh(x) = (e^x − e^(−x)) / (e^x + e^(−x)) (NumPy's implementation is stable for large |x|)."""
    return np.tanh(np.asarray(x, dtype=np.float64))


def tanh_grad_from_output(t: ArrayLike) -> Array:
    """tanh'(x) written with t = tanh(x): 1 − t²."""
    t = np.asarray(t, dtype=np.float64)
    return 1.0 - t * t


def tanh_grad(x: ArrayLike) -> Array:
    """tanh'(x) = 1 − tanh²(x)."""
    return tanh_grad_from_output(tanh(x))


def softmax(logits: ArrayLike, axis: int = -1) -> Array:
    """softmax(z)_k = exp(z_k − max z) / Σ_j exp(z_j − max z) along ``axis``."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


ACTIVATIONS = {
    "tanh": (tanh, tanh_grad_from_output),
    "sigmoid": (sigmoid, sigmoid_grad_from_output),
}
"""name → (φ, φ' written in terms of the output φ(x))."""
