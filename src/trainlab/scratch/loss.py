"""The loss on a recurrent net's hidden states, and its gradient ∂L/∂h_t at every step (the ``dhs`` of BPTT).

With e_t = h_t − y_t and S the steps that count (all T for ``loss="all"``, only the last for ``loss="last"``):

* ``reduction="mean"`` (MSE): L = (1 / (|S|·hidden)) Σ_{t∈S} Σ_j e_tj²,   ∂L/∂h_t = 2 e_t / (|S|·hidden) for t ∈ S
* ``reduction="sum"`` (sum of squares): L = Σ_{t∈S} Σ_j e_tj²,             ∂L/∂h_t = 2 e_t for t ∈ S

and ∂L/∂h_t = 0 for steps outside S (the gradient of the loss at step t alone, before anything is carried back).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trainlab.errors import TrainlabError

Array = NDArray[np.float64]
LOSS_STEPS = ("all", "last")
REDUCTIONS = ("mean", "sum")


def sequence_loss(hs: ArrayLike, targets: ArrayLike, loss: str = "all", reduction: str = "mean") -> tuple[float, Array]:
    """Return (L, dhs) for hidden states ``hs`` [T, hidden] against ``targets`` of the same shape."""
    hs = np.asarray(hs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if loss not in LOSS_STEPS:
        raise TrainlabError(f"unknown loss {loss!r}; expected one of {', '.join(LOSS_STEPS)}")
    if reduction not in REDUCTIONS:
        raise TrainlabError(f"unknown reduction {reduction!r}; expected one of {', '.join(REDUCTIONS)}")
    if hs.ndim != 2 or hs.shape[0] == 0 or targets.shape != hs.shape:
        raise TrainlabError(f"targets have shape {targets.shape}; expected the hidden states' shape {hs.shape} "
                            "[steps, hidden] with at least one step")
    mask = np.zeros((hs.shape[0], 1))
    if loss == "all":
        mask[:] = 1.0
    else:
        mask[-1] = 1.0
    error = (hs - targets) * mask
    scale = 1.0 / (mask.sum() * hs.shape[1]) if reduction == "mean" else 1.0
    return float(scale * np.sum(error * error)), 2.0 * scale * error
