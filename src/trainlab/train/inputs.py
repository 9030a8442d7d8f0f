"""How each input kind turns a loader's batch into the dict batch the task module trains on, and into the model's
arguments.

Every batch the task module sees is a dict: ``{"x": ..., "y": targets}`` plus what the input kind needs (``lengths``
for token sequences; ``future``, ``mask``, ``weight``, ``loc`` and ``scale`` for forecasting windows). The adapter
owns the kind's on-device preprocessing: images are converted, augmented (training only), normalized with the train
split's statistics and made channels-last, exactly as before; token ids and (already scaled) windows pass as they
are. Adding an input kind means one adapter class and one case in :func:`build_input_adapter`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlab.config import Recipe
from trainlab.data import BatchAugment, DataBundle
from trainlab.data.augment import prepare_batch
from trainlab.data.specs import ImageSpec, TokenSpec, WindowSpec

Batch = dict[str, torch.Tensor]


class InputAdapter(nn.Module):
    """The identity adapter: the loader's dict batch goes to the model as ``model(batch["x"])``."""

    def prepare(self, batch: Any, training: bool) -> Batch:
        return batch

    def model_args(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        return (batch["x"],)

    def example_input(self) -> tuple[torch.Tensor, ...]:
        """One sample's model arguments (batch of 1), for torchinfo's summary."""
        raise NotImplementedError


class ImageInput(InputAdapter):
    """uint8 ``(images, labels)`` batches → ``{"x": normalized float images, "y": labels}`` on the device."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, spec: ImageSpec, mean: list[float], std: list[float], augment: BatchAugment | None,
                 channels_last: bool) -> None:
        super().__init__()
        self.spec = spec
        self.augment = augment
        self.channels_last = channels_last
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def prepare(self, batch: Any, training: bool) -> Batch:
        images, labels = batch
        augment = self.augment if training else None
        return {"x": prepare_batch(images, self.mean, self.std, augment, self.channels_last), "y": labels}

    def example_input(self) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(1, self.spec.channels, self.spec.height, self.spec.width),)

    def normalization(self) -> dict[str, list[float]]:
        """The per-channel mean and std the images are normalized with (recorded in ``input.json``)."""
        return {"mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}


class TokenInput(InputAdapter):
    """``{"x": token ids, "lengths", "y"}`` batches pass unchanged; the model gets ``(tokens, lengths)``."""

    def __init__(self, spec: TokenSpec) -> None:
        super().__init__()
        self.spec = spec

    def model_args(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        return batch["x"], batch["lengths"]

    def example_input(self) -> tuple[torch.Tensor, ...]:
        length = min(self.spec.max_len, 16)
        tokens = torch.full((1, length), self.spec.unk_id, dtype=torch.long)
        return tokens, torch.tensor([length], dtype=torch.long)


class WindowInput(InputAdapter):
    """Forecasting windows pass unchanged (already scaled); the model gets ``(x, future)``."""

    def __init__(self, spec: WindowSpec) -> None:
        super().__init__()
        self.spec = spec

    def model_args(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        return batch["x"], batch["future"]

    def example_input(self) -> tuple[torch.Tensor, ...]:
        spec = self.spec
        return torch.zeros(1, spec.window, spec.n_features), torch.zeros(1, spec.horizon, spec.n_future)


def image_normalization(bundle: DataBundle, model: nn.Module | None = None) -> tuple[list[float], list[float]]:
    """The per-channel mean and std images are normalized with: a pretrained model's own
    (``model.input_normalization``), else the train split's."""
    pretrained = getattr(model, "input_normalization", None)
    return (list(pretrained[0]), list(pretrained[1])) if pretrained else bundle.channel_stats()


def build_input_adapter(bundle: DataBundle, recipe: Recipe, channels_last: bool, model: nn.Module | None = None
                        ) -> InputAdapter:
    """The adapter of the bundle's input kind. Images are normalized with the train split's channel statistics, or
    with the model's own when it was pretrained (``model.input_normalization``, see :mod:`trainlab.models.transfer`):
    a pretrained backbone expects the inputs it was trained on."""
    spec = bundle.input_spec
    if isinstance(spec, TokenSpec):
        return TokenInput(spec)
    if isinstance(spec, WindowSpec):
        return WindowInput(spec)
    mean, std = image_normalization(bundle, model)
    augmentation = recipe.regularization.augmentation
    return ImageInput(spec, mean, std, BatchAugment(augmentation) if augmentation else None, channels_last)


def batch_size(batch: Any) -> int:
    """The number of samples in a dict batch or an ``(inputs, labels)`` pair."""
    labels = batch["y"] if isinstance(batch, dict) else batch[1]
    return int(labels.shape[0])
