"""``trainlab predict``: a trained text variant labels new texts from its folder alone, with the probabilities the
training run gave the same texts, and every mistake is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from trainlab.artifacts import INPUT_FILE
from trainlab.cli import app
from trainlab.config import load_recipe
from trainlab.predict import predict_texts, prediction_recipe
from trainlab.train.study import run_study

FIXTURE_CSV = Path(__file__).parent / "data" / "text" / "fixtures" / "tweets_small.csv"
CLASSES = ["negative", "neutral", "positive"]
TINY = {"training.epochs": 1, "training.progress_bar": False, "model.options.hidden": 8,
        "model.options.num_layers": 1, "study.repeats": 1, "study.baselines": []}


def _train(tmp_path: Path, **overrides: object) -> Path:
    settings = {**TINY, "model.options.embed_dim": 8, **overrides}
    recipe = load_recipe("airline-lstm", {**settings, "output.dir": str(tmp_path / "runs"),
                                          "output.cache_dir": str(tmp_path / "cache"), "data.path": str(FIXTURE_CSV)})
    return run_study(recipe, notify=lambda _: None)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("predict"))


def _invoke(*args: str | Path) -> object:
    return CliRunner().invoke(app, ["predict", *map(str, args)])


def _json(*args: str | Path) -> list[dict[str, object]]:
    result = _invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _error(*args: str | Path) -> str:
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def _test_rows(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "base" / "predictions.csv", keep_default_na=False)


def test_json_gives_the_probabilities_the_run_gave_its_test_texts(run_dir: Path) -> None:
    rows = _test_rows(run_dir).iloc[:3]
    predicted = _json(run_dir / "base", *rows["text"])
    assert [item["text"] for item in predicted] == list(rows["text"])
    for item, (_, row) in zip(predicted, rows.iterrows(), strict=True):
        probabilities = item["probabilities"]
        assert list(probabilities) == CLASSES
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        for name in CLASSES:
            assert probabilities[name] == pytest.approx(row[f"p_{name}"], abs=1e-5)
        assert item["label"] == row["predicted"] == max(probabilities, key=probabilities.get)


def test_the_table_shows_each_texts_label_and_probabilities(run_dir: Path) -> None:
    texts = ["the flight was late again!!", "great crew, thank you @united"]
    expected = _json(run_dir / "base", *texts)
    result = _invoke(run_dir / "base", *texts)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(name in result.stdout for name in CLASSES)  # one probability column per class
    for number, item in enumerate(expected, start=1):
        (line,) = [line for line in lines if line.startswith(f"│ {number} │")]
        assert f"│ {item['label']} " in line
        assert f"{item['probabilities']['positive']:.3f}" in line


def test_a_run_folder_of_one_variant_and_seed_stands_for_it(run_dir: Path) -> None:
    assert _json(run_dir, "delayed again") == _json(run_dir / "base", "delayed again")
    assert predict_texts(run_dir, ["delayed again"])[0].to_dict() == _json(run_dir, "delayed again")[0]


def test_file_texts_follow_the_arguments_blank_lines_skipped(run_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "texts.txt"
    file.write_bytes("\ufeffthanks @united ✈️\r\n\r\n   \nlost my bag\n".encode())
    predicted = _json(run_dir / "base", "first", "--file", file)
    assert [item["text"] for item in predicted] == ["first", "thanks @united ✈️", "lost my bag"]
    assert predicted[1] == _json(run_dir / "base", "thanks @united ✈️")[0]


def test_missing_and_wrong_folders_are_one_line_each(run_dir: Path, tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "nowhere", "x")
    message = _error(run_dir / "base" / "checkpoints", "x")
    assert "is not a variant folder: it has no input.json and no config.yaml" in message
    assert "a variant folder is one that `trainlab run` writes per variant" in message
    half = tmp_path / "half"
    shutil.copytree(run_dir / "base", half)
    (half / "config.yaml").unlink()
    assert "it has no config.yaml;" in _error(half, "x")
    (half / "input.json").unlink()
    (half / "failure.json").write_text("{}")
    assert "is a variant whose training diverged" in _error(half, "x")


def test_a_run_of_several_variants_or_seeds_lists_them(run_dir: Path, tmp_path: Path) -> None:
    several = tmp_path / "several"
    several.mkdir()
    study = {"variants": [{"name": "base", "folder": "base", "runs": [{"seed": 0, "folder": "base"}]},
                          {"name": "+l2", "folder": "plus-l2", "runs": [{"seed": 0, "folder": "plus-l2"}]}]}
    (several / "study.json").write_text(json.dumps(study))
    message = _error(several, "x")
    assert "is a run folder of 2 variant runs" in message
    assert f"{several / 'base'}, {several / 'plus-l2'}" in message
    seeds = tmp_path / "seeds" / "base"
    for seed in ("seed-0", "seed-1"):
        shutil.copytree(run_dir / "base", seeds / seed)
    assert f"holds one run per seed; trainlab predict reads one: pass one of {seeds / 'seed-0'}, {seeds / 'seed-1'}" \
        in _error(seeds, "x")


def test_an_image_run_is_refused(run_dir: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(run_dir / "base", images)
    (images / INPUT_FILE).write_text(json.dumps({"task": "classification", "classes": ["cat", "dog"],
                                                 "input": {"kind": "image", "shape": [3, 32, 32]}}))
    assert "this run classifies images; trainlab predict reads texts" in _error(images, "x")


def test_a_forecasting_run_is_refused_and_pointed_to_its_predictions(run_dir: Path, tmp_path: Path) -> None:
    forecasts = tmp_path / "forecasts"
    shutil.copytree(run_dir / "base", forecasts)
    (forecasts / INPUT_FILE).write_text(json.dumps({"task": "regression", "classes": [], "input": {
        "kind": "window", "window": 8, "horizon": 1, "features": ["value"], "future": []}}))
    message = _error(forecasts, "x")
    assert "this run forecasts time series; trainlab predict reads texts" in message
    assert "predictions.csv" in message


def test_missing_or_damaged_checkpoint_names_the_file(run_dir: Path, tmp_path: Path) -> None:
    variant = tmp_path / "variant"
    shutil.copytree(run_dir / "base", variant)
    checkpoint = variant / "checkpoints" / "best.ckpt"
    checkpoint.write_bytes(b"not a checkpoint")
    assert f"checkpoint {checkpoint} is not readable" in _error(variant, "x")
    checkpoint.unlink()
    assert f"checkpoint {checkpoint} does not exist" in _error(variant, "x")


def test_texts_without_tokens_and_missing_texts_are_named(run_dir: Path, tmp_path: Path) -> None:
    assert "argument 2 ('  ') has no tokens for the 'tweet' tokenizer" in _error(run_dir / "base", "ok", "  ")
    file = tmp_path / "texts.txt"
    file.write_text("fine\n\u200b\n", encoding="utf-8")  # a zero-width space: not blank, but no token either
    assert f"{file} line 2 ('\\u200b') has no tokens" in _error(run_dir / "base", "--file", file)
    assert "no texts to classify: pass them as arguments" in _error(run_dir / "base")
    file.write_bytes(b"fine\ncaf\xe9\n")
    message = _error(run_dir / "base", "--file", file)
    assert f"texts file {file} is not UTF-8 text" in message and "line 2" in message
    assert "--format 'xml': expected table or json" in _error(run_dir / "base", "x", "--format", "xml")


def test_pretrained_vectors_are_not_read_again(tmp_path: Path) -> None:
    """A model built on a GloVe file (at half width) predicts from its checkpoint after the file is gone."""
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{word} {' '.join(str((i + j) % 5 / 10) for j in range(6))}\n"
                               for i, word in enumerate(["flight", "the", "delayed", "thanks", "great"])))
    run = _train(tmp_path, **{"model.options.embeddings": str(vectors), "model.width": 0.5,
                              "model.options.embed_dim": None})
    vectors.unlink()
    row = _test_rows(run).iloc[0]
    (item,) = _json(run / "base", row["text"])
    assert [item["probabilities"][name] for name in CLASSES] == pytest.approx(
        [row[f"p_{name}"] for name in CLASSES], abs=1e-5)


def test_prediction_leaves_out_options_that_write_or_read_other_files(run_dir: Path) -> None:
    recipe = load_recipe(run_dir / "base" / "config.yaml").with_overrides(
        {"model.options": {"cache_dir": "/somewhere", "embeddings": "/gone/glove.txt", "hidden": 8}})
    weights = {"embedding.weight": torch.zeros(5, 7)}
    with prediction_recipe(recipe, weights, Path("best.ckpt")) as built_from:
        options = built_from.model.options
        stand_in = Path(options["embeddings"])
        assert set(options) == {"embeddings", "hidden"} and options["hidden"] == 8
        assert stand_in.read_text().split()[1:] == ["0"] * 7
    assert not stand_in.exists()


def test_without_early_stopping_predict_uses_the_weights_the_test_was_scored_with(tmp_path: Path) -> None:
    """No early stopping: the test is scored on the last epoch's weights; when the best validation epoch was an
    earlier one, those last weights are kept as final.ckpt and predict reads them, so it agrees with the CSV."""
    run = _train(tmp_path, **{"training.epochs": 4, "training.lr": 0.05, "regularization.early_stopping": None})
    metrics = json.loads((run / "base" / "metrics.json").read_text())
    final = run / "base" / "checkpoints" / "final.ckpt"
    assert final.is_file() == (metrics["best_epoch"] != metrics["epochs_run"])
    rows = _test_rows(run).iloc[:4]
    for item, (_, row) in zip(_json(run / "base", *rows["text"]), rows.iterrows(), strict=True):
        assert [item["probabilities"][name] for name in CLASSES] == pytest.approx(
            [row[f"p_{name}"] for name in CLASSES], abs=1e-5)
