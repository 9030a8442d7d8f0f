"""Non-deep baselines on the study's own split, scored with the same torchmetrics as the deep variants."""

from __future__ import annotations

from collections import Counter

import pytest

from trainlab.config import DataConfig
from trainlab.data import DataBundle, build_dataset
from trainlab.errors import TrainlabError
from trainlab.train.baselines import BASELINES, pixel_features, run_baselines


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> DataBundle:
    config = DataConfig(source="digits", image_size=16, channels=1)
    return build_dataset(config, tmp_path_factory.mktemp("cache"))


def test_features_are_area_averaged_pixels_in_unit_range(digits: DataBundle) -> None:
    features, labels = pixel_features(digits.test)
    assert features.shape == (len(digits.test), 16 * 16) and labels.shape == (len(digits.test),)
    assert features.min() >= 0.0 and features.max() <= 1.0


def test_majority_scores_the_largest_class_share_and_logistic_learns_digits(digits: DataBundle) -> None:
    result = run_baselines(["majority", "logistic"], digits, seed=0)
    by_name = {row.name: row for row in result.baselines}
    majority, logistic = by_name["majority"], by_name["logistic"]
    test_labels = digits.test.labels.tolist()
    predicted = max(Counter(digits.train.labels.tolist()).items(), key=lambda item: (item[1], -item[0]))[0]
    assert majority.test.accuracy == pytest.approx(test_labels.count(predicted) / len(test_labels), abs=1e-6)
    assert logistic.test.accuracy > 0.85  # a linear model of 16x16 digits is strong: the bar a CNN must clear
    assert majority.description == "always predicts the most frequent class of the train split"
    assert logistic.description.startswith("logistic regression on standardized pixels (at most 16×16")
    for row in result.baselines:
        matrix = row.test.confusion_matrix
        assert len(matrix) == 10 and sum(map(sum, matrix)) == len(test_labels)
        # the majority baseline predicts one class: its confusion matrix has exactly one non-empty column
        if row.name == "majority":
            assert [sum(column) > 0 for column in zip(*matrix, strict=True)].count(True) == 1
        assert 0.0 <= row.train_accuracy <= 1.0 and row.fit_time_s >= 0.0


def test_unknown_baseline_lists_the_known_ones(digits: DataBundle) -> None:
    with pytest.raises(TrainlabError, match="unknown baseline 'knn'; known: logistic, majority"):
        run_baselines(["knn"], digits, seed=0)
    assert BASELINES.names() == ["logistic", "majority"]

