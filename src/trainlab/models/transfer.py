"""Pretrained weights put onto a trainlab model: the model options ``weights``, ``freeze`` and ``backbone_lr_scale``.

A model family that supports transfer learning says which of its tensors form the backbone (``backbone_prefixes``,
every one of which must be in the weights, with its shape) and which layer is the task's output (``output_prefix``:
loaded only when the weights have as many classes, e.g. torchvision's 1,000 into a 1,000-class model; new for new
classes, which is the usual case of transfer learning). ``align_pretrained(state)`` renames another
layout's keys to the family's own (torchvision's ResNet stem ``conv1``/``bn1``; a VGG classifier whose Linear layers
sit at other indices because of Dropout). Tensors outside both (a VGG's hidden classifier layers) load when their shape
fits and are new otherwise.

* ``weights``: what :func:`trainlab.models.weights.read_weights` reads; null trains from scratch.
* ``freeze``: the loaded tensors (but the output layer's) do not train: ``requires_grad`` off, and
  :class:`trainlab.train.callbacks.FrozenBackbone` keeps their BatchNorm layers in eval mode, so running statistics do
  not move either. The new tensors train.
* ``backbone_lr_scale``: the loaded tensors (but the output layer's) train at ``training.lr × backbone_lr_scale``:
  their modules get ``lr_scale``, which :func:`trainlab.train.optim.parameter_groups` turns into parameter groups.

A pretrained model normalizes its inputs with the statistics it was trained with (``input_normalization``), not the
new data's: the ImageNet mean and std for torchvision's files, the pretraining run's for a trainlab run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models.weights import IMAGENET_MEAN, IMAGENET_STD, WeightsFile, read_weights

SHOWN = 3  # keys named in a message
TRANSFER_OPTIONS = ("weights", "freeze", "backbone_lr_scale")  # the model options this module serves


@dataclass(frozen=True)
class Fit:
    """How a weights file's tensors meet a model's: loaded, new (the output layer and tensors that do not fit),
    missing or of another shape in the backbone (fatal), and in the file but not in the model (unexpected)."""

    loaded: list[str]
    new: list[str]
    missing: list[str]
    mismatched: list[str]
    unexpected: list[str]


def match_state(model: nn.Module, state: dict[str, torch.Tensor]) -> Fit:
    """Compare ``state`` (already in the model's layout) with ``model.state_dict()`` key by key."""
    expected = model.state_dict()
    backbone: tuple[str, ...] = model.backbone_prefixes  # type: ignore[assignment]
    output: str = model.output_prefix  # type: ignore[assignment]
    loaded, new, missing, mismatched = [], [], [], []
    for key, tensor in expected.items():
        in_backbone = key.startswith(backbone) and not key.endswith("num_batches_tracked")
        if key in state and tuple(state[key].shape) == tuple(tensor.shape):
            loaded.append(key)
        elif in_backbone:
            (mismatched if key in state else missing).append(key)
        else:
            new.append(key)
    # The file's own output layer is replaced when its classes differ, not unexpected.
    unexpected = [key for key in state if key not in expected and not key.startswith(output)]
    return Fit(loaded, new, missing, mismatched, unexpected)


def describe_layout(state: dict[str, torch.Tensor]) -> str:
    """A guess at what network ``state`` holds, for a message (ResNet by blocks, VGG by convolutions)."""
    blocks = {match.group(0) for key in state if (match := re.match(r"layer\d+\.\d+\.", key))}
    if blocks and ("conv1.weight" in state or "stem.0.weight" in state):
        stem = state.get("conv1.weight", state.get("stem.0.weight"))
        assert stem is not None
        return f"a ResNet with {len(blocks)} residual blocks and {stem.shape[0]} stem channels"
    convs = [key for key, value in state.items() if key.startswith("features.") and value.ndim == 4]
    if convs:
        names = {8: "VGG-11", 10: "VGG-13", 13: "VGG-16", 16: "VGG-19"}
        first = state[convs[0]]
        return f"{names.get(len(convs), 'a VGG')} features ({len(convs)} convolutions, {first.shape[0]} channels first)"
    shown = ", ".join(list(state)[:SHOWN])
    return f"an unknown layout ({len(state)} tensors: {shown}, ...)"


def _shapes(key: str, state: dict[str, torch.Tensor], model_state: dict[str, torch.Tensor]) -> str:
    return f"{key}: file {list(state[key].shape)}, model {list(model_state[key].shape)}"


def _refuse(fit: Fit, model: nn.Module, name: str, weights: WeightsFile, state: dict[str, torch.Tensor]) -> None:
    model_state = model.state_dict()
    problems = []
    if fit.missing:
        problems.append(f"{len(fit.missing)} backbone tensor(s) missing (e.g. {', '.join(fit.missing[:SHOWN])})")
    if fit.mismatched:
        example = _shapes(fit.mismatched[0], state, model_state)
        problems.append(f"{len(fit.mismatched)} with another shape (e.g. {example})")
    trained = weights.model
    hint = (f"; that run trained {trained.get('name')!r} at width {trained.get('width', 1.0)} with options "
            f"{trained.get('options') or {}}: build the same model" if trained.get("name")
            else f"; pass weights of a {name} (the same width and input channels)")
    raise TrainlabError(f"weights {weights.source} do not fit model {name!r}: {'; '.join(problems)}. The file holds "
                        f"{describe_layout(state)}{hint}")


def _normalization(weights: WeightsFile, torchvision_layout: bool
                   ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if weights.mean is not None and weights.std is not None:
        return weights.mean, weights.std
    return (IMAGENET_MEAN, IMAGENET_STD) if torchvision_layout else None


def _scale_lr(model: nn.Module, loaded: set[str], scale: float) -> None:
    """``lr_scale`` on every module whose own parameters were all loaded (the nearest such module wins in
    :func:`~trainlab.train.optim.parameter_groups`)."""
    for prefix, module in model.named_modules():
        own = [f"{prefix}.{name}" if prefix else name for name, _ in module.named_parameters(recurse=False)]
        if own and all(key in loaded for key in own):
            module.lr_scale = scale


def _check_options(name: str, weights: Any, freeze: Any, backbone_lr_scale: Any) -> None:
    if weights is not None and not isinstance(weights, str):
        raise TrainlabError(f"model {name!r} option 'weights' must be a path (a run folder or a weights file) or "
                            f"null, got {weights!r}")
    if not isinstance(freeze, bool):
        raise TrainlabError(f"model {name!r} option 'freeze' must be true or false, got {freeze!r}")
    if isinstance(backbone_lr_scale, bool) or not isinstance(backbone_lr_scale, int | float) \
            or not 0 < backbone_lr_scale <= 1:
        raise TrainlabError(f"model {name!r} option 'backbone_lr_scale' must be a number in (0, 1], got "
                            f"{backbone_lr_scale!r}")
    if weights is None and (freeze or backbone_lr_scale != 1):
        option = "freeze" if freeze else "backbone_lr_scale"
        raise TrainlabError(f"model {name!r} option {option!r} needs pretrained weights: set model.options.weights "
                            "to a trainlab run or a weights file (trainlab pretrain makes one), or leave it out to "
                            "train from scratch")


def apply_pretrained(model: nn.Module, name: str, *, weights: str | None, freeze: bool = False,
                     backbone_lr_scale: float = 1.0) -> nn.Module:
    """Load ``weights`` into ``model`` (see the module docstring); on the meta device only the fit is checked."""
    _check_options(name, weights, freeze, backbone_lr_scale)
    model.notes = {}
    model.input_normalization = None
    if weights is None:
        return model
    found = read_weights(weights)
    state = model.align_pretrained(found.state)  # type: ignore[operator]
    fit = match_state(model, state)
    if fit.missing or fit.mismatched:
        _refuse(fit, model, name, found, state)
    if not any(parameter.is_meta for parameter in model.parameters()):
        model.load_state_dict({key: state[key] for key in fit.loaded}, strict=False)
    output: str = model.output_prefix  # type: ignore[assignment]
    loaded = {key for key in fit.loaded if not key.startswith(output)}  # the output layer always trains
    if freeze:
        for key, parameter in model.named_parameters():
            parameter.requires_grad_(key not in loaded)
    elif backbone_lr_scale != 1:
        _scale_lr(model, loaded, float(backbone_lr_scale))
    torchvision_layout = found.kind == "torchvision cache" or model.torchvision_layout(found.state)  # type: ignore
    model.input_normalization = _normalization(found, torchvision_layout)
    model.notes = _notes(found, fit, freeze, backbone_lr_scale, _source_of_stats(found, model.input_normalization))
    return model


def _source_of_stats(found: WeightsFile, stats: tuple[Any, Any] | None) -> str:
    if stats is None:
        return "the data's own statistics (the weights file does not record those it was trained with)"
    if found.mean is None:
        return "ImageNet's mean and std (torchvision's convention)"
    return "the pretraining run's statistics" if found.kind.startswith("trainlab") else "the weights' own statistics"


def _notes(found: WeightsFile, fit: Fit, freeze: bool, scale: float, stats: str) -> dict[str, Any]:
    new_layers = sorted({key.rsplit(".", 1)[0] for key in fit.new if not key.endswith("num_batches_tracked")})
    return {"weights": found.source, "weights_kind": found.kind, "pretrained_tensors": len(fit.loaded),
            "new_layers": new_layers, "unexpected_tensors": len(fit.unexpected),
            "training": "frozen" if freeze else "fine-tuned" if scale == 1 else f"fine-tuned at {scale:g}x lr",
            "normalization": stats}


def frozen_modules(model: nn.Module) -> list[nn.Module]:
    """Modules with parameters, none of which trains: the frozen backbone (its BatchNorm layers stay in eval mode)."""
    return [module for module in model.modules()
            if (own := list(module.parameters(recurse=False))) and not any(p.requires_grad for p in own)]
