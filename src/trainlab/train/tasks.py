"""Task kinds: what a recipe's ``task`` trains and how it is judged.

Each entry of :data:`TASKS` builds the task's LightningModule for a model, an input adapter and the data, and
carries its primary metric (name, whether higher is better, unit): the report orders, compares and colours results by
it. Classification is registered here; regression (forecasting) and captioning add their entries beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from trainlab.config import Recipe
from trainlab.data import DataBundle
from trainlab.registry import Registry
from trainlab.train.inputs import InputAdapter
from trainlab.train.task import ClassificationModule, TaskModule


@dataclass(frozen=True)
class PrimaryMetric:
    """The number a task is judged by; ``unit`` is ``fraction`` (shown as %, differences in points) or a unit name."""

    name: str
    higher_is_better: bool
    unit: str = "fraction"


TASKS: Registry[TaskModule] = Registry[TaskModule]("task")


@TASKS.register("classification", primary=PrimaryMetric("accuracy", higher_is_better=True))
def classification(model: nn.Module, inputs: InputAdapter, bundle: DataBundle, recipe: Recipe) -> TaskModule:
    return ClassificationModule(model, inputs, classes=bundle.classes, training=recipe.training,
                                regularization=recipe.regularization)


def build_task(model: nn.Module, inputs: InputAdapter, bundle: DataBundle, recipe: Recipe) -> TaskModule:
    """The LightningModule of ``recipe.task`` around ``model``."""
    return TASKS.get(recipe.task)(model, inputs, bundle, recipe)


def primary_metric(task: str) -> PrimaryMetric:
    return TASKS.metadata(task)["primary"]
