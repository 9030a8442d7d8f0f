"""The full shared Tweets.csv (14,640 rows) through the ``airline`` dataset."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from trainlab.config import DataConfig
from trainlab.data import TokenSplit, build_dataset
from trainlab.data.bundle import DataBundle
from trainlab.data.text.tokenize import TweetTokenizer

CLASS_TOTALS = {"negative": 9178, "neutral": 3099, "positive": 2363}
AIRLINE_TOTALS = {"United": 3822, "US Airways": 2913, "American": 2759, "Southwest": 2420, "Delta": 2222,
                  "Virgin America": 504}


@pytest.fixture(scope="module")
def tweets_path(shared_data: Path) -> Path:
    path = shared_data / "twitter_airline_sentiment" / "Tweets.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared data")
    return path


@pytest.fixture(scope="module")
def airline(tweets_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DataBundle:
    return build_dataset(DataConfig(source="airline", path=tweets_path), tmp_path_factory.mktemp("cache"))


def test_full_tweets_csv(airline: DataBundle) -> None:
    profile = airline.profile
    assert profile["rows_read"] == profile["rows_used"] == 14_640 and airline.skipped == []
    assert airline.classes == list(CLASS_TOTALS)
    counts = airline.counts()
    assert {name: sum(split[name] for split in counts.values()) for name in CLASS_TOTALS} == CLASS_TOTALS
    assert [sum(counts[s].values()) for s in ("train", "val", "test")] == [10_248, 2_196, 2_196]
    airlines = {value: sum(cells.values()) for value, cells in profile["groups"]["airline"].items()}
    assert airlines == AIRLINE_TOTALS
    reasons = profile["groups"]["negativereason"]
    assert sum(reasons["Customer Service Issue"].values()) == 2910
    assert reasons[""] == {"negative": 0, "neutral": 3099, "positive": 2363}


def test_cap_is_the_95th_percentile_of_train_lengths(airline: DataBundle) -> None:
    train = airline.train
    assert isinstance(train, TokenSplit)
    tokenizer = TweetTokenizer()
    lengths = np.array([len(tokenizer.tokenize(text)) for text in train.texts])
    cap = math.ceil(np.percentile(lengths, 95))
    assert airline.input.max_len == airline.profile["max_len"] == cap
    assert 20 <= cap <= 40  # tweets: at most 140 characters
    assert airline.profile["truncated"]["count"] == int((lengths > cap).sum())
    assert 0.0 < airline.profile["truncated"]["fraction"] <= 0.05
    assert train.lengths.tolist() == np.minimum(lengths, cap).tolist()
    histogram = airline.profile["length_histogram"]
    assert histogram["counts"] == np.bincount(lengths, minlength=lengths.max() + 1)[1:].tolist()


def test_vocabulary_of_the_train_split(airline: DataBundle) -> None:
    vocab = airline.input.vocab
    assert vocab[:2] == ("<pad>", "<unk>") and 3_000 < len(vocab) < 20_000
    assert {"@united", "<url>", "#fail", "can't", "!!!", "😂"} <= set(vocab)
    rates = airline.profile["unk_rate"]
    assert 0.0 < rates["train"] < rates["val"] < 0.1 and 0.0 < rates["train"] < rates["test"] < 0.1


def test_binary_on_the_full_file(tweets_path: Path, tmp_path: Path) -> None:
    bundle = build_dataset(DataConfig(source="airline", path=tweets_path, options={"binary": True}), tmp_path)
    assert bundle.classes == ["negative", "positive"]
    assert bundle.profile["dropped"] == {"neutral (data.options.binary)": 3099}
    totals = Counter()
    for split in bundle.counts().values():
        totals.update(split)
    assert dict(totals) == {"negative": 9178, "positive": 2363}
