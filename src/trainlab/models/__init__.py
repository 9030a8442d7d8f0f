"""Model families and the one entry point that builds them by name.

Every builder takes the common keyword arguments of the input kind it reads (its registry entry's ``input=``
metadata, ``image`` when absent): ``num_classes, dropout, width`` plus ``in_channels, image_size`` for images,
``vocab_size, pad_id, vocab`` for token sequences or ``n_features, horizon, n_future`` for windows of a time series
(whose models ignore ``num_classes``: callers pass 0 for a regression); then its own family options, e.g.
``vgg13(batch_norm=True, hidden=(512, 512), pool_last=False)``. :func:`build_model` checks the common arguments and
the option names before calling the builder, so that a typo in a recipe fails with a
:class:`~trainlab.errors.TrainlabError` naming the option and listing the valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.machine import physical_memory_bytes
from trainlab.models import encoder, forecast, resnet, text, vgg  # noqa: F401  (importing registers the families)
from trainlab.models.registry import MODELS
from trainlab.validate import (
    MAX_IMAGE_SIZE,
    MAX_IN_CHANNELS,
    MAX_NUM_CLASSES,
    MAX_VOCAB_SIZE,
    MAX_WIDTH,
    check_float,
    check_int,
)

__all__ = [
    "COMMON_ARGS",
    "MODELS",
    "build_model",
    "check_model_memory",
    "check_model_options",
    "forward_bytes",
    "memory_limit",
    "model_input",
    "model_names",
    "model_options",
]

SHARED_ARGS = ("num_classes", "dropout", "width")
# The arguments each input kind adds to SHARED_ARGS; a model's registry entry names its kind (input=...).
INPUT_ARGS = {"image": ("in_channels", "image_size"), "tokens": ("vocab_size", "pad_id", "vocab"),
              "window": ("n_features", "horizon", "n_future")}
# What each kind cannot do without (the others have defaults), and how a message names its data.
REQUIRED_ARGS = {"image": ("in_channels", "image_size"), "tokens": ("vocab_size",), "window": ("n_features", "horizon")}
INPUT_NAMES = {"image": "images", "tokens": "token sequences", "window": "windows of a time series"}
COMMON_ARGS = ("in_channels", "num_classes", "image_size", "dropout", "width")  # those of image models
ALL_COMMON_ARGS = frozenset(SHARED_ARGS).union(*INPUT_ARGS.values())


def model_names(input_kind: str | None = None) -> list[str]:
    """The registered model names, sorted; only those reading ``input_kind`` when given."""
    return [name for name in MODELS.names() if input_kind is None or model_input(name) == input_kind]


def model_input(name: str) -> str:
    """The input kind model ``name`` reads: ``image``, ``tokens`` or ``window``."""
    return str(MODELS.metadata(name).get("input", "image"))


def model_options(name: str) -> dict[str, Any]:
    """The family-specific options of model ``name`` with their defaults (common arguments excluded)."""
    signature = inspect.signature(MODELS.get(name))
    return {
        param.name: param.default
        for param in signature.parameters.values()
        if param.name not in ALL_COMMON_ARGS and param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
    }


def check_model_options(name: str, options: Mapping[str, Any]) -> None:
    """Fail on an unknown model, an unknown option, or a common argument given as an option (no data needed)."""
    known = model_options(name)
    for key in options:
        if key in ALL_COMMON_ARGS:
            raise TrainlabError(f"model {name!r}: {key!r} is a common argument, not an option; set it directly")
        if key not in known:
            listed = ", ".join(known) or "(none)"
            raise TrainlabError(f"model {name!r} has no option {key!r}; its options: {listed}")


def _check_inputs(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The input arguments of model ``name`` checked for its input kind (images, tokens or windows)."""
    kind = model_input(name)
    expected = INPUT_ARGS[kind]
    given = set(inputs)
    if not set(REQUIRED_ARGS[kind]) <= given or not given <= set(expected):
        other = next((k for k, args in INPUT_ARGS.items() if k != kind and given & set(args)), None)
        hint = f"; the data gives {INPUT_NAMES[other]}" if other else ""
        models = ", ".join(model_names(other)) if other else ""
        raise TrainlabError(f"model {name!r} reads {INPUT_NAMES[kind]} (arguments {', '.join(expected)}), got "
                            f"{', '.join(sorted(given)) or 'none'}{hint}" + (f"; models for it: {models}" if models
                                                                             else ""))
    if kind == "image":
        check_int("in_channels", inputs["in_channels"], 1, MAX_IN_CHANNELS)
        check_int("image_size", inputs["image_size"], 1, MAX_IMAGE_SIZE)
    elif kind == "window":
        check_int("n_features", inputs["n_features"], 1, forecast.MAX_FEATURES)
        check_int("horizon", inputs["horizon"], 1, forecast.MAX_HORIZON)
        check_int("n_future", inputs.get("n_future", 0), 0, forecast.MAX_FEATURES)
    else:
        check_int("vocab_size", inputs["vocab_size"], 2, MAX_VOCAB_SIZE)
        check_int("pad_id", inputs.get("pad_id", 0), 0, inputs["vocab_size"] - 1)
        vocab = inputs.get("vocab")
        if vocab is not None and len(vocab) != inputs["vocab_size"]:
            raise TrainlabError(f"vocab has {len(vocab)} tokens but vocab_size is {inputs['vocab_size']}")
    return inputs


def build_model(
    name: str,
    *,
    num_classes: int,
    dropout: float = 0.0,
    width: float = 1.0,
    options: dict[str, Any] | None = None,
    **inputs: Any,
) -> nn.Module:
    """Build the registered model ``name``; every user mistake raises :class:`TrainlabError`.

    ``inputs`` are the arguments of the model's input kind: ``in_channels, image_size`` for image models,
    ``vocab_size`` (and optionally ``pad_id``, ``vocab``: the tokens, for pretrained embeddings) for token models,
    ``n_features, horizon`` (and optionally ``n_future``, 0 by default) for window models. Window models are
    regressions: they ignore ``num_classes``, which only has to be an integer >= 0 (callers pass 0).
    """
    builder = MODELS.get(name)
    inputs = _check_inputs(name, inputs)
    check_int("num_classes", num_classes, 0 if model_input(name) == "window" else 2, MAX_NUM_CLASSES)
    dropout = check_float("dropout", dropout, 0.0, 1.0, max_inclusive=False)
    width = check_float("width", width, 0.0, MAX_WIDTH, min_inclusive=False)

    options = dict(options or {})
    check_model_options(name, options)
    return builder(num_classes=num_classes, dropout=dropout, width=width, **inputs, **options)


def memory_limit() -> int | None:
    """Half of this machine's physical memory in bytes (None where the OS does not say)."""
    ram = physical_memory_bytes()
    return None if ram is None else ram // 2


def forward_bytes(model: nn.Module, input_size: tuple[int, ...], device: str | torch.device = "meta") -> int:
    """Bytes of the parameters, buffers, input and every leaf module's output of one eval-mode forward pass on zeros.

    Meant for a model built on the meta device: the forward pass there computes shapes only and allocates nothing.
    """
    total = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    sizes: list[int] = []

    def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    leaves = [module for module in model.modules() if not any(True for _ in module.children())]
    handles = [module.register_forward_hook(record) for module in leaves]
    was_training = model.training
    sample = torch.zeros(*input_size, device=device)
    try:
        with torch.no_grad():
            model.eval()(sample)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return total + sample.numel() * sample.element_size() + sum(sizes)


def check_model_memory(name: str, *, in_channels: int, num_classes: int, image_size: int, dropout: float = 0.0,
                       width: float = 1.0, options: dict[str, Any] | None = None,
                       limit_bytes: int | None = None) -> int:
    """Build the model on the meta device (no memory) and fail, before the real build, if one forward pass on one
    image would need more than ``limit_bytes`` (default :func:`memory_limit`); returns that estimate in bytes."""
    with torch.device("meta"):
        model = build_model(name, in_channels=in_channels, num_classes=num_classes, image_size=image_size,
                            dropout=dropout, width=width, options=options)
    needed = forward_bytes(model, (1, in_channels, image_size, image_size))
    limit = memory_limit() if limit_bytes is None else limit_bytes
    allowed = "half this machine's memory" if limit_bytes is None else "the limit"
    if limit is not None and needed > limit:
        params = sum(p.numel() for p in model.parameters())
        raise TrainlabError(
            f"model {name!r} at width {width:g}, image_size {image_size}, {in_channels} input channel(s) and "
            f"{num_classes} classes has {params:,} parameters and needs about {needed / 2**30:,.1f} GiB for one image, "
            f"more than the {limit / 2**30:,.1f} GiB allowed ({allowed}); use a smaller width, "
            "image size or hidden sizes"
        )
    return needed
