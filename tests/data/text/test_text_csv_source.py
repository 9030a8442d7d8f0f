"""The text_csv and airline datasets on the hand-written fixture: splits, ids, vocabulary, options and profile."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trainlab.data import DATASETS, SkippedFile, TokenSplit, build_dataset
from trainlab.data.bundle import DataBundle
from trainlab.data.text.tokenize import TweetTokenizer
from trainlab.data.text.vocab import build_vocabulary
from trainlab.errors import TrainlabError

CLASSES = ["negative", "neutral", "positive"]
USABLE = {"negative": 36, "neutral": 20, "positive": 18}  # rows 6 and 41 have empty texts
EMPTY_ROWS = [SkippedFile(path="row 6", reason="empty text"), SkippedFile(path="row 41", reason="empty text")]


def build(cfg: object, tmp_path: Path) -> DataBundle:
    return build_dataset(cfg, tmp_path / "cache")  # type: ignore[arg-type]


def token_split(bundle: DataBundle, name: str) -> TokenSplit:
    split = bundle.splits()[name]
    assert isinstance(split, TokenSplit)
    return split


def test_both_sources_are_registered() -> None:
    assert {"text_csv", "airline"} <= set(DATASETS.names())


def test_fixture_builds_a_stratified_bundle(tweets_csv: Path, text_cfg: Callable, tmp_path: Path,
                                            fixture_rows: list[dict[str, str]]) -> None:
    bundle = build(text_cfg(tweets_csv), tmp_path)
    assert bundle.classes == CLASSES
    assert bundle.source == "airline tweets_small.csv"
    assert bundle.skipped == EMPTY_ROWS
    counts = bundle.counts()
    assert {name: sum(counts[s][name] for s in counts) for name in CLASSES} == USABLE
    assert [sum(counts[s].values()) for s in ("train", "val", "test")] == [52, 11, 11]  # 74 rows, 15% = 11.1 → 11
    for split in ("val", "test"):  # each class in proportion to its share of the 74 rows, within one row
        for name, total in USABLE.items():
            assert abs(counts[split][name] - total * 11 / 74) <= 1, (split, name, counts[split])
    seen: list[str] = []
    for name in ("train", "val", "test"):
        split = token_split(bundle, name)
        numbers = [int(row_id.removeprefix("row ")) for row_id in split.ids]
        assert numbers == sorted(numbers)  # file order inside each split
        seen += split.ids
        for number, text, label in zip(numbers, split.texts, split.labels.tolist(), strict=True):
            assert text == fixture_rows[number - 1]["text"]
            assert CLASSES[label] == fixture_rows[number - 1]["airline_sentiment"]
    assert sorted(seen, key=lambda s: int(s[4:])) == [f"row {n}" for n in range(1, 77) if n not in (6, 41)]


def test_vocabulary_and_cap_come_from_the_train_split(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    bundle = build(text_cfg(tweets_csv, source="text_csv"), tmp_path)
    spec = bundle.input
    tokenizer = TweetTokenizer()
    train_tokens = [tokenizer.tokenize(text) for text in token_split(bundle, "train").texts]
    assert spec.vocab == build_vocabulary(train_tokens, min_freq=2, max_size=20_000)
    assert spec.vocab[:2] == ("<pad>", "<unk>") and (spec.pad_id, spec.unk_id) == (0, 1)
    lengths = [len(tokens) for tokens in train_tokens]
    assert spec.max_len == math.ceil(np.percentile(lengths, 95))
    train_counts = Counter(token for tokens in train_tokens for token in tokens)
    test = token_split(bundle, "test")
    only_in_test = 0
    for row, text in enumerate(test.texts):
        tokens = tokenizer.tokenize(text)[: spec.max_len]
        ids = test.tokens[row, : test.lengths[row]].tolist()
        assert len(ids) == len(tokens)
        for token, token_id in zip(tokens, ids, strict=True):
            if train_counts[token] < 2:  # unseen in train (or too rare there): unknown, even if frequent in test
                assert token_id == spec.unk_id
                only_in_test += token not in train_counts
            else:
                assert spec.vocab[token_id] == token
        assert set(test.tokens[row, test.lengths[row] :].tolist()) <= {spec.pad_id}
    assert only_in_test > 0  # the fixture has words that only the test split holds


def test_min_freq_and_max_vocab(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    default = build(text_cfg(tweets_csv), tmp_path)
    rare = build(text_cfg(tweets_csv, min_freq=1), tmp_path)
    small = build(text_cfg(tweets_csv, max_vocab=10), tmp_path)
    assert rare.input.vocab_size > default.input.vocab_size
    assert small.input.vocab_size == small.profile["vocab_size"] == 10
    assert small.input.vocab == default.input.vocab[:10]
    assert small.profile["unk_rate"]["train"] > default.profile["unk_rate"]["train"] > rare.profile["unk_rate"]["train"]
    assert rare.profile["unk_rate"]["train"] == 0.0


def test_same_seed_same_bundle_other_seed_other_split(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    first, again = build(text_cfg(tweets_csv), tmp_path), build(text_cfg(tweets_csv), tmp_path)
    other = build(text_cfg(tweets_csv, split_seed=1), tmp_path)
    assert first.fingerprint() == again.fingerprint() and first.input.vocab == again.input.vocab
    assert token_split(other, "test").ids != token_split(first, "test").ids


def test_binary_drops_neutral(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    bundle = build(text_cfg(tweets_csv, binary=True), tmp_path)
    assert bundle.classes == ["negative", "positive"]
    assert bundle.profile["dropped"] == {"neutral (data.options.binary)": 21}  # row 41 is neutral: dropped first
    assert bundle.skipped == EMPTY_ROWS[:1]
    assert bundle.profile["rows_used"] == 54 and bundle.profile["binary"] is True
    assert set(bundle.profile["groups"]["negativereason"][""]) == {"negative", "positive"}


def test_labels_mapping_renames_and_drops(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    labels = {"negative": "bad", "positive": "good", "neutral": None}
    bundle = build(text_cfg(tweets_csv, labels=labels), tmp_path)
    assert bundle.classes == ["bad", "good"]
    assert bundle.profile["dropped"] == {"label 'neutral' mapped to null": 21}
    assert {name: sum(c[name] for c in bundle.counts().values()) for name in ("bad", "good")} == {"bad": 36, "good": 18}


def test_labels_mapping_must_cover_every_label(tweets_csv: Path, text_cfg: Callable, tmp_path: Path,
                                               fixture_rows: list[dict[str, str]]) -> None:
    first_neutral = next(n for n, row in enumerate(fixture_rows, 1) if row["airline_sentiment"] == "neutral")
    with pytest.raises(TrainlabError) as caught:
        build(text_cfg(tweets_csv, labels={"negative": "bad", "positive": "good"}), tmp_path)
    message = str(caught.value)
    assert f"tweets_small.csv: row {first_neutral} has the label 'neutral'" in message
    assert "'airline_sentiment'" in message and "map it to null" in message


def test_max_per_class_caps_each_class_reproducibly(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    bundle = build(text_cfg(tweets_csv, max_per_class=10), tmp_path)
    totals = {name: sum(c[name] for c in bundle.counts().values()) for name in CLASSES}
    assert totals == dict.fromkeys(CLASSES, 10)
    assert bundle.profile["rows_used"] == 30
    again = build(text_cfg(tweets_csv, max_per_class=10), tmp_path)
    assert again.fingerprint() == bundle.fingerprint()
    ids = {i for split in bundle.splits().values() for i in split.ids}
    assert ids != {f"row {n}" for n in range(1, 31)}  # a seeded sample, not the first rows of the file


def test_explicit_max_len_truncates(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    bundle = build(text_cfg(tweets_csv, max_len=6), tmp_path)
    train = token_split(bundle, "train")
    full = [len(TweetTokenizer().tokenize(text)) for text in train.texts]
    assert bundle.input.max_len == 6 and train.tokens.shape[1] == 6
    assert train.lengths.tolist() == [min(n, 6) for n in full]
    longer = sum(n > 6 for n in full)
    assert bundle.profile["truncated"] == {"count": longer, "fraction": longer / len(full)}
    assert bundle.profile["max_len_from"] == "data.options.max_len"
    histogram = bundle.profile["length_histogram"]
    assert sum(histogram["counts"]) == len(full) and len(histogram["edges"]) == len(histogram["counts"]) + 1
    assert histogram["counts"][max(full) - 1] == full.count(max(full))  # bins of the lengths before the cap


def test_length_percentile(tweets_csv: Path, text_cfg: Callable, tmp_path: Path) -> None:
    bundle = build(text_cfg(tweets_csv, length_percentile=50.0), tmp_path)
    full = [len(TweetTokenizer().tokenize(text)) for text in token_split(bundle, "train").texts]
    assert bundle.input.max_len == math.ceil(np.median(full)) < max(full)
    assert bundle.profile["truncated"]["count"] == sum(n > bundle.input.max_len for n in full) > 0


def test_profile_groups_and_json(tweets_csv: Path, text_cfg: Callable, tmp_path: Path,
                                 fixture_rows: list[dict[str, str]]) -> None:
    bundle = build(text_cfg(tweets_csv), tmp_path)
    profile = json.loads(json.dumps(bundle.profile))
    used = [row for n, row in enumerate(fixture_rows, 1) if n not in (6, 41)]
    for column in ("airline", "negativereason"):
        expected = Counter((row[column], row["airline_sentiment"]) for row in used)
        table = profile["groups"][column]
        assert {(value, name): n for value, cells in table.items() for name, n in cells.items() if n} == dict(expected)
    assert next(iter(profile["groups"]["negativereason"])) == ""  # most frequent first: 38 rows without a reason
    assert profile["rows_read"] == 76 and profile["rows_used"] == 74 and profile["skipped_empty"] == 2
    assert (profile["text_column"], profile["label_column"]) == ("text", "airline_sentiment")
    assert profile["vocab_size"] == bundle.input.vocab_size and profile["min_freq"] == 2
    assert set(profile["unk_rate"]) == {"train", "val", "test"}
    assert build(text_cfg(tweets_csv, source="text_csv"), tmp_path).profile["groups"] == {}


def test_other_columns_and_whitespace_tokenizer(write_csv: Callable, text_cfg: Callable, tmp_path: Path) -> None:
    lines = ["review,stars,shop"] + [f'"Great, value {i}!",good,a' for i in range(12)]
    lines += [f"awful thing {i},bad,b" for i in range(12)]
    path = write_csv("\n".join(lines) + "\n")
    cfg = text_cfg(path, source="text_csv", text_column="review", label_column="stars", tokenizer="whitespace",
                   min_freq=1, group_columns=["shop"])
    bundle = build(cfg, tmp_path)
    assert bundle.classes == ["bad", "good"] and bundle.source == "text_csv data.csv"
    assert "great," in bundle.input.vocab and bundle.input.tokenizer == "whitespace"
    assert bundle.profile["groups"] == {"shop": {"a": {"bad": 0, "good": 12}, "b": {"bad": 12, "good": 0}}}
