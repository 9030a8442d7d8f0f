"""Optimizer and learning-rate schedule from the recipe, with weight decay on weights only."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlab.config import TrainingConfig


def _scaled_parameters(model: nn.Module) -> dict[float | None, list[nn.Parameter]]:
    """Trainable parameters by the ``lr_scale`` of their nearest module (itself or an ancestor) that sets one;
    None for those under no such module. Each parameter counts once, in ``model.parameters()`` order."""
    by_scale: dict[float | None, list[nn.Parameter]] = {}
    seen: set[int] = set()

    def visit(module: nn.Module, scale: float | None) -> None:
        own = getattr(module, "lr_scale", None)
        if own is not None:
            if isinstance(own, bool) or not isinstance(own, int | float) or not own >= 0:
                raise ValueError(f"{type(module).__name__}.lr_scale must be a non-negative number, got {own!r}")
            scale = float(own)
        for parameter in module.parameters(recurse=False):
            if parameter.requires_grad and id(parameter) not in seen:
                seen.add(id(parameter))
                by_scale.setdefault(scale, []).append(parameter)
        for child in module.children():
            visit(child, scale)

    visit(model, None)
    return by_scale


def parameter_groups(model: nn.Module, weight_decay: float, lr: float | None = None) -> list[dict[str, Any]]:
    """Split parameters into a decayed group (conv / linear / embedding weights) and an undecayed one.

    Biases and normalization scales/shifts are 1-D tensors; penalizing them only limits the network's ability to
    shift and rescale activations, so L2 goes to tensors with two or more dimensions alone (as in timm and nanoGPT).

    A module may set a float attribute ``lr_scale`` (a pretrained encoder fine-tuned more gently than its new head):
    the parameters under it (the nearest such module wins) get their own decayed/undecayed pair of groups with
    ``lr = lr * lr_scale``, after the two groups at the full learning rate, so that ``param_groups[0]`` (the one the
    trainer logs) keeps the full rate. ``lr`` is needed only when some module sets ``lr_scale``.
    """
    groups: list[dict[str, Any]] = []
    for scale, parameters in sorted(_scaled_parameters(model).items(), key=lambda item: item[0] is not None):
        if scale is not None and lr is None:
            raise ValueError("parameter_groups needs lr when a module sets lr_scale")
        extra = {} if scale is None else {"lr": lr * scale, "lr_scale": scale}
        groups += [
            {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay, **extra},
            {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0, **extra},
        ]
    if not groups or groups[0].get("lr_scale") is not None:  # the full-rate pair always comes first, empty or not
        groups[:0] = [{"params": [], "weight_decay": weight_decay}, {"params": [], "weight_decay": 0.0}]
    return groups


def build_optimizer(model: nn.Module, training: TrainingConfig, weight_decay: float) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay, lr=training.lr)
    if training.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=training.lr, momentum=training.momentum)
    if training.optimizer == "adam":
        return torch.optim.Adam(groups, lr=training.lr)
    return torch.optim.AdamW(groups, lr=training.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, training: TrainingConfig, total_steps: int | None = None
                    ) -> Any | None:
    """The recipe's schedule; ``onecycle`` steps every batch and needs the number of training steps. Its peak is each
    parameter group's own rate (a pretrained backbone's ``lr_scale`` is kept)."""
    if training.scheduler == "onecycle":
        if total_steps is None or total_steps < 1:
            raise ValueError("the onecycle schedule needs the number of training steps")
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total_steps,
                                                   pct_start=training.warmup, anneal_strategy="cos")
    if training.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=training.epochs)
    if training.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=training.step_size, gamma=training.gamma)
    return None
