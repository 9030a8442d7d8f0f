"""Honest baselines beside every deep model: what a study's accuracy means depends on what a trivial model gets.

Each baseline is a scikit-learn estimator fitted on the study's own train split and scored on its test split with the
same torchmetrics as the deep variants. Its features depend on the input kind (:data:`FEATURES`): images are reduced
to at most ``FEATURE_SIZE``×``FEATURE_SIZE`` per channel by area averaging (the classic "tiny image" features) and
standardized with the train split's statistics; texts are given raw, and the text pipeline fits TF-IDF on the train
split only.

* ``majority``: always the most frequent train class, the floor any model must clear.
* ``logistic``: multinomial logistic regression on the pixels (the best a linear model of the pixels does), or on
  TF-IDF of word 1-2-grams and character 2-5-grams of the texts (the classic strong text baseline).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler
from torch.nn import functional

from trainlab.artifacts import BaselineResult, BaselineResults, ClassificationScore
from trainlab.data import DataBundle, Split, TokenSplit, make_loader
from trainlab.registry import Registry
from trainlab.train.metrics import score_predictions

FEATURE_SIZE = 16
BATCH = 512

BASELINES: Registry[ClassifierMixin] = Registry[ClassifierMixin]("baseline")


TEXT_LOGISTIC = "logistic regression on TF-IDF of word 1-2-grams and character 2-5-grams (fitted on the train split)"


@BASELINES.register("majority", description="always predicts the most frequent class of the train split")
def majority(seed: int, kind: str = "image") -> ClassifierMixin:
    return DummyClassifier(strategy="most_frequent")


@BASELINES.register("logistic", description=f"logistic regression on standardized pixels (at most {FEATURE_SIZE}×"
                                            f"{FEATURE_SIZE} per channel, area-averaged)",
                    descriptions={"tokens": TEXT_LOGISTIC})
def logistic(seed: int, kind: str = "image") -> ClassifierMixin:
    if kind == "tokens":
        return make_pipeline(tfidf_features(), LogisticRegression(max_iter=2000, C=3.0, random_state=seed))
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1, random_state=seed))


def tfidf_features() -> Any:
    """Word 1-2-grams and character 2-5-grams (within word boundaries), sublinear term frequencies."""
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=True)
    return make_union(words, chars)


def description(name: str, kind: str) -> str:
    """What baseline ``name`` is for inputs of ``kind``."""
    metadata = BASELINES.metadata(name)
    return str(metadata.get("descriptions", {}).get(kind, metadata.get("description", "")))


def pixel_features(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """``(features [N, C·s·s] float32, labels [N])`` for any split, in memory or on disk, batch by batch."""
    features, labels = [], []
    for images, batch_labels in make_loader(split, batch_size=BATCH, shuffle=False, seed=0):
        size = min(FEATURE_SIZE, images.shape[-1])
        pooled = functional.adaptive_avg_pool2d(images.float() / 255.0, size)
        features.append(pooled.flatten(1).numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(features), np.concatenate(labels)


def text_features(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """``(texts [N] as an object array, labels [N])`` of a split of texts: the text pipelines featurize them."""
    assert isinstance(split, TokenSplit)
    return np.asarray(split.texts, dtype=object), split.labels.numpy()


def features_of(split: Split) -> tuple[Any, np.ndarray]:
    return text_features(split) if isinstance(split, TokenSplit) else pixel_features(split)


def _feature_text(kind: str, train_x: Any) -> str:
    if kind == "tokens":
        return "the raw texts of each split (TF-IDF fitted on the train split)"
    return f"{train_x.shape[1]} pixel features per image"


def run_baselines(names: list[str], bundle: DataBundle, seed: int) -> BaselineResults:
    """Fit each named baseline on the train split and score it on train and test: the record of ``baselines.json``."""
    builders = {name: BASELINES.get(name) for name in names}
    kind = bundle.input_spec.kind
    train_x, train_y = features_of(bundle.train)
    test_x, test_y = features_of(bundle.test)
    results = []
    for name, builder in builders.items():
        started = time.perf_counter()
        estimator = builder(seed, kind).fit(train_x, train_y)
        train_accuracy = float(estimator.score(train_x, train_y))
        test_predictions = torch.as_tensor(estimator.predict(test_x), dtype=torch.long)
        test = score_predictions(test_predictions, torch.as_tensor(test_y), bundle.classes)
        results.append(BaselineResult(
            name=name,
            description=description(name, kind),
            train_accuracy=train_accuracy,
            test=ClassificationScore.model_validate(test),
            fit_time_s=time.perf_counter() - started,
        ))
    return BaselineResults(features=_feature_text(kind, train_x), baselines=results)
