"""The text lab end to end on the shared spine: CSV → tokens → LSTM on packed batches → artifacts → report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from trainlab.artifacts import InputRecord, read_record
from trainlab.config import Recipe, load_recipe
from trainlab.data.specs import TokenSpec
from trainlab.errors import TrainlabError
from trainlab.train.study import plan_study, run_study

FIXTURE_CSV = Path(__file__).parents[1] / "data" / "text" / "fixtures" / "tweets_small.csv"
TINY = ["training.epochs=2", "training.progress_bar=false", "training.batch_size=16", "study.repeats=1",
        "model.options.hidden=16", "model.options.embed_dim=16", "model.options.num_layers=1",
        "data.options.min_freq=1"]


def _quiet(_: str) -> None:
    pass


def _recipe(tmp_path: Path, name: str, *overrides: str, data: Path = FIXTURE_CSV) -> Recipe:
    return load_recipe(name, [f"data.path={data}", f"output.dir={tmp_path / 'runs'}",
                              f"output.cache_dir={tmp_path / 'cache'}", *overrides])


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("text")
    return run_study(_recipe(tmp_path, "airline-lstm", *TINY), notify=_quiet)


def test_text_run_writes_the_artifacts_of_a_token_model(text_run: Path) -> None:
    study = json.loads((text_run / "study.json").read_text())
    assert study["task"] == "classification" and study["data"]["input"]["kind"] == "tokens"
    assert study["data"]["classes"] == ["negative", "neutral", "positive"]
    assert [item["path"] for item in study["data"]["skipped"]] == ["row 6", "row 41"]  # the two empty texts
    figures = [figure["path"] for figure in study["data"]["figures"]]
    assert "plots/class_balance.png" in figures and "plots/token_lengths.png" in figures
    assert all((text_run / path).is_file() for path in figures)
    assert not (text_run / "plots" / "samples.png").exists()  # the image gallery is for images only
    metrics = json.loads((text_run / "base" / "metrics.json").read_text())
    assert (metrics["input_kind"], metrics["model"], metrics["task"]) == ("tokens", "lstm", "classification")
    assert metrics["params"] == metrics["trainable_params"] > 0
    test_count = sum(study["data"]["counts"]["test"].values())
    predictions = pd.read_csv(text_run / "base" / "predictions.csv", keep_default_na=False)
    assert list(predictions.columns)[-1] == "text" and len(predictions) == test_count
    assert predictions["id"].str.fullmatch(r"row \d+").all() and (predictions["text"].str.len() > 0).all()
    assert (predictions["true"] == predictions["predicted"]).mean() == pytest.approx(metrics["test"]["accuracy"])


def test_input_json_holds_the_vocabulary_the_model_was_trained_with(text_run: Path) -> None:
    record = read_record(text_run / "base" / "input.json", InputRecord, "the input of a variant")
    spec = TokenSpec.from_dict(record.input)
    study = json.loads((text_run / "study.json").read_text())
    assert record.classes == ["negative", "neutral", "positive"]
    assert spec.vocab_size == study["data"]["input"]["vocab_size"] and spec.vocab[:2] == ("<pad>", "<unk>")
    assert spec.max_len == study["data"]["profile"]["max_len"]


def test_text_report_shows_the_data_the_baselines_and_misclassified_texts(text_run: Path) -> None:
    html = (text_run / "report.html").read_text()
    markdown = (text_run / "report.md").read_text()
    for text in (html, markdown):
        assert "Misclassified test texts" in text and "Length cap" in text and "Vocabulary" in text
        assert "train samples/s" in text and "Skipped rows" in text and "row 41" in text
        assert "TF-IDF of word 1-2-grams and character 2-5-grams" in text
    assert "Image shape" not in markdown
    baselines = json.loads((text_run / "baselines.json").read_text())
    assert [row["name"] for row in baselines["baselines"]] == ["majority", "logistic"]


def test_a_cnn_on_texts_fails_before_any_folder_naming_the_models_that_fit(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, "airline-lstm", *TINY, "model.name=vgg13", "model.options={}")
    with pytest.raises(TrainlabError, match=r"model.name='vgg13' reads images, but data.source='airline' gives "
                                            r"token sequences.*models for token sequences \(texts\): .*lstm"):
        run_study(recipe, notify=_quiet)
    assert not (tmp_path / "runs").exists()


def test_a_text_model_on_images_fails_naming_the_image_models(tmp_path: Path) -> None:
    recipe = load_recipe("digits-demo", ["model.name=lstm", "model.options={}", "model.width=1.0",
                                         f"output.dir={tmp_path / 'runs'}", f"output.cache_dir={tmp_path / 'c'}"])
    with pytest.raises(TrainlabError, match=r"reads token sequences \(texts\), but data.source='digits' gives "
                                            r"images; models for images: .*vgg13"):
        run_study(recipe, notify=_quiet)


def test_dry_run_plans_a_text_study(tmp_path: Path) -> None:
    plan = plan_study(_recipe(tmp_path, "airline-lstm", *TINY), notify=_quiet)
    lines = "\n".join(plan.lines())
    assert "texts, vocabulary" in lines and plan.variants[0].params > 0 and plan.total_s > 0
    assert not (tmp_path / "runs").exists()


def test_lstm_beats_the_majority_class_on_a_few_hundred_real_tweets(shared_data: Path, tmp_path: Path) -> None:
    csv = shared_data / "twitter_airline_sentiment" / "Tweets.csv"
    recipe = _recipe(tmp_path, "airline-lstm", "training.epochs=4", "training.progress_bar=false", "study.repeats=1",
                     "model.options.hidden=32", "model.options.num_layers=1", "model.options.embed_dim=32",
                     "data.max_per_class=200", "regularization.early_stopping=null", "training.lr=0.005",
                     "study.baselines=[majority]", data=csv)
    run_dir = run_study(recipe, notify=_quiet)
    accuracy = json.loads((run_dir / "base" / "metrics.json").read_text())["test"]["accuracy"]
    majority = json.loads((run_dir / "baselines.json").read_text())["baselines"][0]["test"]["accuracy"]
    assert majority == pytest.approx(1 / 3, abs=0.01)  # 200 per class: the majority class gets a third
    assert accuracy > majority + 0.1


def test_a_technique_whose_model_cannot_be_built_names_its_variant_and_how_to_set_it(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, "text-zoo", "study.repeats=1", "training.progress_bar=false",
                     "study.techniques.glove.model.options.embeddings=missing-glove.txt")
    with pytest.raises(TrainlabError, match=r"^variant '\+glove': embeddings file 'missing-glove.txt' does not exist.*"
                                            r"--set study\.techniques\.glove\.KEY=VALUE"):
        plan_study(recipe, notify=_quiet)
    assert not (tmp_path / "runs").exists()
