"""The layer table of a recipe's model, computed with the calculator formulas and checked against the built module.

:func:`model_table` builds the recipe's model exactly as a run does (``trainlab.models.build_model`` with the recipe's
channels, image size, width, options and dropout), runs one dummy batch ``(1, C, S, S)`` through it with a forward hook
on every leaf module, and for each call in forward order (ResNet downsample convs included) computes:

    Conv2d            output ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 per axis,   parameters F·(C/g)·kh·kw + F
    MaxPool2d         output ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1,            0 parameters
    AvgPool2d         output ⌊(n + 2p − k) / s⌋ + 1,                        0 parameters
    AdaptiveAvgPool2d output = output_size,                                 0 parameters
    Linear            output (..., out),                                    in·out + out
    BatchNorm1d/2d    output = input,                                       2·C (running stats are buffers)
    ReLU, Dropout, other element-wise activations: output = input,          0 parameters

Both numbers are compared with the module (observed output shape, ``sum(p.numel())``); a difference raises
:class:`LayerMismatchError` naming the layer. The total must equal the model's parameter count (vgg13-ablation:
34,591,299; resnet18-ablation: 11,178,051; vgg13-gray32: 38,677,859).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.calc.params import batchnorm_params, linear_params
from trainlab.calc.shapes import (
    Volume,
    conv2d_output,
    conv2d_params,
    conv_params_formula,
    conv_transpose2d_output,
    conv_transpose2d_params,
    pool2d_output,
)
from trainlab.config import Recipe, load_recipe
from trainlab.errors import TrainlabError
from trainlab.models import check_model_memory, model_input
from trainlab.models.recipe import build_recipe_model, recipe_model_args

TorchShape = tuple[int, ...]
SHAPE_PRESERVING = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.Dropout,
                    nn.Dropout2d, nn.Identity)


class LayerMismatchError(AssertionError):
    """The calculator formula and the built module disagree on a layer's output shape or parameter count."""


@dataclass(frozen=True)
class LayerRow:
    """One call of a leaf module: its path in the model, class, input/output shapes (no batch), parameters."""

    name: str
    kind: str
    input_shape: TorchShape
    output_shape: TorchShape
    params: int
    formula: str


def format_shape(shape: TorchShape) -> str:
    """A (C, H, W) feature map as the course writes it, ``W×H×C``; a vector as its length."""
    if len(shape) == 3:
        channels, height, width = shape
        return f"{width}×{height}×{channels}"
    return "×".join(str(dim) for dim in shape)


def default_num_classes(recipe: Recipe) -> int:
    """Classes when the data is not loaded: 10 for the digits source, 3 (the course's image folder) otherwise."""
    return 10 if recipe.data.source == "digits" else 3


def _volume(shape: TorchShape) -> Volume:
    channels, height, width = shape
    return Volume(width, height, channels)


def _spatial(module: nn.Module) -> tuple[Any, ...]:
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        raise TrainlabError(f"no calculator formula for padding={padding!r}; expected integer padding")
    return module.kernel_size, module.stride, padding, module.dilation  # type: ignore[return-value]


def expected(module: nn.Module, input_shape: TorchShape) -> tuple[TorchShape, int, str]:
    """The calculator's output shape (no batch), parameter count and formula for one leaf module."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        kernel, stride, padding, dilation = _spatial(module)
        bias, groups, volume = module.bias is not None, module.groups, _volume(input_shape)
        formula = conv_params_formula(module.in_channels, module.out_channels, kernel, bias, groups)
        if isinstance(module, nn.ConvTranspose2d):
            out = conv_transpose2d_output(volume, module.out_channels, kernel, stride, padding,
                                          module.output_padding, dilation)  # type: ignore[arg-type]
            params = conv_transpose2d_params(module.in_channels, module.out_channels, kernel, bias, groups)
            kh, kw = kernel
            per_group = module.out_channels // groups
            return out.torch_shape, params, f"{module.in_channels}·({kh}·{kw}·{per_group})" + (
                f" + {module.out_channels}" if bias else "")
        out = conv2d_output(volume, module.out_channels, kernel, stride, padding, dilation)
        return out.torch_shape, conv2d_params(module.in_channels, module.out_channels, kernel, bias, groups), formula
    if isinstance(module, nn.MaxPool2d):
        out = pool2d_output(_volume(input_shape), *_spatial(module), ceil_mode=module.ceil_mode, kind="max")
        return out.torch_shape, 0, ""
    if isinstance(module, nn.AvgPool2d):
        kernel, stride, padding = module.kernel_size, module.stride, module.padding
        out = pool2d_output(_volume(input_shape), kernel, stride, padding, ceil_mode=module.ceil_mode, kind="avg")
        return out.torch_shape, 0, ""
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        size = module.output_size
        height, width = size if isinstance(size, tuple) else (size, size)
        return (input_shape[0], height or input_shape[1], width or input_shape[2]), 0, ""
    if isinstance(module, nn.Linear):
        bias = module.bias is not None
        formula = f"{module.in_features}·{module.out_features}" + (f" + {module.out_features}" if bias else "")
        params = linear_params(module.in_features, module.out_features, bias)
        return (*input_shape[:-1], module.out_features), params, formula
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        count = batchnorm_params(module.num_features, "pytorch", module.affine)
        return input_shape, count.trainable, f"2·{module.num_features}" if module.affine else ""
    if isinstance(module, nn.Flatten):
        start = module.start_dim - 1 if module.start_dim > 0 else module.start_dim
        return (*input_shape[:start], math.prod(input_shape[start:])), 0, ""
    if isinstance(module, SHAPE_PRESERVING):
        return input_shape, 0, ""
    raise TrainlabError(f"no calculator formula for a {type(module).__name__} layer")


def walk(model: nn.Module, input_size: TorchShape) -> list[tuple[str, nn.Module, TorchShape, TorchShape]]:
    """Every leaf-module call of one forward pass on zeros of ``input_size``, in order, as
    ``(path, module, input shape, output shape)`` with the batch dimension dropped."""
    calls: list[tuple[str, nn.Module, TorchShape, TorchShape]] = []

    def hook(name: str) -> Any:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: Any) -> None:
            first = output[0] if isinstance(output, tuple) else output  # recurrent layers return (output, state)
            calls.append((name, module, tuple(inputs[0].shape[1:]), tuple(first.shape[1:])))

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules()
               if not any(True for _ in module.children())]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(*input_size))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return calls


def check_model(model: nn.Module, input_size: TorchShape) -> tuple[list[LayerRow], int]:
    """The layer table of ``model`` for one batch of ``input_size``; every row and the total are asserted."""
    rows: list[LayerRow] = []
    seen: set[int] = set()
    total = 0
    for name, module, in_shape, out_shape in walk(model, input_size):
        kind = type(module).__name__
        try:
            shape, params, formula = expected(module, in_shape)
        except TrainlabError as error:
            raise TrainlabError(f"layer {name} ({kind}): {error}") from None
        observed = sum(p.numel() for p in module.parameters())
        if shape != out_shape:
            raise LayerMismatchError(f"layer {name} ({kind}): the calculator gives output {format_shape(shape)}, "
                                     f"the module gives {format_shape(out_shape)}")
        if params != observed:
            raise LayerMismatchError(f"layer {name} ({kind}): the calculator gives {params:,} parameters, "
                                     f"the module has {observed:,}")
        if id(module) not in seen:  # a module called twice (ResNet's relu) counts once
            seen.add(id(module))
            total += params
        if not isinstance(module, nn.Identity):
            rows.append(LayerRow(name, kind, in_shape, out_shape, params, formula))
    actual = sum(p.numel() for p in model.parameters())
    if total != actual:
        raise LayerMismatchError(f"the layers add up to {total:,} parameters, the model has {actual:,} "
                                 "(parameters outside the leaf layers, or layers the forward pass skips)")
    return rows, total


def model_table(recipe_name_or_path: str | Path, num_classes: int | None = None) -> tuple[list[LayerRow], int]:
    """Build the recipe's model and return its checked layer table and total parameter count.

    ``num_classes`` defaults to :func:`default_num_classes` (10 for digits recipes, 3 for image folders). A model
    that would need more than half this machine's memory fails first, built on the meta device.
    """
    recipe = load_recipe(recipe_name_or_path)
    name = recipe.model.name
    if model_input(name) == "tokens":
        raise TrainlabError(f"calc model checks image models layer by layer; {recipe.name}'s model {name!r} reads "
                            f"texts, whose size depends on the vocabulary: run `trainlab summary {name} "
                            "--vocab-size N` (N: the vocabulary size the run's report gives)")
    if model_input(name) == "window":
        raise TrainlabError(f"calc model checks image models layer by layer; {recipe.name}'s model {name!r} reads "
                            f"windows of a time series, whose size depends on the data's columns: run `trainlab "
                            f"summary {name} --features F --window W --horizon H --future K` (the run's report gives "
                            "them)")
    classes = default_num_classes(recipe) if num_classes is None else num_classes
    check_model_memory(recipe.model.name, **recipe_model_args(recipe, classes))  # before any real memory
    model = build_recipe_model(recipe, classes)
    size = recipe.data.image_size
    return check_model(model, (1, recipe.data.channels, size, size))
