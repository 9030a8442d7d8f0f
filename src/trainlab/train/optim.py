"""Optimizer and learning-rate schedule from the recipe, with weight decay on weights only."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlab.config import TrainingConfig


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split parameters into a decayed group (conv / linear / embedding weights) and an undecayed one.

    Biases and normalization scales/shifts are 1-D tensors; penalizing them only limits the network's ability to
    shift and rescale activations, so L2 goes to tensors with two or more dimensions alone (as in timm and nanoGPT).
    """
    decayed, undecayed = [], []
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        (decayed if parameter.ndim >= 2 else undecayed).append(parameter)
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": undecayed, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, training: TrainingConfig, weight_decay: float) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay)
    if training.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=training.lr, momentum=training.momentum)
    if training.optimizer == "adam":
        return torch.optim.Adam(groups, lr=training.lr)
    return torch.optim.AdamW(groups, lr=training.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, training: TrainingConfig) -> Any | None:
    if training.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=training.epochs)
    if training.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=training.step_size, gamma=training.gamma)
    return None
