"""The regression metrics of a forecasting split, from torchmetrics, shared by the deep models and the baselines.

Every metric sees the predicted values whose target week has a row (``mask``), flattened over the horizon: RMSE, MAE
and R² in the target's units (the scaling undone with each window's ``loc`` and ``scale``) and on the scaled values
the loss is computed on, and WMAE, the mean absolute error in units weighted by each value's ``weight`` (5 for a
holiday week in the Walmart competition). WMAE is a torchmetrics ``MeanMetric`` fed the absolute errors with their
weights, so its sum and weight total are synced across processes and it stays exact under DDP.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection, R2Score, SumMetric

SCORE_KEYS = ("rmse", "mae", "r2", "wmae", "rmse_scaled", "mae_scaled", "r2_scaled", "count")


def _collection(sync_on_compute: bool) -> MetricCollection:
    options = {"sync_on_compute": sync_on_compute}
    return MetricCollection({"rmse": MeanSquaredError(squared=False, **options),
                             "mae": MeanAbsoluteError(**options), "r2": R2Score(**options)})


class RegressionMetrics(nn.Module):
    """``update(predicted_scaled, batch)`` per batch, then ``compute()`` → the :data:`SCORE_KEYS` as floats.

    ``sync_on_compute=False`` for predictions made in one process (the baselines), as in the classification metrics.
    """

    def __init__(self, *, sync_on_compute: bool = True) -> None:
        super().__init__()
        self.units = _collection(sync_on_compute)
        self.scaled = _collection(sync_on_compute)
        self.wmae = MeanMetric(sync_on_compute=sync_on_compute)
        self.count = SumMetric(sync_on_compute=sync_on_compute)
        # float64 sums: R² in float32 loses digits to cancellation on values far from 0 with a small spread (weekly
        # CO₂ near 370 ppm: R² off by 4e-4), and sales sums reach 1e12.
        for metric in (self.units, self.scaled, self.wmae, self.count):
            metric.set_dtype(torch.float64)

    def update(self, predicted: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        mask = batch["mask"]
        predicted, target = predicted.double(), batch["y"].double()
        loc, scale = batch["loc"][:, None].double(), batch["scale"][:, None].double()
        pred_units, true_units = (predicted * scale + loc)[mask], (target * scale + loc)[mask]
        self.units.update(pred_units, true_units)
        self.scaled.update(predicted[mask], target[mask])
        self.wmae.update((pred_units - true_units).abs(), weight=batch["weight"][mask].double())
        self.count.update(mask.sum())

    def compute(self) -> dict[str, float]:
        units, scaled = self.units.compute(), self.scaled.compute()
        return {**{key: float(value) for key, value in units.items()},
                **{f"{key}_scaled": float(value) for key, value in scaled.items()},
                "wmae": float(self.wmae.compute()), "count": int(self.count.compute())}

    def reset(self) -> None:
        for metric in (self.units, self.scaled, self.wmae, self.count):
            metric.reset()


def score_forecasts(predicted_units: torch.Tensor, split: object) -> dict[str, float]:
    """The :class:`RegressionMetrics` of predictions in units ([N, horizon]) for the windows of ``split`` (a
    WindowSplit), computed in this process alone."""
    metrics = RegressionMetrics(sync_on_compute=False)
    batch = split.tensors()  # type: ignore[attr-defined]
    metrics.update((predicted_units - batch["loc"][:, None]) / batch["scale"][:, None], batch)
    return metrics.compute()
