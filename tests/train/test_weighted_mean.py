"""The epoch losses are means over samples: batches count by their size, a NaN stays in (DivergenceGuard reports it)."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics import MeanMetric

from trainlab.train.metrics import WeightedMean


def test_batch_means_are_weighted_by_batch_size() -> None:
    mean = WeightedMean()
    mean.update(torch.tensor(1.0), weight=64)  # a full batch of 64 with mean loss 1
    mean.update(torch.tensor(4.0), weight=8)  # a last batch of 8 with mean loss 4
    assert mean.compute().item() == pytest.approx((64 * 1.0 + 8 * 4.0) / 72, rel=1e-6)
    # torchmetrics' MeanMetric(nan_strategy="disable") would give the mean of the batch means (2.5): weights dropped.
    unweighted = MeanMetric(nan_strategy="disable")
    unweighted.update(torch.tensor(1.0), weight=64)
    unweighted.update(torch.tensor(4.0), weight=8)
    assert unweighted.compute().item() == 2.5


def test_element_weights_and_nan_are_kept() -> None:
    mean = WeightedMean()
    mean.update(torch.tensor([[1.0, 5e6]]), weight=torch.tensor([[1.0, 0.0]]))
    assert mean.compute().item() == 1.0
    mean.update(torch.tensor(float("nan")), weight=1)
    assert math.isnan(mean.compute().item())
