"""Honest baselines beside every deep model: what a study's accuracy means depends on what a trivial model gets.

Each baseline is a scikit-learn estimator fitted on the study's own train split and scored on its test split with the
same torchmetrics as the deep variants. Images are reduced to at most ``FEATURE_SIZE``×``FEATURE_SIZE`` per channel by
area averaging (the classic "tiny image" features) and standardized with the train split's statistics.

* ``majority``: always the most frequent train class, the floor any model must clear.
* ``logistic``: multinomial logistic regression on the pixels, the best a linear model of the pixels does.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.nn import functional

from trainlab.artifacts import BaselineResult, BaselineResults, ClassificationScore
from trainlab.data import DataBundle, Split, make_loader
from trainlab.registry import Registry
from trainlab.train.metrics import score_predictions

FEATURE_SIZE = 16
BATCH = 512

BASELINES: Registry[ClassifierMixin] = Registry[ClassifierMixin]("baseline")


@BASELINES.register("majority", description="always predicts the most frequent class of the train split")
def majority(seed: int) -> ClassifierMixin:
    return DummyClassifier(strategy="most_frequent")


@BASELINES.register("logistic", description=f"logistic regression on standardized pixels (at most {FEATURE_SIZE}×"
                                            f"{FEATURE_SIZE} per channel, area-averaged)")
def logistic(seed: int) -> ClassifierMixin:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1, random_state=seed))


def pixel_features(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """``(features [N, C·s·s] float32, labels [N])`` for any split, in memory or on disk, batch by batch."""
    features, labels = [], []
    for images, batch_labels in make_loader(split, batch_size=BATCH, shuffle=False, seed=0):
        size = min(FEATURE_SIZE, images.shape[-1])
        pooled = functional.adaptive_avg_pool2d(images.float() / 255.0, size)
        features.append(pooled.flatten(1).numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(features), np.concatenate(labels)


def run_baselines(names: list[str], bundle: DataBundle, seed: int) -> BaselineResults:
    """Fit each named baseline on the train split and score it on train and test: the record of ``baselines.json``."""
    builders = {name: BASELINES.get(name) for name in names}
    train_x, train_y = pixel_features(bundle.train)
    test_x, test_y = pixel_features(bundle.test)
    results = []
    for name, builder in builders.items():
        started = time.perf_counter()
        estimator = builder(seed).fit(train_x, train_y)
        train_accuracy = float(estimator.score(train_x, train_y))
        test_predictions = torch.as_tensor(estimator.predict(test_x), dtype=torch.long)
        test = score_predictions(test_predictions, torch.as_tensor(test_y), bundle.classes)
        results.append(BaselineResult(
            name=name,
            description=BASELINES.metadata(name).get("description", ""),
            train_accuracy=train_accuracy,
            test=ClassificationScore.model_validate(test),
            fit_time_s=time.perf_counter() - started,
        ))
    return BaselineResults(features=f"{train_x.shape[1]} pixel features per image", baselines=results)
