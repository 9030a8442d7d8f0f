"""The model a recipe describes, built the one way both a training run and the calculators build it."""

from __future__ import annotations

from typing import Any

from torch import nn

from trainlab.config import Recipe
from trainlab.models import build_model


def recipe_model_args(recipe: Recipe, num_classes: int) -> dict[str, Any]:
    """The keyword arguments of :func:`~trainlab.models.build_model` (after the name) that ``recipe`` gives."""
    return {
        "in_channels": recipe.data.channels,
        "num_classes": num_classes,
        "image_size": recipe.data.image_size,
        "dropout": recipe.regularization.dropout,
        "width": recipe.model.width,
        "options": dict(recipe.model.options),
    }


def build_recipe_model(recipe: Recipe, num_classes: int) -> nn.Module:
    """``recipe.model`` for ``recipe.data``'s channels and image size, with the recipe's dropout and width."""
    return build_model(recipe.model.name, **recipe_model_args(recipe, num_classes))
