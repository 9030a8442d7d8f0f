"""The classification metrics of the test split, from torchmetrics, shared by the deep models and the baselines, and
the weighted mean every task's losses use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

SUMMARY_KEYS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def classification_metrics(num_classes: int, *, sync_on_compute: bool = True) -> MetricCollection:
    """Accuracy, macro and per-class precision / recall / F1, and the confusion matrix.

    ``sync_on_compute=False`` for predictions made in one process (the baselines): inside a distributed run the
    default would wait at a barrier for ranks that never compute them.
    """
    options = {"sync_on_compute": sync_on_compute}
    return MetricCollection(
        {
            "accuracy": MulticlassAccuracy(num_classes, average="micro", **options),
            "precision_macro": MulticlassPrecision(num_classes, average="macro", **options),
            "recall_macro": MulticlassRecall(num_classes, average="macro", **options),
            "f1_macro": MulticlassF1Score(num_classes, average="macro", **options),
            "precision": MulticlassPrecision(num_classes, average=None, **options),
            "recall": MulticlassRecall(num_classes, average=None, **options),
            "f1": MulticlassF1Score(num_classes, average=None, **options),
            "confusion_matrix": MulticlassConfusionMatrix(num_classes, **options),
        }
    )


def summarize(computed: dict[str, torch.Tensor], classes: Sequence[str]) -> dict[str, Any]:
    """The JSON form written to ``metrics.json["test"]``: summary numbers, per-class entries, confusion matrix."""
    results: dict[str, Any] = {key: computed[key].item() for key in SUMMARY_KEYS}
    matrix = computed["confusion_matrix"].long().tolist()
    results["per_class"] = {
        name: {
            "precision": computed["precision"][index].item(),
            "recall": computed["recall"][index].item(),
            "f1": computed["f1"][index].item(),
            "support": int(sum(matrix[index])),
        }
        for index, name in enumerate(classes)
    }
    results["confusion_matrix"] = matrix
    return results


def score_predictions(predictions: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """``summarize`` for class predictions (int [N]) or probabilities ([N, classes]) made in this process alone."""
    collection = classification_metrics(len(classes), sync_on_compute=False)
    collection.update(predictions, labels)
    return summarize(collection.compute(), classes)


class WeightedMean(MeanMetric):
    """A weighted mean with no NaN check: a NaN stays in the mean (DivergenceGuard reports it) and no step waits on
    ``isnan(...).any()``, which would make a GPU synchronize.

    torchmetrics' own ``MeanMetric(nan_strategy="disable")`` has no NaN check either, but (in 1.9) it also replaces
    the weights by ones, turning a mean over samples into a mean of batch means.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(nan_strategy="disable", **kwargs)

    def _cast_and_nan_check_input(self, x: float | torch.Tensor,
                                  weight: float | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        weight = torch.ones_like(x) if weight is None else torch.as_tensor(weight, dtype=self.dtype, device=self.device)
        return x, weight
