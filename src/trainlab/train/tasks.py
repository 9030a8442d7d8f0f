"""Task kinds: what a recipe's ``task`` trains and how it is judged.

Each entry of :data:`TASKS` builds the task's LightningModule for a model, an input adapter and the data, and
carries its primary metric (name, whether higher is better, unit): the report orders, compares and colours results by
it. Classification and regression (forecasting) are registered here; captioning adds its entry beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from trainlab.artifacts import BaselineResults
from trainlab.config import Recipe
from trainlab.data import DataBundle
from trainlab.registry import Registry
from trainlab.train.baselines import BASELINES, run_baselines
from trainlab.train.forecast_baselines import FORECAST_BASELINES, run_forecast_baselines
from trainlab.train.inputs import InputAdapter
from trainlab.train.task import ClassificationModule, RegressionModule, TaskModule


@dataclass(frozen=True)
class PrimaryMetric:
    """The number a task is judged by; ``unit`` is ``fraction`` (shown as %, differences in points) or a unit name."""

    name: str
    higher_is_better: bool
    unit: str = "fraction"

    def to_dict(self, unit: str | None = None) -> dict[str, object]:
        """The record of ``study.json``; ``unit`` replaces a unit that depends on the data (``target``)."""
        return {"name": self.name, "higher_is_better": self.higher_is_better,
                "unit": self.unit if unit is None else unit}


TASKS: Registry[TaskModule] = Registry[TaskModule]("task")


@TASKS.register("classification", primary=PrimaryMetric("accuracy", higher_is_better=True), target="classes",
                baselines=BASELINES, run_baselines=run_baselines)
def classification(model: nn.Module, inputs: InputAdapter, bundle: DataBundle, recipe: Recipe) -> TaskModule:
    return ClassificationModule(model, inputs, classes=bundle.classes, training=recipe.training,
                                regularization=recipe.regularization)


@TASKS.register("regression", primary=PrimaryMetric("wmae", higher_is_better=False, unit="target"), target="real",
                baselines=FORECAST_BASELINES, run_baselines=run_forecast_baselines)
def regression(model: nn.Module, inputs: InputAdapter, bundle: DataBundle, recipe: Recipe) -> TaskModule:
    return RegressionModule(model, inputs, training=recipe.training, regularization=recipe.regularization)


def build_task(model: nn.Module, inputs: InputAdapter, bundle: DataBundle, recipe: Recipe) -> TaskModule:
    """The LightningModule of ``recipe.task`` around ``model``."""
    return TASKS.get(recipe.task)(model, inputs, bundle, recipe)


def primary_metric(task: str) -> PrimaryMetric:
    return TASKS.metadata(task)["primary"]


def primary_record(task: str, bundle: DataBundle) -> dict[str, object]:
    """The primary metric of ``study.json``, its unit resolved for the data (e.g. ``sales``)."""
    primary = primary_metric(task)
    if primary.unit != "target":
        return primary.to_dict()
    return primary.to_dict(getattr(bundle.target, "unit", ""))


def baseline_registry(task: str) -> Registry:
    """The registry of the baselines fitted beside ``task``'s deep models."""
    return TASKS.metadata(task)["baselines"]


def fit_baselines(task: str, names: list[str], bundle: DataBundle, seed: int) -> BaselineResults:
    """Fit and score ``task``'s baselines ``names`` on the bundle's split (the record of ``baselines.json``)."""
    return TASKS.metadata(task)["run_baselines"](names, bundle, seed)


def target_kind(task: str) -> str:
    """The kind of target ``task`` learns (``classes`` or ``real``): the data must give that kind."""
    return str(TASKS.metadata(task)["target"])
