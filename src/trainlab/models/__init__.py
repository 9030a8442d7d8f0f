"""Model families and the one entry point that builds them by name.

Every builder takes the same common keyword arguments (``in_channels, num_classes, image_size, dropout, width``) plus
its own family options, e.g. ``vgg13(batch_norm=True, hidden=(512, 512), pool_last=False)``. :func:`build_model`
checks the common arguments and the option names before calling the builder, so that a typo in a recipe fails with a
:class:`~trainlab.errors.TrainlabError` naming the option and listing the valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models import resnet, vgg  # noqa: F401  (importing registers the families)
from trainlab.models.registry import MODELS
from trainlab.validate import MAX_IMAGE_SIZE, MAX_WIDTH, check_float, check_int

__all__ = ["COMMON_ARGS", "MODELS", "build_model", "check_model_options", "model_names", "model_options"]

COMMON_ARGS = ("in_channels", "num_classes", "image_size", "dropout", "width")


def model_names() -> list[str]:
    """The registered model names, sorted."""
    return MODELS.names()


def model_options(name: str) -> dict[str, Any]:
    """The family-specific options of model ``name`` with their defaults (common arguments excluded)."""
    signature = inspect.signature(MODELS.get(name))
    return {
        param.name: param.default
        for param in signature.parameters.values()
        if param.name not in COMMON_ARGS and param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
    }


def check_model_options(name: str, options: Mapping[str, Any]) -> None:
    """Fail on an unknown model, an unknown option, or a common argument given as an option (no data needed)."""
    known = model_options(name)
    for key in options:
        if key in COMMON_ARGS:
            raise TrainlabError(f"model {name!r}: {key!r} is a common argument, not an option; set it directly")
        if key not in known:
            listed = ", ".join(known) or "(none)"
            raise TrainlabError(f"model {name!r} has no option {key!r}; its options: {listed}")


def build_model(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    dropout: float = 0.0,
    width: float = 1.0,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Build the registered model ``name``; every user mistake raises :class:`TrainlabError`."""
    builder = MODELS.get(name)
    check_int("in_channels", in_channels, 1)
    check_int("num_classes", num_classes, 2)
    check_int("image_size", image_size, 1, MAX_IMAGE_SIZE)
    dropout = check_float("dropout", dropout, 0.0, 1.0, max_inclusive=False)
    width = check_float("width", width, 0.0, MAX_WIDTH, min_inclusive=False)

    options = dict(options or {})
    check_model_options(name, options)
    return builder(
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=image_size,
        dropout=dropout,
        width=width,
        **options,
    )
