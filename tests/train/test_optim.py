"""Weight decay reaches conv/linear weights only, and a larger penalty shrinks weights more."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.config import TrainingConfig
from trainlab.models import build_model
from trainlab.train.optim import build_optimizer, build_scheduler, parameter_groups


def _small_vgg() -> nn.Module:
    return build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125, options={"batch_norm": True})


def test_groups_put_biases_and_norm_parameters_in_the_undecayed_group() -> None:
    model = _small_vgg()
    decayed, undecayed = parameter_groups(model, weight_decay=0.1)
    decayed_ids = {id(p) for p in decayed["params"]}
    undecayed_ids = {id(p) for p in undecayed["params"]}
    assert decayed["weight_decay"] == 0.1 and undecayed["weight_decay"] == 0.0
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            assert id(module.weight) in decayed_ids
            assert module.bias is None or id(module.bias) in undecayed_ids
        if isinstance(module, nn.BatchNorm2d):
            assert id(module.weight) in undecayed_ids and id(module.bias) in undecayed_ids
    assert len(decayed_ids) + len(undecayed_ids) == len(list(model.parameters()))


def test_decay_moves_weights_but_not_biases_or_norm_parameters() -> None:
    """With a zero loss gradient, only the decay term acts: weights shrink, biases and BN parameters stay put."""
    torch.manual_seed(0)
    model = _small_vgg()
    for module in model.modules():  # make biases and BN shifts non-zero so decay would visibly move them
        if isinstance(module, nn.Conv2d | nn.Linear | nn.BatchNorm2d) and module.bias is not None:
            nn.init.constant_(module.bias, 0.5)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = build_optimizer(model, TrainingConfig(optimizer="sgd", lr=0.1, momentum=0.0), weight_decay=0.5)
    for _ in range(3):
        optimizer.zero_grad()
        (model(torch.randn(2, 3, 32, 32)).sum() * 0.0).backward()
        optimizer.step()
    for name, parameter in model.named_parameters():
        if parameter.ndim >= 2:
            expected = before[name] * (1 - 0.1 * 0.5) ** 3
            torch.testing.assert_close(parameter.detach(), expected)
        else:
            torch.testing.assert_close(parameter.detach(), before[name], rtol=0, atol=0, msg=name)


def _weight_norm_after_training(weight_decay: float) -> float:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 3))
    images, labels = torch.randn(64, 3, 8, 8), torch.randint(0, 3, (64,))
    optimizer = build_optimizer(model, TrainingConfig(optimizer="adam", lr=0.01), weight_decay=weight_decay)
    for _ in range(50):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return sum(float(p.detach().norm() ** 2) for p in model.parameters() if p.ndim >= 2) ** 0.5


def test_larger_penalty_gives_smaller_weight_norm() -> None:
    norms = [_weight_norm_after_training(decay) for decay in (0.0, 0.01, 0.1)]
    assert norms[0] > norms[1] > norms[2]


def test_schedulers_follow_the_recipe() -> None:
    model = nn.Linear(2, 2)
    optimizer = build_optimizer(model, TrainingConfig(optimizer="sgd", lr=1.0), 0.0)
    assert build_scheduler(optimizer, TrainingConfig(scheduler="none")) is None
    cosine = build_scheduler(optimizer, TrainingConfig(scheduler="cosine", epochs=4))
    for _ in range(4):
        optimizer.step()
        cosine.step()
    assert optimizer.param_groups[0]["lr"] < 1e-6


def test_step_scheduler_multiplies_by_gamma_every_step_size_epochs() -> None:
    optimizer = build_optimizer(nn.Linear(2, 2), TrainingConfig(optimizer="sgd", lr=1.0), 0.0)
    step = build_scheduler(optimizer, TrainingConfig(scheduler="step", step_size=2, gamma=0.5))
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        step.step()
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

def test_lr_scale_gives_the_nearest_modules_rate_and_keeps_group_0_at_full_rate() -> None:
    """A module's ``lr_scale`` applies to everything under it unless a nearer module sets its own; group 0 (the
    logged one) keeps the full rate, the decayed/undecayed split holds inside each scale."""
    encoder = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)))
    encoder.lr_scale = 0.1
    encoder[1].lr_scale = 0.5
    model = nn.Sequential(encoder, nn.Linear(4, 2))
    optimizer = build_optimizer(model, TrainingConfig(optimizer="adamw", lr=1e-2), weight_decay=0.3)
    rate = {id(p): (group["lr"], group["weight_decay"]) for group in optimizer.param_groups for p in group["params"]}
    head, outer, inner, norm = model[1], encoder[0], encoder[1][0], encoder[1][1]
    assert optimizer.param_groups[0]["lr"] == 1e-2 and optimizer.param_groups[0]["params"] == [head.weight]
    assert rate[id(head.weight)] == (1e-2, 0.3) and rate[id(head.bias)] == (1e-2, 0.0)
    assert rate[id(outer.weight)] == (pytest.approx(1e-3), 0.3) and rate[id(outer.bias)] == (pytest.approx(1e-3), 0.0)
    assert rate[id(inner.weight)] == (pytest.approx(5e-3), 0.3) and rate[id(norm.weight)] == (pytest.approx(5e-3), 0.0)
    assert len(rate) == len(list(model.parameters()))
    scheduler = build_scheduler(optimizer, TrainingConfig(scheduler="step", step_size=1, gamma=0.5))
    optimizer.step()
    scheduler.step()
    assert rate[id(outer.weight)][0] * 0.5 == pytest.approx(
        next(g["lr"] for g in optimizer.param_groups if any(p is outer.weight for p in g["params"])))
