"""Weight initialisation helpers."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def random_orthogonal(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """A random n×n orthogonal matrix Q (QᵀQ = I, so every singular value and |eigenvalue| is 1).

    Q from the QR decomposition of a Gaussian matrix, with the signs of R's diagonal moved into Q so that Q is
    distributed uniformly (Haar) over the orthogonal group.
    """
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)
