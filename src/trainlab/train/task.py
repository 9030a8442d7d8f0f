"""One LightningModule for image classification, whatever the model.

Batches arrive as uint8 images (resident on the device when training on CUDA); conversion, augmentation (training
split only), normalization and channels-last happen batched on the device in ``on_after_batch_transfer``.
Metrics are torchmetrics objects, so they are correct under DDP and never hand-computed.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from trainlab.config import RegularizationConfig, TrainingConfig
from trainlab.data import BatchAugment
from trainlab.data.augment import prepare_batch
from trainlab.train.metrics import classification_metrics, summarize
from trainlab.train.optim import build_optimizer, build_scheduler


class ClassificationTask(L.LightningModule):
    def __init__(
        self,
        model: nn.Module,
        *,
        classes: list[str],
        training: TrainingConfig,
        regularization: RegularizationConfig,
        mean: list[float],
        std: list[float],
        channels_last: bool,
    ) -> None:
        super().__init__()
        self.model = model
        self.classes = list(classes)
        self.training_config = training
        self.weight_decay = regularization.weight_decay
        self.channels_last = channels_last
        self.augment = BatchAugment(regularization.augmentation) if regularization.augmentation else None
        self.criterion = nn.CrossEntropyLoss()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        num_classes = len(classes)
        # Losses are sample-weighted means (torchmetrics), so they stay exact with uneven last batches and under DDP.
        # nan_strategy="disable": a NaN loss stays in the mean (the default drops it with a warning, and checks every
        # step, which makes a GPU wait); trainlab's DivergenceGuard reports it instead.
        self.train_loss, self.val_loss, self.test_loss = (MeanMetric(nan_strategy="disable") for _ in range(3))
        self.train_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_metrics = classification_metrics(num_classes)
        self.test_results: dict[str, Any] = {}
        # Per-example class probabilities of the test split, in the split's order (all ranks gathered): the rows of
        # predictions.csv, from which the report's McNemar tests and galleries are drawn.
        self.test_probabilities: torch.Tensor | None = None
        self._test_batches: list[torch.Tensor] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def on_after_batch_transfer(self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int) -> Any:
        images, labels = batch
        augment = self.augment if self.trainer.training else None
        return prepare_batch(images, self.mean, self.std, augment, self.channels_last), labels

    def _loss_and_logits(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = batch
        logits = self(images)
        return self.criterion(logits.float(), labels), logits

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, logits = self._loss_and_logits(batch)
        self.train_loss(loss.detach(), weight=len(batch[1]))
        self.train_accuracy(logits, batch[1])
        self.log("train_loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train_accuracy", self.train_accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        """The learning rate this epoch trains with (logged before the scheduler steps at its end)."""
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=False, on_epoch=True, sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        loss, logits = self._loss_and_logits(batch)
        self.val_loss(loss, weight=len(batch[1]))
        self.val_accuracy(logits, batch[1])
        self.log("val_loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val_accuracy", self.val_accuracy, on_step=False, on_epoch=True, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        loss, logits = self._loss_and_logits(batch)
        self.test_loss(loss, weight=len(batch[1]))
        self.test_metrics.update(logits, batch[1])
        self._test_batches.append(torch.softmax(logits.detach().float(), dim=1))
        self.log("test_loss", self.test_loss, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        self.test_results = summarize(self.test_metrics.compute(), self.classes)
        self.test_metrics.reset()
        local = torch.cat(self._test_batches) if self._test_batches else torch.empty(0, len(self.classes))
        self._test_batches = []
        self.test_probabilities = self._gather_in_split_order(local.to(self.device)).cpu()

    def _gather_in_split_order(self, local: torch.Tensor) -> torch.Tensor:
        """This rank's probabilities, or under DDP every rank's, put back in the test split's order.

        The evaluation sampler gives rank ``r`` of ``w`` the samples ``r, r + w, r + 2w, ...`` (unpadded), so the
        shards are gathered padded to the longest and interleaved back.
        """
        world = self.trainer.world_size if self._trainer is not None else 1
        if world == 1:
            return local
        counts = self.all_gather(torch.tensor(len(local), device=local.device)).view(-1).tolist()
        padded = local.new_zeros(max(counts), local.shape[1])
        padded[: len(local)] = local
        shards = self.all_gather(padded)  # [world, longest, classes]
        ordered = local.new_empty(sum(counts), local.shape[1])
        for rank, count in enumerate(counts):
            ordered[rank::world] = shards[rank, :count]
        return ordered

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.model, self.training_config, self.weight_decay)
        scheduler = build_scheduler(optimizer, self.training_config)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
