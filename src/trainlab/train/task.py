"""The LightningModules of trainlab: one base for every task kind, one subclass per kind.

:class:`TaskModule` holds what every task shares: the model, the input adapter (the input kind's on-device
preprocessing, applied in ``on_after_batch_transfer``; see :mod:`trainlab.train.inputs`), optimizer and schedule,
learning-rate logging and sample-weighted torchmetrics losses that stay exact with uneven last batches and under DDP.
A subclass says how a batch becomes a loss and which metrics it keeps. :class:`ClassificationModule` serves images,
token sequences and frozen-encoder features alike: nothing in it knows which input it is fed.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

from trainlab.artifacts import RegressionTestScore, TestScore, forecast_table, predictions_table
from trainlab.config import RegularizationConfig, TrainingConfig
from trainlab.data import DataBundle, TokenSplit, WindowSplit
from trainlab.train.compile import compile_in_place
from trainlab.train.inputs import Batch, InputAdapter
from trainlab.train.metrics import WeightedMean, classification_metrics, summarize
from trainlab.train.optim import build_optimizer, build_scheduler
from trainlab.train.regression_metrics import RegressionMetrics


class TaskModule(L.LightningModule):
    """Base of every task kind: ``loss_and_outputs(batch)`` and the metric hooks are the subclass's part."""

    def __init__(self, model: nn.Module, inputs: InputAdapter, *, training: TrainingConfig,
                 regularization: RegularizationConfig) -> None:
        super().__init__()
        self.model = model
        self.inputs = inputs
        self.training_config = training
        self.weight_decay = regularization.weight_decay
        # A NaN loss stays in the mean (MeanMetric's default drops it with a warning, and checks every step, which
        # makes a GPU wait); trainlab's DivergenceGuard reports it instead.
        self.train_loss, self.val_loss, self.test_loss = (WeightedMean() for _ in range(3))
        self.compile_on_fit = False  # training.compile as resolved for the runtime; fit_variant sets it
        self._logged: set[str] = set()  # epoch metrics registered with Lightning since the loop's epoch started

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.model(*self.inputs.model_args(batch))

    def on_fit_start(self) -> None:
        """``training.compile``: compile the model on its device before the first step (see trainlab.train.compile);
        a resumed fit finds it compiled already."""
        if self.compile_on_fit and getattr(self.model, "_compiled_call_impl", None) is None:
            example = tuple(tensor.to(self.device) for tensor in self.inputs.example_input())
            note = compile_in_place(self.model, example)
            notes = getattr(self.model, "notes", None)
            if not isinstance(notes, dict):
                notes = self.model.notes = {}
            notes["compile"] = note

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Batch:
        return self.inputs.prepare(batch, training=self.trainer.training)

    def loss_and_outputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def update_metrics(self, stage: str, outputs: torch.Tensor, batch: Batch) -> None:
        """Update (and log) the stage's metrics for one batch; ``stage`` is train, val or test."""

    def test_record(self, loss: float) -> Any:
        """The test split's scores (the ``test`` entry of ``metrics.json``), after the test loop."""
        raise NotImplementedError

    def predictions(self, bundle: DataBundle) -> Any:
        """The rows of ``predictions.csv`` (a DataFrame), after the test loop."""
        raise NotImplementedError

    def on_train_epoch_start(self) -> None:
        """The learning rate this epoch trains with (logged before the scheduler steps at its end)."""
        self._logged.clear()
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=False, on_epoch=True, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        self._logged.clear()

    def on_test_epoch_start(self) -> None:
        self._logged.clear()

    def log_epoch_metric(self, name: str, metric: Metric, *, batch_size: int, prog_bar: bool = True) -> None:
        """Log ``metric``, which the steps update with ``update()``, as its value over the epoch.

        Lightning computes, logs and resets a logged Metric object at the end of the epoch; registering it once per
        epoch is enough, and a ``self.log`` call per step costs about 0.7 ms on a CPU (a fifth of a small forecasting
        step). ``_logged`` holds the names registered since the loop's epoch started (a resumed epoch registers
        again). ``update()``, not ``forward()``: no per-batch value is logged, and forward also computes one and
        copies the state; ``batch_size=`` spares Lightning a walk through the batch to find it.
        """
        if name not in self._logged:
            self._logged.add(name)
            self.log(name, metric, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=batch_size)

    def _step(self, stage: str, batch: Batch) -> torch.Tensor:
        loss, outputs = self.loss_and_outputs(batch)
        mean_loss: MeanMetric = getattr(self, f"{stage}_loss")
        mean_loss.update(loss.detach(), weight=len(batch["y"]))
        self.log_epoch_metric(f"{stage}_loss", mean_loss, batch_size=len(batch["y"]), prog_bar=stage != "test")
        self.update_metrics(stage, outputs.detach(), batch)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step("train", batch)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step("test", batch)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.model, self.training_config, self.weight_decay)
        per_step = self.training_config.scheduler == "onecycle"
        total = int(self.trainer.estimated_stepping_batches) if per_step else None
        scheduler = build_scheduler(optimizer, self.training_config, total)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step" if per_step
                                                                                 else "epoch"}}

    def gather_in_split_order(self, local: torch.Tensor) -> torch.Tensor:
        """This rank's per-example rows, or under DDP every rank's, put back in the evaluated split's order.

        The evaluation sampler gives rank ``r`` of ``w`` the samples ``r, r + w, r + 2w, ...`` (unpadded), so the
        shards are gathered padded to the longest and interleaved back.
        """
        world = self.trainer.world_size if self._trainer is not None else 1
        if world == 1:
            return local
        counts = self.all_gather(torch.tensor(len(local), device=local.device)).view(-1).tolist()
        padded = local.new_zeros(max(counts), *local.shape[1:])
        padded[: len(local)] = local
        shards = self.all_gather(padded)  # [world, longest, ...]
        ordered = local.new_empty(sum(counts), *local.shape[1:])
        for rank, count in enumerate(counts):
            ordered[rank::world] = shards[rank, :count]
        return ordered


class ClassificationModule(TaskModule):
    """Cross-entropy over class logits; accuracy per epoch, and on the test split every classification metric
    (torchmetrics) plus each example's class probabilities in split order (the rows of ``predictions.csv``)."""

    def __init__(self, model: nn.Module, inputs: InputAdapter, *, classes: list[str], training: TrainingConfig,
                 regularization: RegularizationConfig) -> None:
        super().__init__(model, inputs, training=training, regularization=regularization)
        self.classes = list(classes)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=training.label_smoothing)
        self.tta = training.tta
        num_classes = len(classes)
        self.train_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_metrics = classification_metrics(num_classes)
        self.test_results: dict[str, Any] = {}
        self.test_probabilities: torch.Tensor | None = None
        self._test_batches: list[torch.Tensor] = []

    def loss_and_outputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch)
        if self.tta == "hflip" and not self.training:
            logits = self._with_mirror(batch, logits)
        return self.criterion(logits.float(), batch["y"]), logits

    def _with_mirror(self, batch: Batch, logits: torch.Tensor) -> torch.Tensor:
        """``training.tta: hflip``: the log of the mean of the class probabilities of each image and of its mirror
        image. Softmax of the result is that mean, so accuracy, the loss and predictions.csv all read the average."""
        mirrored = self({**batch, "x": torch.flip(batch["x"], dims=(-1,))})
        probabilities = (torch.softmax(logits.float(), dim=1) + torch.softmax(mirrored.float(), dim=1)) / 2
        return torch.log(probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny))

    def update_metrics(self, stage: str, outputs: torch.Tensor, batch: Batch) -> None:
        if stage == "test":
            self.test_metrics.update(outputs, batch["y"])
            self._test_batches.append(torch.softmax(outputs.float(), dim=1))
            return
        accuracy: MulticlassAccuracy = getattr(self, f"{stage}_accuracy")
        accuracy.update(outputs, batch["y"])
        self.log_epoch_metric(f"{stage}_accuracy", accuracy, batch_size=len(batch["y"]))

    def test_record(self, loss: float) -> TestScore:
        """The test split's scores for ``metrics.json``."""
        return TestScore(loss=loss, **self.test_results)

    def predictions(self, bundle: DataBundle) -> Any:
        """predictions.csv: every test example's id, true and predicted class, probabilities (and text)."""
        assert self.test_probabilities is not None, "the test loop ran, so it left its probabilities"
        texts = bundle.test.texts if isinstance(bundle.test, TokenSplit) else None
        return predictions_table(bundle.test.ids, bundle.test.labels.tolist(), self.test_probabilities.tolist(),
                                 bundle.classes, texts=texts)

    def on_test_epoch_end(self) -> None:
        self.test_results = summarize(self.test_metrics.compute(), self.classes)
        self.test_metrics.reset()
        local = torch.cat(self._test_batches) if self._test_batches else torch.empty(0, len(self.classes))
        self._test_batches = []
        self.test_probabilities = self.gather_in_split_order(local.to(self.device)).cpu()


class RegressionModule(TaskModule):
    """Forecasting: MSE on the scaled targets whose week has a row (``mask``); WMAE in the target's units per epoch
    on train and validation (a weighted ``MeanMetric``, exact under DDP), and on the test split every regression
    metric (:class:`RegressionMetrics`) plus each window's predictions in units, in split order (the rows of
    ``predictions.csv``)."""

    def __init__(self, model: nn.Module, inputs: InputAdapter, *, training: TrainingConfig,
                 regularization: RegularizationConfig, primary: str = "wmae") -> None:
        super().__init__(model, inputs, training=training, regularization=regularization)
        self.primary = primary
        self.train_wmae, self.val_wmae = WeightedMean(), WeightedMean()
        self.test_metrics = RegressionMetrics()
        self.test_results: dict[str, Any] = {}
        self.test_predictions: torch.Tensor | None = None  # [N, horizon] in units
        self._test_batches: list[torch.Tensor] = []

    def loss_and_outputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        predicted = self(batch).float()
        mask = batch["mask"].to(predicted.dtype)
        squared = (predicted - batch["y"]).square() * mask
        return squared.sum() / mask.sum().clamp_min(1.0), predicted

    def update_metrics(self, stage: str, outputs: torch.Tensor, batch: Batch) -> None:
        if stage == "test":
            self.test_metrics.update(outputs, batch)
            self._test_batches.append(outputs * batch["scale"][:, None] + batch["loc"][:, None])
            return
        wmae: MeanMetric = getattr(self, f"{stage}_wmae")
        errors = (outputs - batch["y"]).abs() * batch["scale"][:, None]
        wmae.update(errors, weight=batch["weight"] * batch["mask"])
        self.log_epoch_metric(f"{stage}_{self.primary}", wmae, batch_size=len(batch["y"]))

    def test_record(self, loss: float) -> RegressionTestScore:
        return RegressionTestScore(loss=loss, **self.test_results)

    def predictions(self, bundle: DataBundle) -> Any:
        """predictions.csv: one row per predicted value (window, step) whose week has a row, in units, with its date
        and weight."""
        test = bundle.test
        panel = bundle.panel
        assert isinstance(test, WindowSplit) and panel is not None and self.test_predictions is not None
        dates = panel.dates
        steps = (test.origin[:, None] + torch.arange(1, test.horizon + 1)).tolist()
        return forecast_table(test.ids, [panel.names[i] for i in test.series.tolist()],
                              [[dates[step] for step in row] for row in steps], test.units(test.y).numpy(),
                              self.test_predictions.numpy(), test.weight.numpy(), mask=test.mask.numpy())

    def on_test_epoch_end(self) -> None:
        self.test_results = self.test_metrics.compute()
        self.test_metrics.reset()
        horizon = self._test_batches[0].shape[1] if self._test_batches else 1
        local = torch.cat(self._test_batches) if self._test_batches else torch.empty(0, horizon)
        self._test_batches = []
        self.test_predictions = self.gather_in_split_order(local.to(self.device)).cpu()
