"""The model a recipe describes, built the one way both a training run and the calculators build it."""

from __future__ import annotations

from typing import Any

from torch import nn

from trainlab.config import Recipe
from trainlab.data.specs import InputSpec, TokenSpec, WindowSpec
from trainlab.models import build_model


def input_args(recipe: Recipe, input_spec: InputSpec | None) -> dict[str, Any]:
    """The input arguments of :func:`~trainlab.models.build_model` for the data's input spec; without one (the
    calculators, before any data), the image size and channels the recipe's data section asks for."""
    if isinstance(input_spec, TokenSpec):
        return {"vocab_size": input_spec.vocab_size, "pad_id": input_spec.pad_id, "vocab": input_spec.vocab}
    if isinstance(input_spec, WindowSpec):
        return {"n_features": input_spec.n_features, "horizon": input_spec.horizon, "n_future": input_spec.n_future}
    return {"in_channels": recipe.data.channels, "image_size": recipe.data.image_size}


def recipe_model_args(recipe: Recipe, num_classes: int, input_spec: InputSpec | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`~trainlab.models.build_model` (after the name) that ``recipe`` gives."""
    return {
        **input_args(recipe, input_spec),
        "num_classes": num_classes,
        "dropout": recipe.regularization.dropout,
        "width": recipe.model.width,
        "options": dict(recipe.model.options),
    }


def build_recipe_model(recipe: Recipe, num_classes: int, input_spec: InputSpec | None = None) -> nn.Module:
    """``recipe.model`` for the data's inputs (or ``recipe.data``'s channels and image size), with the recipe's
    dropout and width."""
    return build_model(recipe.model.name, **recipe_model_args(recipe, num_classes, input_spec))
